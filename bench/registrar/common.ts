// Shared by the registrar benchmarks: how to run sipreg (dist/sipreg when built, else one esbuild
// bundle of src/main.ts), temp configs with many accounts, /proc readings, percentiles, results files.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import dgram from 'node:dgram';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const resultsDir = join(repoRoot, 'bench', 'results');

let bundle: string | null = null;
export function sipregCommand(): string[] {
  // SIPREG_BENCH_SERVICE=file.mjs: a given bundle (to compare builds); else dist/sipreg; else a fresh bundle.
  const given = process.env['SIPREG_BENCH_SERVICE'];
  if (given !== undefined && given !== '') return /\.[cm]?js$/.test(given) ? [process.execPath, given] : [given];
  const binary = join(repoRoot, 'dist', 'sipreg');
  if (process.env['SIPREG_BENCH_FROM_SOURCE'] !== '1' && existsSync(binary)) return [binary];
  bundle ??= bundleOnce(join(repoRoot, 'src', 'main.ts'), 'sipreg.mjs');
  return [process.execPath, bundle];
}

/** Bundles a TypeScript entry with esbuild into .tap/bench-bundle/<name> (packages stay external). */
export function bundleOnce(entry: string, name: string): string {
  const out = join(repoRoot, '.tap', 'bench-bundle', name);
  mkdirSync(join(repoRoot, '.tap', 'bench-bundle'), { recursive: true });
  const r = spawnSync(join(repoRoot, 'node_modules', '.bin', 'esbuild'), [entry, '--bundle', '--platform=node',
    '--format=esm', `--outfile=${out}`, '--packages=external', '--log-level=warning'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`esbuild: ${r.stderr}`);
  return out;
}

/** `--name value` from the command line, else `fallback`. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function numberOf(i: number): string { return String(200_000 + i); }

/** A config with `count` password accounts (numbers 200000..), rate limits off for a benchmark. */
export function writeBenchConfig(dir: string, port: number, count: number, extraParams = ''): string {
  const lines = [
    'sip:', `  listen: ["127.0.0.1:${port}"]`, `data_dir: ${join(dir, 'data')}`, 'log_level: warn', 'params:',
    '  SS_REGISTER_RATE_PER_IP: 0', '  SS_REGISTER_SCANNER_NUMBERS: 0', '  SS_ENDPOINT_REGISTER_RETRY: 0', extraParams, 'accounts:',
  ];
  for (let i = 0; i < count; i++) lines.push(`  - { number: "${numberOf(i)}", password: "pw${i}" }`);
  const file = join(dir, 'sipreg.yaml');
  writeFileSync(file, lines.filter((l) => l !== '').join('\n') + '\n');
  return file;
}

export async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function startSipreg(configFile: string): ChildProcess {
  const [file, ...args] = sipregCommand();
  return spawn(file!, [...args, 'run', '-c', configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Resolves when an OPTIONS to the port gets any answer; returns ms since `since`. */
export async function firstAnswer(port: number, since: number, timeoutMs = 30_000): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const me = s.address().port;
  try {
    return await new Promise<number>((resolve, reject) => {
      const msg = Buffer.from(`OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bKprobe${me};rport\r\n` +
        `From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: probe${me}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`);
      const timer = setInterval(() => {
        if (Date.now() - since > timeoutMs) { clearInterval(timer); reject(new Error('no answer')); return; }
        s.send(msg, port, '127.0.0.1');
      }, 5);
      s.on('message', () => { clearInterval(timer); resolve(Date.now() - since); });
    });
  } finally {
    s.close();
  }
}

/** utime+stime of a process in seconds, and its RSS in KiB. */
export function procStat(pid: number): { cpuS: number; rssKiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuS: ticks / 100, rssKiB: rss === null ? 0 : Number(rss[1]) };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : Math.round(((s[m - 1]! + s[m]!) / 2) * 10) / 10;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function machine(): Record<string, unknown> {
  return { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', platform: process.platform, arch: process.arch };
}

export function writeResult(name: string, data: Record<string, unknown>): void {
  mkdirSync(resultsDir, { recursive: true });
  const payload = { bench: name, at: new Date().toISOString(), machine: machine(), ...data };
  writeFileSync(join(resultsDir, `${name}.json`), JSON.stringify(payload, null, 2) + '\n');
  process.stdout.write(`${JSON.stringify(payload, null, 2)}\n`);
}
