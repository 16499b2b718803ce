/**
 * The previous versions of the config and the history of pushes, kept beside the config in
 * `<config>.versions/` (for /etc/sipreg/sipreg.yaml: /etc/sipreg/sipreg.yaml.versions/):
 *
 *   N.yaml          the config as it was just before push N (its mode kept), the newest VERSIONS_KEPT
 *   history.jsonl   one JSON line per push: number, time, SHA-256 of what was pushed and of what it
 *                   replaced, where it came from, and the result (applied / rolled back), newest last,
 *                   at most HISTORY_KEPT lines
 *   .lock           "PID\n" while a `sipreg config apply` runs: pushes to one config take turns
 *
 * `sipreg config rollback N` applies N.yaml through the same path as any push.
 */
import { chmodSync, closeSync, existsSync, statSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { replaceFileAtomic } from './atomic-file.js';

export const VERSIONS_KEPT = 10;
export const HISTORY_KEPT = 200;
const HISTORY = 'history.jsonl';
const LOCK = '.lock';

/** applied: the service confirmed it; rolled back: it did not, the previous config went back; installed: put in place while the service was stopped (a restore); refused: a file left in the push drop-box that was not a valid config (nothing changed; `config apply --consume`). */
export type PushResult = 'applied' | 'rolled back' | 'installed' | 'refused';

export interface PushEntry {
  /** The push's number; N.yaml holds what it replaced. */
  readonly n: number;
  readonly atMs: number;
  /** What was pushed: `apply FILE`, `rollback to N`, `restore FILE`, `factory reset`. */
  readonly from: string;
  readonly sha256: string;
  readonly previousSha256: string;
  readonly result: PushResult;
  /** Why it was rolled back, or a note on an applied push ('' when none). */
  readonly reason: string;
  /** The service's config generation after the push (the rolled-back one's after the rollback); 0 when unknown. */
  readonly generation: number;
}

export class VersionsError extends Error {}

export function versionsDirOf(configFile: string): string {
  return join(dirname(configFile), `${basename(configFile)}.versions`);
}

/** The versions directory, made if needed; a symlink or any non-directory there is refused. */
function ensureDir(dir: string): void {
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory()) throw new VersionsError(`${dir} is not a directory: move it aside`);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // As open as the config's own directory (on the appliance 2770 root:sipreg, so admin's pushes and root's
  // share it). The set-group-ID bit comes from that directory with mkdir itself; a chmod naming it is
  // refused where set-ID bits may not be set (RestrictSUIDSGID=, the drop-box unit), so the mode is only
  // changed when the umask narrowed it, keeping the bit the new directory already has.
  mkdirSync(dir, { mode: 0o770 });
  const want = statSync(dirname(dir)).mode & 0o770;
  const got = statSync(dir).mode;
  if ((got & 0o777) !== want) chmodSync(dir, want | (got & 0o2000));
}

/** Numbers of the versions kept, lowest first. */
export function keptVersions(configFile: string): number[] {
  const dir = versionsDirOf(configFile);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.map((n) => /^(\d+)\.yaml$/.exec(n)).filter((m) => m !== null).map((m) => Number(m![1])).sort((a, b) => a - b);
}

export function versionFile(configFile: string, n: number): string {
  return join(versionsDirOf(configFile), `${n}.yaml`);
}

export function readHistory(configFile: string): PushEntry[] {
  let text: string;
  try {
    text = readFileSync(join(versionsDirOf(configFile), HISTORY), 'utf8');
  } catch {
    return [];
  }
  const out: PushEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const e = JSON.parse(line) as PushEntry;
      if (typeof e.n === 'number' && typeof e.sha256 === 'string') out.push(e);
    } catch { /* a line cut by a power cut: skipped */ }
  }
  return out;
}

/** The number the next push gets. */
export function nextPushNumber(configFile: string): number {
  const kept = keptVersions(configFile);
  const history = readHistory(configFile);
  return Math.max(0, kept.at(-1) ?? 0, ...history.map((e) => e.n)) + 1;
}

/** Keeps `bytes` (the config before push n) as n.yaml, with `mode`; drops the oldest beyond VERSIONS_KEPT. */
export function keepVersion(configFile: string, n: number, bytes: Buffer, mode: number): string {
  const dir = versionsDirOf(configFile);
  ensureDir(dir);
  const file = versionFile(configFile, n);
  replaceFileAtomic(file, bytes, mode);
  const kept = keptVersions(configFile);
  for (const old of kept.slice(0, Math.max(0, kept.length - VERSIONS_KEPT))) {
    try { unlinkSync(versionFile(configFile, old)); } catch { /* gone */ }
  }
  return file;
}

export function appendHistory(configFile: string, entry: PushEntry): void {
  const dir = versionsDirOf(configFile);
  ensureDir(dir);
  const entries = [...readHistory(configFile), entry].slice(-HISTORY_KEPT);
  replaceFileAtomic(join(dir, HISTORY), Buffer.from(entries.map((e) => JSON.stringify(e)).join('\n') + '\n'), 0o640);
}

/** Takes the push lock of `configFile`; a lock whose process is gone is taken over. Returns its release. */
export function lockPushes(configFile: string): () => void {
  const dir = versionsDirOf(configFile);
  ensureDir(dir);
  const file = join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o640);
      try { writeSync(fd, `${process.pid}\n`); } finally { closeSync(fd); }
      return () => { try { unlinkSync(file); } catch { /* gone */ } };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number(readFileSafe(file).trim());
    if (Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`)) {
      throw new VersionsError(`another config push (pid ${pid}) is under way for ${configFile}; try again when it has ended`);
    }
    try { unlinkSync(file); } catch { /* taken by someone else meanwhile: the next attempt says so */ }
  }
  throw new VersionsError(`cannot take the push lock ${file}`);
}

function readFileSafe(file: string): string {
  try { return readFileSync(file, 'utf8'); } catch { return ''; }
}

/** Removes every kept version and the history (a factory reset: they may hold passwords). */
export function forgetVersions(configFile: string): void {
  const dir = versionsDirOf(configFile);
  let names: string[];
  try {
    if (!lstatSync(dir).isDirectory()) return;
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    try { unlinkSync(join(dir, name)); } catch { /* gone */ }
  }
}
