// How the registrar benches drive SIPp and read what it leaves: the stat file (calls that succeeded and
// failed), the response-time file, and the per-message counts file (cumulative, one row a second, with
// the wall-clock time), from which a window's count of one message or of failed calls is read.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { numberOf, repoRoot, tempDir } from './common.js';

export const sippScenario = {
  /** REGISTER, 401, REGISTER with digest, 200: one first registration per call. */
  firstRegistration: join(repoRoot, 'test', 'fixtures', 'sipp', 'load-auth.xml'),
  /** A phone's life: first registration, then `refreshes` refreshes every `pauseMs` with the next nonce-count. */
  steadyRefresh: join(repoRoot, 'bench', 'registrar', 'steady-refresh.xml'),
} as const;

/** users.csv for -inf: numbers numberOf(from..from+count) with password pw<i>, in order. */
export function writeUsers(dir: string, count: number, from = 0): string {
  const lines = ['SEQUENTIAL'];
  for (let i = from; i < from + count; i++) lines.push(`${numberOf(i)};pw${i}`);
  const file = join(dir, `users-${from}-${count}.csv`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

export interface SippRun {
  child: ChildProcess;
  dir: string;
  startedMs: number;
  exited: Promise<void>;
}

export interface SippOptions {
  port: number;
  scenario: string;
  users: string;
  rate: number;           // new calls per second
  calls: number;          // -m
  concurrent: number;     // -l
  timeoutS: number;
  extra?: string[];       // more SIPp arguments (-d, -set ...)
}

/** Starts SIPp against 127.0.0.1:port in a fresh directory (its files land there). */
export function startSipp(o: SippOptions): SippRun {
  const dir = tempDir('sipreg-bench-sipp-');
  const child = spawn('sipp', [`127.0.0.1:${o.port}`, '-sf', o.scenario, '-inf', o.users, '-au', '[field0]', '-ap', '[field1]',
    '-i', '127.0.0.1', '-p', '0', '-r', String(o.rate), '-m', String(o.calls), '-l', String(o.concurrent), '-nostdin',
    '-timeout', String(o.timeoutS), '-max_recv_loops', '10000', '-max_sched_loops', '10000',
    // SIPp stands in for thousands of phones with one socket; at its default 64 KiB receive buffer the kernel
    // drops answers that arrive together (one group commit answers hundreds at once), which phones behind
    // their own sockets would not see. 4 MiB, as the service's own socket asks (net.core.rmem_max).
    '-buff_size', String(4 * 1024 * 1024),
    '-trace_rtt', '-rtt_freq', '1000', '-trace_stat', '-trace_counts', '-fd', '1', ...(o.extra ?? [])], { cwd: dir, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { child, dir, startedMs: Date.now(), exited };
}

/** Removes a finished run's directory, once its files are read. */
export function removeSipp(run: SippRun): void {
  rmSync(run.dir, { recursive: true, force: true });
}

function fileEnding(dir: string, test: (name: string) => boolean): string | undefined {
  return readdirSync(dir).find(test);
}

/** Successful and failed calls from the last row of the stat file. */
export function sippCalls(dir: string): { successful: number; failed: number } {
  const f = fileEnding(dir, (n) => n.endsWith('_.csv'));
  if (f === undefined) return { successful: 0, failed: 0 };
  const lines = readFileSync(join(dir, f), 'utf8').trim().split('\n');
  const header = lines[0]!.split(';');
  const last = lines.at(-1)!.split(';');
  return { successful: Number(last[header.indexOf('SuccessfulCall(C)')]), failed: Number(last[header.indexOf('FailedCall(C)')]) };
}

/** Response times (ms) of the named rtd, sorted; every one when `rtd` is undefined. */
export function sippRtts(dir: string, rtd?: string): number[] {
  const f = fileEnding(dir, (n) => n.includes('_rtt.csv'));
  const out: number[] = [];
  if (f === undefined) return out;
  for (const line of readFileSync(join(dir, f), 'utf8').split('\n').slice(1)) {
    const [, ms, name] = line.split(';');
    const v = Number(ms);
    if (line !== '' && Number.isFinite(v) && (rtd === undefined || name?.trim() === rtd)) out.push(v);
  }
  return out.sort((a, b) => a - b);
}

type Series = { atMs: number; counts: Map<string, number> }[];

/** A periodic SIPp file (-fd 1): per row the wall-clock ms of its CurrentTime cell and every column's number. */
function series(dir: string, suffix: string): Series {
  const f = fileEnding(dir, (n) => n.endsWith(suffix));
  if (f === undefined) return [];
  const lines = readFileSync(join(dir, f), 'utf8').trim().split('\n');
  const header = lines[0]!.split(';');
  const time = header.indexOf('CurrentTime');
  return lines.slice(1).map((line) => {
    const cells = line.split(';');
    const epoch = Number(cells[time]!.split('\t').at(-1));   // "date\ttime\tepoch.micro"
    return { atMs: epoch * 1000, counts: new Map(header.map((h, i) => [h, Number(cells[i])])) };
  });
}

/** The counts file (-trace_counts): cumulative sent/received/retransmitted/timed out per scenario message. */
export function sippCounts(dir: string): Series { return series(dir, '_counts.csv'); }

/** The stat file (-trace_stat): cumulative calls, e.g. SuccessfulCall(C) and FailedCall(C). */
export function sippStats(dir: string): Series { return series(dir, '_.csv'); }

/** The column counting the last response `status` of the scenario (e.g. "8_200_Recv": the refreshes' 200s). */
export function lastResponseColumn(rows: Series, status: number): string {
  const cols = [...(rows[0]?.counts.keys() ?? [])].filter((c) => new RegExp(`^\\d+_${status}_Recv$`).test(c));
  const last = cols.sort((a, b) => Number(a.split('_')[0]) - Number(b.split('_')[0])).at(-1);
  if (last === undefined) throw new Error(`no ${status} column in SIPp's counts`);
  return last;
}

/** A cumulative count at `atMs`, interpolated between the rows around it. */
export function countAt(rows: Series, column: string, atMs: number): number {
  let before = rows[0];
  for (const r of rows) {
    if (r.atMs <= atMs) { before = r; continue; }
    if (before === undefined) return r.counts.get(column)!;
    const b = before.counts.get(column)!;
    const share = (atMs - before.atMs) / (r.atMs - before.atMs);
    return b + (r.counts.get(column)! - b) * share;
  }
  return before?.counts.get(column) ?? 0;
}
