// The store soak (issue 19), shared by `make soak-store` (test/soak/store.soak.ts: 10,000 phones, ten
// minutes, a 32 MiB file system) and its short variant in `make test` (test/e2e/store-soak.test.ts). The
// real service runs with its data_dir on a tmpfs of its own (mount needs root); SIPp registers every
// phone, then re-registers them with a new Call-ID each time (a change: committed with its history row)
// at a rate whose history fills the file system several times over. Figures: SIPp's calls and response
// times, the service's counters and store figures (`sipreg stats --json`), the file system's free space
// sampled every 100 ms, and every binding at the end (`sipreg list --json`).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freeUdpPort, repoRoot, sipregCommand, spawnSipreg, tmpDir, waitForLine } from '../helpers/sipreg.js';

export interface SoakOptions {
  readonly phones: number;
  readonly fileSystemMiB: number;
  readonly seconds: number;
  readonly ratePerS: number;
  /** Bytes of the Contact parameter each history row's detail repeats (0: a plain Contact, ~170 B rows). */
  readonly padBytes: number;
  readonly progress: (line: string) => void;
}

export interface SoakFigures {
  readonly calls: number;
  readonly successful: number;
  readonly failed: number;
  /** SIPp's count of responses it did not expect (a 500 or a 503 instead of the 200). */
  readonly unexpected: number;
  readonly counters: Record<string, number>;
  readonly phones: number;
  readonly bound: number;
  readonly missing: readonly string[];
  readonly store: StoreJson;
  readonly fileSystemBytes: number;
  readonly fileSystemMinFreeBytes: number;
  /** Largest history bytes and file size seen by the stats polls. */
  readonly historyBytesMax: number;
  readonly fileBytesMax: number;
  readonly storeFullSeen: boolean;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly p99DuringPruneMs: number;
  readonly responsesDuringPrune: number;
  readonly pruneStartedAfterS: number | null;
  readonly serviceRssMaxBytes: number;
  /** RSS at the end by kind: anonymous, file-backed, shared memory (the store's pages on a tmpfs count here). */
  readonly serviceRssParts: { anon: number; file: number; shmem: number };
  readonly wallS: number;
}

export interface StoreJson {
  file_bytes: number; used_bytes: number; free_bytes: number; used_pages: number; free_pages: number; page_size: number;
  history_rows: number; history_bytes: number; budget_bytes: number; reserve_bytes: number;
  file_system_bytes: number; file_system_free_bytes: number; full: boolean; history_rows_not_written: number | null;
  prune: { batches: number; rows: number; bytes: number; batch_ms_last: number; batch_ms_max: number; batch_ms_avg: number | null } | null;
  service_memory: { rss_bytes: number; heap_used_bytes: number; heap_total_bytes: number; external_bytes: number } | null;
}

const sippDir = join(repoRoot, 'test', 'fixtures', 'sipp');

function numberOf(i: number): string { return String(300_000 + i); }

