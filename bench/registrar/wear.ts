// Storage wear per registration (issue 14 "Wear benchmark"), read from outside the service in its
// /proc/<pid>/io: write_bytes (what it caused to be sent to the storage layer: page-cache pages it dirtied,
// counted again each time a page is dirtied after being written back) and syscw (write system calls).
// Journal blocks the file system adds are not in it, so the device sees somewhat more.
//   first    new bindings: SIPp load-auth.xml (REGISTER, 401, REGISTER with digest) over numbers never
//            registered, `--seconds` at each rate; bytes per successful registration
//   refresh  the steady state: phones (rate x period of them) register once, spread over one period, then
//            refresh every `--period` s as real phones do (steady-refresh.xml: same Call-ID, Contact and
//            source, CSeq + 1, the next nonce-count), so each binding is refreshed once a period at the given
//            total rate. Measured over one period after the last first registration: only refreshes.
//            The period (default 60 s) must not be shorter than a write-back interval, or several refreshes
//            of one binding would share one write and the figure would flatter the service.
//   idle     after the first (smallest) refresh step, the same service with its bindings and no traffic:
//            the background writes alone (the heartbeat every 5 s, samples every minute), bytes a second.
// Then "GB per day for N phones refreshing every E s", on a line through two measured points: the idle
// bytes a second at no refreshes, and the bytes a second at the measured rate nearest N/E (whose window
// includes the background writes too): B(r) = idle + (B(nearest) - idle) x r / nearest, x 86,400.
// Each measurement gets a fresh service and store.
//   node bench/registrar/wear.ts [--rates 10,100,1000] [--period 60] [--seconds 20] [--idle 60]
//     [--projections 100:300,1000:300,10000:300,1000:60,1000:3600] [--kinds first,refresh]
// (--kinds first: only the first registrations, no projection.)
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { arg, firstAnswer, freePort, startSipreg, tempDir, writeBenchConfig, writeResult } from './common.js';
import { countAt, lastResponseColumn, removeSipp, sippCalls, sippCounts, sippScenario, startSipp, writeUsers } from './sipp.js';

const rates = arg('rates', '10,100,1000').split(',').map(Number);
const periodS = Number(arg('period', '60'));
const seconds = Number(arg('seconds', '20'));
const idleS = Number(arg('idle', '60'));
const kinds = arg('kinds', 'first,refresh').split(',');
const projections = arg('projections', '100:300,1000:300,10000:300,1000:60,1000:3600').split(',')
  .map((p) => { const [n, e] = p.split(':').map(Number); return { phones: n!, everyS: e! }; });

