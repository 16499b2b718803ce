// Runs the real sipreg service (dist/sipreg when built, else from source; test/helpers/sipreg.ts picks)
// on a free loopback port with a temp config and store, and drives SIPp against it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { exitOf, freeUdpPort, repoRoot, sipregCommand, tmpDir, waitForLine } from '../helpers/sipreg.js';

function spawnSipreg(args: string[]): ChildProcess {
  const { file, prefix } = sipregCommand();
  return spawn(file, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

function runSipreg(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const { file, prefix } = sipregCommand();
  return spawnSync(file, [...prefix, ...args], { encoding: 'utf8', timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
}

export const sippDir = join(repoRoot, 'test', 'fixtures', 'sipp');

export interface Service {
  child: ChildProcess;
  port: number;
  dir: string;
  dataDir: string;
  configFile: string;
  log: string[];
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  cli(args: string[]): { status: number | null; stdout: string; stderr: string };
  /** Rewrites the config with a new `body` (same sip/data_dir), sends SIGHUP and waits for the reload. */
  reload(body: string): Promise<void>;
  /** The service's resident set size now (VmRSS of /proc/PID/status), in KiB. */
  rssKiB(): number;
}

export function accountsYaml(numbers: Iterable<string>, password = 'secret'): string {
  let s = 'accounts:\n';
  for (const n of numbers) s += `  - { number: "${n}", password: "${password}" }\n`;
  return s;
}

/** Starts the service; `body` is YAML after sip/data_dir (params, accounts). */
export async function startService(body: string, opts: { port?: number; dir?: string; listen?: string } = {}): Promise<Service> {
  const dir = opts.dir ?? tmpDir('sipreg-e2e-');
  const port = opts.port ?? await freeUdpPort();
  const configFile = join(dir, 'sipreg.yaml');
  const dataDir = join(dir, 'data');
  const listen = opts.listen ?? '127.0.0.1';
  const write = (b: string): void => {
    writeFileSync(configFile, `sip:\n  listen: ["${listen}:${port}"]\ndata_dir: ${dataDir}\nlog_level: info\n${b}`);
  };
  write(body);
  const log: string[] = [];
  const s: Service = {
    child: null as unknown as ChildProcess, port, dir, dataDir, configFile, log,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (s.child.exitCode !== null || s.child.signalCode !== null) return;
      s.child.kill(signal);
      await exitOf(s.child);
    },
    async restart() { await launch(); },
    cli(args) {
      const r = runSipreg([...args, '-c', configFile]);
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    async reload(b: string) {
      write(b);
      const reloaded = waitForLine(s.child, (line) => line.includes('"config reloaded"') || line.includes('"config reload refused'), 20_000);
      s.child.kill('SIGHUP');
      const line = await reloaded;
      if (!line.includes('"config reloaded"')) throw new Error(`reload refused: ${line}`);
    },
    rssKiB() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${s.child.pid}/status`, 'utf8'));
      if (m === null) throw new Error('no VmRSS');
      return Number(m[1]);
    },
  };
  const launch = async (): Promise<void> => {
    const child = spawnSipreg(['run', '-c', configFile]);
    s.child = child;
    child.stdout?.on('data', (b: Buffer) => { log.push(b.toString()); });
    child.stderr?.on('data', (b: Buffer) => { log.push(b.toString()); });
    await waitForLine(child, (line) => line.includes('"sipreg started"'), 30_000);
  };
  await launch();
  return s;
}

export interface SippResult { code: number | null; stdout: string; stderr: string; errors: string }

/** Runs one SIPp scenario to completion (-m calls) against the service. */
export function sipp(service: Service, scenario: string, args: string[], timeoutMs = 30_000, opts: { localIp?: string } = {}): Promise<SippResult> {
  const errorFile = join(service.dir, `sipp-${scenario}-${opts.localIp ?? ''}-${Date.now()}.err`);
  const child = spawn('sipp', [
    `127.0.0.1:${service.port}`, '-sf', join(sippDir, scenario), '-i', opts.localIp ?? '127.0.0.1', '-p', '0',
    '-nostdin', '-timeout', String(Math.floor(timeoutMs / 1000)), '-timeout_error', '-trace_err', '-error_file', errorFile, ...args,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      let errors = '';
      try { errors = readFileSync(errorFile, 'utf8'); } catch { /* none */ }
      resolve({ code, stdout, stderr, errors: errors.slice(0, 3000) });
    });
  });
}

