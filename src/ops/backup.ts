/**
 * `sipreg backup` / `sipreg restore`. A backup is one ustar file (ops/tar.ts), members in
 * this order:
 *
 *   manifest.json   {"format":"sipreg-backup","formatVersion":1, sipreg version and commit, time, host,
 *                   the store's schema, the data_dir and config it came from, and each member's size
 *                   and SHA-256}
 *   data.mdb        a compacting copy of the store (lmdb-js `backup(path, true)`: mdb_env_copy2 with
 *                   MDB_CP_COMPACT inside one read transaction, so it is consistent while the service
 *                   writes, and holds only the pages in use)
 *   sipreg.yaml     the config in force: the file the running service recorded (store/config-record.ts)
 *                   when its bytes are still the ones it loaded, else the config file given
 *
 * Written to a temporary name beside FILE, fsynced and renamed, so FILE is never half a backup.
 * A restore checks the manifest, every member's size and SHA-256, and the schema (this sipreg reads its
 * own schema and converts older ones at start; a newer one is refused), then replaces data.mdb the way
 * `sipreg compact` does (a complete file renamed over it) and only while no process has the store open.
 */
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { open } from 'lmdb';
import { sha256Hex } from '../config/fingerprint.js';
import {
  SCHEMA_VERSION, readConfigRecord, readService, serviceRunning, storeHolders, type Store,
} from '../store/index.js';
import { dataFileOf } from '../store/space.js';
import { COMMIT, VERSION } from '../version.js';
import { fsyncDir } from './atomic-file.js';
import { listTar, tarHeader, tarPadding, TAR_END, TarError, writeAll, type TarMember } from './tar.js';

export const BACKUP_FORMAT = 'sipreg-backup';
export const BACKUP_FORMAT_VERSION = 1;
const MANIFEST = 'manifest.json';
const STORE_MEMBER = 'data.mdb';
export const CONFIG_MEMBER = 'sipreg.yaml';
const CHUNK = 1 << 20;

export interface BackupManifest {
  format: string;
  formatVersion: number;
  sipregVersion: string;
  commit: string;
  createdAtMs: number;
  createdAt: string;
  host: string;
  /** The store's schema_version. */
  schema: number;
  dataDir: string;
  /** The config saved with it: where it was, its SHA-256, the service's generation when it was in force. */
  config: { file: string; sha256: string; inForce: boolean; generation: number | null } | null;
  files: { name: string; bytes: number; sha256: string }[];
}

/** A backup file that cannot be restored, and why (one line). */
export class BackupError extends Error {}

function hashFile(file: string): { sha256: string; bytes: number } {
  const h = createHash('sha256');
  const fd = openSync(file, 'r');
  const buf = Buffer.alloc(CHUNK);
  let total = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      total += n;
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: h.digest('hex'), bytes: total };
}

/** Copies `bytes` bytes from `from` at `offset` to descriptor `to` (at its position), returning their SHA-256. */
function copyRange(from: number, offset: number, bytes: number, to: number | null): string {
  const h = createHash('sha256');
  const buf = Buffer.alloc(Math.min(CHUNK, Math.max(bytes, 1)));
  let done = 0;
  while (done < bytes) {
    const n = readSync(from, buf, 0, Math.min(buf.length, bytes - done), offset + done);
    if (n === 0) throw new BackupError('cut short');
    h.update(buf.subarray(0, n));
    if (to !== null) writeAll(to, buf.subarray(0, n));
    done += n;
  }
  return h.digest('hex');
}

/** The config to save: the one the running service loaded when its file still holds those bytes, else `configFile`. */
function configToSave(store: Store, configFile: string): { file: string; bytes: Buffer; inForce: boolean; generation: number | null } | null {
  const rec = readConfigRecord(store);
  if (rec !== null && serviceRunning(readService(store), Date.now())) {
    try {
      const bytes = readFileSync(rec.file);
      if (sha256Hex(bytes) === rec.sha256) return { file: rec.file, bytes, inForce: true, generation: rec.generation };
    } catch { /* gone: fall back to the file given */ }
  }
  try {
    const bytes = readFileSync(configFile);
    const inForce = rec !== null && rec.sha256 === sha256Hex(bytes);
    return { file: configFile, bytes, inForce, generation: inForce ? rec.generation : null };
  } catch {
    return null;
  }
}