function cli(configFile: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const { file, prefix } = sipregCommand();
  const child = spawn(file, [...prefix, ...args, '-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  return new Promise((resolve) => child.on('exit', (status) => resolve({ status, stdout, stderr })));
}

async function stats(configFile: string): Promise<{ store: StoreJson; counters: Record<string, number> } | null> {
  const r = await cli(configFile, ['stats', '--json']);
  if (r.status !== 0) return null;
  return JSON.parse(r.stdout) as { store: StoreJson; counters: Record<string, number> };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** RSS by kind (/proc/PID/status): anonymous (heap, buffers), file-backed (the executable), shared memory (a mapped tmpfs file). */
function rssParts(pid: number): { anon: number; file: number; shmem: number } {
  const text = (() => { try { return readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { return ''; } })();
  const kib = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0) * 1024;
  return { anon: kib('RssAnon'), file: kib('RssFile'), shmem: kib('RssShmem') };
}

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

function runSipp(args: string[], cwd: string): Promise<number | null> {
  const child = spawn('sipp', args, { cwd, stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

/** SIPp's last statistics line (-trace_stat): the named columns. */
function sippStats(dir: string): Record<string, number> {
  const file = readdirSync(dir).find((f) => f.endsWith('.csv') && !f.includes('_rtt'));
  if (file === undefined) return {};
  const lines = readFileSync(join(dir, file), 'utf8').trim().split('\n');
  const header = lines[0]!.split(';');
  const last = lines.at(-1)!.split(';');
  const out: Record<string, number> = {};
  header.forEach((h, i) => { out[h] = Number(last[i]); });
  return out;
}

/** SIPp's response times (-trace_rtt; its Date_ms counts from SIPp's start): [epoch ms of the answer, ms]. */
function sippRtts(dir: string, sippStartedMs: number): [number, number][] {
  const file = readdirSync(dir).find((f) => f.includes('_rtt.csv'));
  if (file === undefined) return [];
  const out: [number, number][] = [];
  for (const line of readFileSync(join(dir, file), 'utf8').split('\n').slice(1)) {
    const [at, ms] = line.split(';');
    const atMs = sippStartedMs + Number(at);
    const v = Number(ms);
    if (line !== '' && Number.isFinite(v) && Number.isFinite(atMs)) out.push([atMs, v]);
  }
  return out;
}

export async function runStoreSoak(o: SoakOptions): Promise<SoakFigures> {
  const dir = tmpDir('sipreg-soak-');
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${o.fileSystemMiB}m`, 'tmpfs', mnt]);
  let service: ChildProcess | null = null;
  let fsTimer: NodeJS.Timeout | undefined;
  let polling = false;
  try {
    const port = await freeUdpPort();
    const configFile = join(dir, 'sipreg.yaml');
    const lines = [
      'sip:', `  listen: ["127.0.0.1:${port}"]`, `data_dir: ${join(mnt, 'data')}`, 'log_level: info', 'params:',
      '  SS_REGISTER_RATE_PER_IP: 0', '  SS_REGISTER_SCANNER_NUMBERS: 0', '  SS_ENDPOINT_REGISTER_RETRY: 0',
      // The service's record (stats, prune figures) is written with each flush: every 5 s, for the polls.
      '  SS_STORE_FLUSH_INTERVAL: 5', 'accounts:',
    ];
    const users = ['SEQUENTIAL'];
    for (let i = 0; i < o.phones; i++) {
      lines.push(`  - { number: "${numberOf(i)}", password: "pw${i}" }`);
      users.push(`${numberOf(i)};pw${i}`);
    }
    writeFileSync(configFile, lines.join('\n') + '\n');
    writeFileSync(join(dir, 'users.csv'), users.join('\n') + '\n');
    service = spawnSipreg(['run', '-c', configFile]);
    const serviceLog: string[] = [];
    service.stdout!.on('data', (b: Buffer) => { serviceLog.push(b.toString()); if (serviceLog.length > 2000) serviceLog.splice(0, 1000); });
    await waitForLine(service, (line) => line.includes('"sipreg started"'), 60_000);
    const pid = service.pid!;
    const pad = 'p'.repeat(Math.max(1, o.padBytes));
    const sippArgs = (calls: number, rate: number, runDir: string, timeoutS: number): string[] => [
      `127.0.0.1:${port}`, '-sf', join(sippDir, 'load-auth-history.xml'), '-inf', join(dir, 'users.csv'),
      '-au', '[field0]', '-ap', '[field1]', '-key', 'pad', pad, '-i', '127.0.0.1', '-p', '0',
      '-r', String(rate), '-m', String(calls), '-l', String(Math.max(1000, rate * 4)), '-nostdin', '-timeout', String(timeoutS),
      '-max_recv_loops', '10000', '-max_sched_loops', '10000', '-buff_size', String(4 * 1024 * 1024),
      '-trace_rtt', '-rtt_freq', '1', '-trace_stat', '-fd', '1', '-trace_err', '-error_file', join(runDir, 'errors.log'),
    ];
    // Every phone once.
    const firstDir = join(dir, 'first');
    mkdirSync(firstDir);
    await runSipp(sippArgs(o.phones, Math.min(1000, o.ratePerS), firstDir, 120), firstDir);
    const first = sippStats(firstDir);
    o.progress(`first registrations: ${first['SuccessfulCall(C)']} of ${o.phones} ok, ${first['FailedCall(C)']} failed`);

    // The soak: re-registrations with new Call-IDs, while the file system and the store are watched.
    const runDir = join(dir, 'run');
    mkdirSync(runDir);
    const calls = o.ratePerS * o.seconds;
    const startedMs = Date.now();
    let minFree = Number.POSITIVE_INFINITY;
    let rssMax = 0;
    fsTimer = setInterval(() => {
      const s = statfsSync(mnt);
      minFree = Math.min(minFree, s.bavail * s.bsize);
      rssMax = Math.max(rssMax, rssBytes(pid));
    }, 100);
    polling = true;
    let historyBytesMax = 0;
    let fileBytesMax = 0;
    let fullSeen = false;
    let pruneStartedMs: number | null = null;
    let baseBatches: number | null = null;
    const poll = (async () => {
      while (polling) {
        const s = await stats(configFile);
        if (s !== null) {
          historyBytesMax = Math.max(historyBytesMax, s.store.history_bytes);
          fileBytesMax = Math.max(fileBytesMax, s.store.file_bytes);
          fullSeen ||= s.store.full;
          const batches = s.store.prune?.batches ?? 0;
          baseBatches ??= batches;
          if (pruneStartedMs === null && batches > baseBatches) pruneStartedMs = Date.now() - 5_000; // the record is up to one flush old
          o.progress(`${Math.round((Date.now() - startedMs) / 1000)} s: history ${s.store.history_rows} rows ${(s.store.history_bytes / 1048576).toFixed(1)} MiB, ` +
            `file ${(s.store.file_bytes / 1048576).toFixed(1)} MiB, file system free ${(s.store.file_system_free_bytes / 1048576).toFixed(1)} MiB, ` +
            `pruned ${s.store.prune?.rows ?? 0} rows in ${batches} transactions, RSS ${(rssBytes(pid) / 1048576).toFixed(0)} MiB`);
        }
        await new Promise((r) => setTimeout(r, 10_000));
      }
    })();
    await runSipp(sippArgs(calls, o.ratePerS, runDir, o.seconds + 120), runDir);
    const wallS = (Date.now() - startedMs) / 1000;
    polling = false;
    await poll;
    await new Promise((r) => setTimeout(r, 6_000)); // one flush: the record holds the last prune figures
    clearInterval(fsTimer);
    const run = sippStats(runDir);
    const parts = rssParts(pid);
    const final = await stats(configFile);
    if (final === null) throw new Error(`stats failed; service log: ${serviceLog.join('').slice(-2000)}`);
    const list = await cli(configFile, ['list', '--json']);
    const bound = new Set((JSON.parse(list.stdout) as { number: string; status: string }[]).filter((b) => b.status !== 'expired').map((b) => b.number));
    const missing: string[] = [];
    for (let i = 0; i < o.phones; i++) if (!bound.has(numberOf(i))) missing.push(numberOf(i));
    const rtts = sippRtts(runDir, startedMs);
    const all = rtts.map(([, v]) => v).sort((a, b) => a - b);
    const during = (pruneStartedMs === null ? [] : rtts.filter(([at]) => at >= pruneStartedMs!)).map(([, v]) => v).sort((a, b) => a - b);
    return {
      calls, successful: run['SuccessfulCall(C)'] ?? 0, failed: run['FailedCall(C)'] ?? 0, unexpected: run['FailedUnexpectedMessage(C)'] ?? 0,
      counters: final.counters, phones: o.phones, bound: bound.size, missing, store: final.store,
      fileSystemBytes: final.store.file_system_bytes, fileSystemMinFreeBytes: minFree,
      historyBytesMax: Math.max(historyBytesMax, final.store.history_bytes), fileBytesMax: Math.max(fileBytesMax, final.store.file_bytes),
      storeFullSeen: fullSeen || final.store.full,
      p50Ms: percentile(all, 50), p99Ms: percentile(all, 99), maxMs: all.at(-1) ?? NaN,
      p99DuringPruneMs: percentile(during, 99), responsesDuringPrune: during.length,
      pruneStartedAfterS: pruneStartedMs === null ? null : Math.max(0, Math.round((pruneStartedMs - startedMs) / 1000)),
      serviceRssMaxBytes: rssMax, serviceRssParts: parts, wallS,
    };
  } finally {
    polling = false;
    clearInterval(fsTimer);
    const svc = service as ChildProcess | null;
    if (svc !== null && svc.exitCode === null && svc.signalCode === null) {
      const exited = new Promise((r) => svc.once('exit', r));
      svc.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise((r) => { timer = setTimeout(() => r(false), 40_000); });
      const stopped = await Promise.race([exited.then(() => true), late]);
      clearTimeout(timer);
      if (stopped !== true) {
        svc.kill('SIGKILL');
        await exited;
      }
    }
    try { execFileSync('umount', ['-l', mnt]); } catch { /* already gone */ }
  }
}

/** The figures as lines for the report. */
export function soakReport(o: SoakOptions, f: SoakFigures): string[] {
  const mib = (b: number): string => `${(b / 1048576).toFixed(1)} MiB`;
  const s = f.store;
  return [
    `store soak: ${o.phones} phones, ${o.ratePerS} re-registrations/s (new Call-ID: one history row each) for ${o.seconds} s, data_dir on a ${o.fileSystemMiB} MiB tmpfs`,
    `  SIPp: ${f.successful} of ${f.calls} calls ok, ${f.failed} failed (${f.unexpected} unexpected responses); wall ${f.wallS.toFixed(0)} s`,
    `  service: ${f.counters['registers_accepted']} accepted, ${f.counters['registers_rejected']} rejected (500 and other non-2xx), ` +
      `${f.counters['overload_answered']} 503, ${f.counters['store_write_failures']} store write failures`,
    `  bindings: ${f.bound} of ${f.phones} bound at the end (${f.missing.length} missing)`,
    `  history: ${s.history_rows} rows kept in ${mib(s.history_bytes)} (largest seen ${mib(f.historyBytesMax)}); budget ${mib(s.budget_bytes)}, reserve ${mib(s.reserve_bytes)}`,
    `  store file: ${mib(s.file_bytes)} (largest seen ${mib(f.fileBytesMax)}), ${s.used_pages} pages used, ${s.free_pages} free`,
    `  file system: ${mib(f.fileSystemBytes)}, least free ${mib(f.fileSystemMinFreeBytes)}; store full alert ${f.storeFullSeen ? 'raised' : 'never raised'}`,
    `  prune: ${s.prune?.rows ?? 0} rows in ${s.prune?.batches ?? 0} transactions, ${s.prune?.batch_ms_avg ?? '-'} ms each on average on the event loop, largest ${s.prune?.batch_ms_max ?? '-'} ms` +
      `; pruning from ${f.pruneStartedAfterS === null ? '-' : `${f.pruneStartedAfterS} s`}`,
    `  REGISTER (401 round trip + 200, SIPp): p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms, max ${f.maxMs} ms; p99 while pruning ${f.p99DuringPruneMs} ms over ${f.responsesDuringPrune} registrations`,
    `  service memory: RSS at most ${mib(f.serviceRssMaxBytes)}; at the end ${mib(f.serviceRssParts.anon)} anonymous + ${mib(f.serviceRssParts.file)} file-backed + ` +
      `${mib(f.serviceRssParts.shmem)} shared (the mapped store, on tmpfs); V8 heap ${mib(s.service_memory?.heap_used_bytes ?? 0)} used of ${mib(s.service_memory?.heap_total_bytes ?? 0)}`,
  ];
}