interface Io { writeBytes: number; syscw: number; cancelledWriteBytes: number }
function io(pid: number): Io {
  const f = new Map(readFileSync(`/proc/${pid}/io`, 'utf8').trim().split('\n').map((l) => { const [k, v] = l.split(':'); return [k!, Number(v)]; }));
  return { writeBytes: f.get('write_bytes')!, syscw: f.get('syscw')!, cancelledWriteBytes: f.get('cancelled_write_bytes')! };
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Service { child: ChildProcess; port: number; dir: string; fs: string }
async function service(accounts: number): Promise<Service> {
  const dir = tempDir('sipreg-wear-');
  const port = await freePort();
  const child = startSipreg(writeBenchConfig(dir, port, accounts));
  await firstAnswer(port, Date.now(), 120_000);
  // tmpfs pages are never written back, so write_bytes would read 0 there.
  const fs = execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
  if (fs === 'tmpfs' || fs === 'ramfs') throw new Error(`${dir} is on ${fs}: write_bytes cannot be measured there (set TMPDIR)`);
  return { child, port, dir, fs };
}
async function stop(s: Service): Promise<void> {
  s.child.kill('SIGTERM');
  await new Promise<void>((r) => s.child.on('exit', () => r()));
  rmSync(s.dir, { recursive: true, force: true });   // the store: tens of MB at 60,000 bindings
}

interface Figure { kind: 'first' | 'refresh'; rate: number; registrations: number; failed: number; windowS: number;
  achievedPerS: number; writeBytes: number; syscw: number; bytesPerRegistration: number; writeCallsPerRegistration: number; fs: string }

async function first(rate: number): Promise<Figure> {
  const count = Math.max(20, rate * seconds);
  const s = await service(count);
  const users = writeUsers(s.dir, count);
  const before = io(s.child.pid!);
  const t0 = Date.now();
  const run = startSipp({ port: s.port, scenario: sippScenario.firstRegistration, users, rate, calls: count, concurrent: Math.max(100, rate * 4), timeoutS: seconds + 60 });
  await run.exited;
  await sleep(1000);   // the last commits settle
  const after = io(s.child.pid!);
  const windowS = (Date.now() - t0) / 1000;
  await stop(s);
  const { successful, failed } = sippCalls(run.dir);
  removeSipp(run);
  return figure('first', rate, successful, failed, windowS, before, after, s.fs);
}

/** Refreshes at `rate`; with `idle`, then the background writes of the same service (its bindings stored). */
async function refresh(rate: number, idle: boolean): Promise<Figure & { idleBytesPerS?: number; idleSyscwPerS?: number }> {
  const phones = Math.max(1, Math.round(rate * periodS));
  const s = await service(phones);
  const users = writeUsers(s.dir, phones);
  // Registrations spread over one period, so the refreshes that follow come at `rate` all along.
  const run = startSipp({ port: s.port, scenario: sippScenario.steadyRefresh, users, rate, calls: phones, concurrent: phones + 10,
    timeoutS: periodS * 4 + 60, extra: ['-d', String(periodS * 1000), '-set', 'refreshes', '1000'] });
  await sleep(periodS * 1000 + 3000);   // every phone registered; from here on only refreshes
  const startMs = Date.now();
  const before = io(s.child.pid!);
  await sleep(periodS * 1000);
  const after = io(s.child.pid!);
  const endMs = Date.now();
  await sleep(1500);                    // a counts row past the window
  run.child.kill('SIGKILL');
  await run.exited;
  const rows = sippCounts(run.dir);
  const col = lastResponseColumn(rows, 200);
  const done = Math.round(countAt(rows, col, endMs) - countAt(rows, col, startMs));
  const { failed } = sippCalls(run.dir);
  removeSipp(run);
  const figureOut = figure('refresh', rate, done, failed, (endMs - startMs) / 1000, before, after, s.fs);
  if (!idle) { await stop(s); return figureOut; }
  const idleBefore = io(s.child.pid!);
  await sleep(idleS * 1000);
  const idleAfter = io(s.child.pid!);
  await stop(s);
  return {
    ...figureOut,
    idleBytesPerS: Math.round((idleAfter.writeBytes - idleBefore.writeBytes) / idleS),
    idleSyscwPerS: Math.round(((idleAfter.syscw - idleBefore.syscw) / idleS) * 10) / 10,
  };
}

function figure(kind: Figure['kind'], rate: number, registrations: number, failed: number, windowS: number, before: Io, after: Io, fs: string): Figure {
  const writeBytes = after.writeBytes - before.writeBytes;
  const syscw = after.syscw - before.syscw;
  return {
    kind, rate, registrations, failed, windowS: Math.round(windowS * 10) / 10, achievedPerS: Math.round((registrations / windowS) * 10) / 10,
    writeBytes, syscw, bytesPerRegistration: registrations === 0 ? NaN : Math.round(writeBytes / registrations),
    writeCallsPerRegistration: registrations === 0 ? NaN : Math.round((syscw / registrations) * 10) / 10, fs,
  };
}

async function main(): Promise<void> {
  const firsts: Figure[] = [];
  for (const r of kinds.includes('first') ? rates : []) {
    const f = await first(r);
    firsts.push(f);
    process.stderr.write(`first registrations at ${r}/s: ${f.registrations} ok, ${f.failed} failed, ${f.bytesPerRegistration} B and ${f.writeCallsPerRegistration} write calls each\n`);
  }
  const refreshes: Awaited<ReturnType<typeof refresh>>[] = [];
  for (const r of kinds.includes('refresh') ? rates : []) {
    const f = await refresh(r, r === rates[0]);
    refreshes.push(f);
    process.stderr.write(`refreshes at ${r}/s (${Math.round(r * periodS)} phones every ${periodS} s): ${f.registrations} in ${f.windowS} s, ${f.failed} calls failed, ` +
      `${f.bytesPerRegistration} B and ${f.writeCallsPerRegistration} write calls each${f.idleBytesPerS === undefined ? '' : `; then idle ${f.idleBytesPerS} B/s`}\n`);
  }
  const idleBytesPerS = refreshes[0]?.idleBytesPerS ?? 0;
  const projected = refreshes.length === 0 ? [] : projections.map(({ phones, everyS }) => {
    const perS = phones / everyS;
    const nearest = refreshes.reduce((a, b) => (Math.abs(Math.log(b.rate / perS)) < Math.abs(Math.log(a.rate / perS)) ? b : a));
    const measuredPerS = nearest.bytesPerRegistration * nearest.rate;
    const bytesPerDay = (idleBytesPerS + Math.max(0, measuredPerS - idleBytesPerS) * (perS / nearest.rate)) * 86_400;
    return { phones, everyS, refreshesPerS: Math.round(perS * 100) / 100, fromRate: nearest.rate, gbPerDay: Math.round(bytesPerDay / 1e7) / 100, tbPerYear: Math.round((bytesPerDay * 365) / 1e10) / 100 };
  });

  const kib = (b: number): string => (b / 1024).toFixed(b < 10_240 ? 2 : 1);
  let table = '\nwhat                         rate/s  registrations  KiB written each  write calls each\n';
  for (const f of [...firsts, ...refreshes]) {
    table += `${(f.kind === 'first' ? 'first registration' : `refresh (every ${periodS} s)`).padEnd(28)} ${String(f.rate).padStart(6)}  ${String(f.registrations).padStart(13)}  ` +
      `${kib(f.bytesPerRegistration).padStart(16)}  ${String(f.writeCallsPerRegistration).padStart(16)}\n`;
  }
  table += `idle (${Math.round(rates[0]! * periodS)} bindings stored, no traffic): ${idleBytesPerS} B/s\n\nphones  refresh every  GB/day  TB/year  (per-refresh figure of)\n`;
  for (const p of projected) table += `${String(p.phones).padStart(6)}  ${`${p.everyS} s`.padStart(13)}  ${String(p.gbPerDay).padStart(6)}  ${String(p.tbPerYear).padStart(7)}  ${p.fromRate}/s\n`;
  process.stderr.write(table);

  writeResult('registrar-wear', {
    command: `node bench/registrar/wear.ts --rates ${rates.join(',')} --period ${periodS} --seconds ${seconds} --idle ${idleS} --kinds ${kinds.join(',')}`,
    measure: '/proc/<pid>/io of the service: write_bytes and syscw deltas over the window, per successful registration (first) or per refresh answered 200 (refresh)',
    scenarios: { first: 'test/fixtures/sipp/load-auth.xml', refresh: 'bench/registrar/steady-refresh.xml (nonce reused with the next nc)' },
    periodS, idleBytesPerS, first: firsts, refresh: refreshes, projection: projected,
  });
}

await main();
