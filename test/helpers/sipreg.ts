/**
 * How tests run the real `sipreg` binary: `dist/sipreg` when `make build` made it (what `make test`
 * does first), else from source through tap's TypeScript loader (slower start, same code).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { buildSync } from 'esbuild';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const binary = join(repoRoot, 'dist', 'sipreg');

let sourceBundle: string | null = null;

/**
 * The command line that runs sipreg: `dist/sipreg`, or (SIPREG_TEST_FROM_SOURCE=1, or no build) the
 * current sources bundled once per test process with esbuild — under a second, where a TypeScript
 * loader takes many seconds per start.
 */
export function sipregCommand(): { file: string; prefix: string[] } {
  if (process.env['SIPREG_TEST_FROM_SOURCE'] !== '1' && existsSync(binary)) return { file: binary, prefix: [] };
  if (sourceBundle === null) {
    // Inside the repo so the bundle finds lmdb and pino in node_modules.
    const outDir = join(repoRoot, 'node_modules', '.cache', 'sipreg-test');
    mkdirSync(outDir, { recursive: true });
    const out = join(outDir, `main-${process.pid}.mjs`);
    buildSync({ entryPoints: [join(repoRoot, 'src/main.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: out, logLevel: 'warning' });
    process.once('exit', () => rmSync(out, { force: true }));
    sourceBundle = out;
  }
  return { file: process.execPath, prefix: [sourceBundle] };
}

/** The same as one shell word list, for tmux and sh -c. */
export function sipregShell(): string {
  const { file, prefix } = sipregCommand();
  return [file, ...prefix].map((w) => `'${w.replaceAll("'", "'\\''")}'`).join(' ');
}

export function runSipreg(args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  const { file, prefix } = sipregCommand();
  return spawnSync(file, [...prefix, ...args], {
    encoding: 'utf8', input: opts.input ?? '', timeout: opts.timeoutMs ?? 60_000,
    env: { ...process.env, ...opts.env },
  });
}

export function spawnSipreg(args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const { file, prefix } = sipregCommand();
  return spawn(file, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
}

export function tmpDir(prefix = 'sipreg-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes a config file into a fresh temp dir (data_dir beside it) and returns its path. */
export function writeConfig(yaml: string, dir = tmpDir()): string {
  const file = join(dir, 'sipreg.yaml');
  writeFileSync(file, yaml.replaceAll('@DATA@', join(dir, 'data')));
  return file;
}

/** A UDP port free on 127.0.0.1 right now (bind to 0, read, close). */
export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  const dgram = await import('node:dgram');
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => s.bind(0, host, resolve));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Collects a child's stdout lines (JSON logs) and resolves when one matches. */
export function waitForLine(child: ChildProcess, match: (line: string) => boolean, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      child.stdout?.off('data', onData);
      reject(new Error(`no matching line within ${timeoutMs} ms; saw:\n${buffered.slice(-2000)}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      for (const line of buffered.split('\n')) {
        if (match(line)) {
          clearTimeout(timer);
          child.stdout?.off('data', onData);
          resolve(line);
          return;
        }
      }
    };
    child.stdout?.on('data', onData);
  });
}

export function exitOf(child: ChildProcess, timeoutMs = 40_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    const timer = setTimeout(() => reject(new Error('process did not exit')), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}