/** Writes a backup of `store` (open in this process; the service may run) and its config to `out`. */
export async function writeBackup(store: Store, configFile: string, out: string, nowMs = Date.now()): Promise<BackupManifest> {
  const work = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`);
  const tmpTar = `${work}.tar`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { mode: 0o700 });
  try {
    await store.root.backup(work, true);
    const copy = join(work, STORE_MEMBER);
    const storeHash = hashFile(copy);
    store.root.resetReadTxn();
    const config = configToSave(store, configFile);
    const files = [{ name: STORE_MEMBER, bytes: storeHash.bytes, sha256: storeHash.sha256 }];
    if (config !== null) files.push({ name: CONFIG_MEMBER, bytes: config.bytes.length, sha256: sha256Hex(config.bytes) });
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT, formatVersion: BACKUP_FORMAT_VERSION, sipregVersion: VERSION, commit: COMMIT,
      createdAtMs: nowMs, createdAt: new Date(nowMs).toISOString(), host: hostname(),
      schema: Number(store.meta.get('schema_version')), dataDir: store.dataDir,
      config: config === null ? null : { file: config.file, sha256: sha256Hex(config.bytes), inForce: config.inForce, generation: config.generation },
      files,
    };
    const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    // 0600: the store holds HA1s and nonce secrets, the config passwords.
    const fd = openSync(tmpTar, 'wx', 0o600);
    try {
      writeAll(fd, tarHeader(MANIFEST, manifestBytes.length, nowMs));
      writeAll(fd, manifestBytes);
      writeAll(fd, tarPadding(manifestBytes.length));
      writeAll(fd, tarHeader(STORE_MEMBER, storeHash.bytes, nowMs, 0o600));
      const src = openSync(copy, 'r');
      try {
        if (copyRange(src, 0, storeHash.bytes, fd) !== storeHash.sha256) throw new BackupError('the store copy changed while it was read');
      } finally {
        closeSync(src);
      }
      writeAll(fd, tarPadding(storeHash.bytes));
      if (config !== null) {
        writeAll(fd, tarHeader(CONFIG_MEMBER, config.bytes.length, nowMs));
        writeAll(fd, config.bytes);
        writeAll(fd, tarPadding(config.bytes.length));
      }
      writeAll(fd, TAR_END);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmpTar, out);
    fsyncDir(dirname(out));
    return manifest;
  } finally {
    rmSync(work, { recursive: true, force: true });
    try { unlinkSync(tmpTar); } catch { /* renamed */ }
  }
}

export interface OpenedBackup {
  readonly manifest: BackupManifest;
  readonly fd: number;
  readonly members: ReadonlyMap<string, TarMember>;
  close(): void;
}

/** Opens and checks a backup: a sipreg backup of a known format, every member there with its size and SHA-256, a schema this sipreg reads. */
export function openBackup(file: string): OpenedBackup {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new BackupError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    let list: TarMember[];
    try {
      list = listTar(fd, fstatSync(fd).size);
    } catch (err) {
      throw new BackupError(`${file}: not a sipreg backup (${err instanceof TarError ? err.message : String(err)})`);
    }
    const members = new Map(list.map((m) => [m.name, m]));
    const m = list[0];
    if (m === undefined || m.name !== MANIFEST || m.size > 1 << 20) throw new BackupError(`${file}: not a sipreg backup (no ${MANIFEST} first)`);
    const buf = Buffer.alloc(m.size);
    readSync(fd, buf, 0, m.size, m.offset);
    let manifest: BackupManifest;
    try {
      manifest = JSON.parse(buf.toString('utf8')) as BackupManifest;
    } catch {
      throw new BackupError(`${file}: not a sipreg backup (its ${MANIFEST} is not JSON)`);
    }
    if (manifest.format !== BACKUP_FORMAT) throw new BackupError(`${file}: not a sipreg backup (format ${JSON.stringify(manifest.format)})`);
    if (manifest.formatVersion !== BACKUP_FORMAT_VERSION) {
      throw new BackupError(`${file}: backup format ${String(manifest.formatVersion)}, this sipreg reads ${BACKUP_FORMAT_VERSION}`);
    }
    if (!Number.isInteger(manifest.schema) || manifest.schema < 1) throw new BackupError(`${file}: the manifest names no store schema`);
    if (manifest.schema > SCHEMA_VERSION) {
      throw new BackupError(`${file}: store schema ${manifest.schema} (sipreg ${manifest.sipregVersion}) is newer than this sipreg reads (${SCHEMA_VERSION}); restore it with that version`);
    }
    if (!Array.isArray(manifest.files) || !manifest.files.some((f) => f.name === STORE_MEMBER)) throw new BackupError(`${file}: the manifest lists no ${STORE_MEMBER}`);
    for (const f of manifest.files) {
      const member = members.get(f.name);
      if (member === undefined) throw new BackupError(`${file}: ${f.name} is missing`);
      if (member.size !== f.bytes) throw new BackupError(`${file}: ${f.name} is ${member.size} bytes, the manifest says ${f.bytes}`);
      if (copyRange(fd, member.offset, member.size, null) !== f.sha256) throw new BackupError(`${file}: ${f.name} does not match its SHA-256 in the manifest (damaged)`);
    }
    return { manifest, fd, members, close: () => closeSync(fd) };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** The config saved in an opened backup, or null. */
export function backupConfig(b: OpenedBackup): Buffer | null {
  const m = b.members.get(CONFIG_MEMBER);
  if (m === undefined || !b.manifest.files.some((f) => f.name === CONFIG_MEMBER)) return null;
  const buf = Buffer.alloc(m.size);
  readSync(b.fd, buf, 0, m.size, m.offset);
  return buf;
}

/** Refuses while any other process has the store in `dataDir` open (the service, a console, an admin command). */
export function refuseWhileOpen(dataDir: string, what: string): void {
  const holders = storeHolders(dataDir);
  if (holders === null) throw new BackupError(`cannot tell whether the store in ${dataDir} is open (no /proc/locks): ${what} refused`);
  if (holders.length > 0) {
    throw new BackupError(`the store in ${dataDir} is open in process ${holders.join(', ')} (the service, or a console): ` +
      `stop the service first (systemctl stop sipreg) and leave any console, then run ${what} again`);
  }
}

/** Replaces the store in `dataDir` with the backup's (nothing else may have it open). */
export function restoreStore(b: OpenedBackup, dataDir: string): { bytes: number } {
  refuseWhileOpen(dataDir, 'sipreg restore');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const shared = (statSync(dataDir).mode & 0o2000) !== 0;
  const work = join(dataDir, 'restoring'); // no extension: lmdb-js would take a name with one for a file
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { mode: 0o700 });
  try {
    const m = b.members.get(STORE_MEMBER)!;
    const file = join(work, STORE_MEMBER);
    const fd = openSync(file, 'wx', shared ? 0o660 : 0o600);
    try {
      copyRange(b.fd, m.offset, m.size, fd);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // What a start will find: an LMDB file of the schema the manifest names.
    let schema: unknown;
    try {
      const copy = open({ path: work, noSubdir: false, maxDbs: 16, readOnly: true, compression: false });
      schema = copy.openDB({ name: 'meta' }).get('schema_version');
      void copy.close();
    } catch (err) {
      throw new BackupError(`the backup's ${STORE_MEMBER} does not open as a store (${err instanceof Error ? err.message : String(err)})`);
    }
    if (schema !== b.manifest.schema) throw new BackupError(`the backup's store has schema ${String(schema)}, its manifest says ${b.manifest.schema}`);
    // Someone may have opened the store meanwhile.
    refuseWhileOpen(dataDir, 'sipreg restore');
    renameSync(file, dataFileOf(dataDir));
    fsyncDir(dataDir);
    return { bytes: m.size };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
