// Giving the disk back. LMDB reuses the pages history frees but never shrinks its file; a
// compacting copy (lmdb-js `backup(path, true)`: mdb_env_copy2 with MDB_CP_COMPACT) holds only the used
// pages. It replaces the file only while no other process has the store open: a process that had it
// open would go on with the old file (its writes lost) and with a lock file whose transaction ids no
// longer match the new file. So `sipreg compact` refuses while the service (or a console) runs, and the
// service compacts at start, before it opens the store, when more than half of the file is free.
// Who has the store open: every LMDB process holds a POSIX lock on lock.mdb (mdb_env_setup_locks),
// listed by the kernel in /proc/locks.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import { StoreError, openStore } from './open.js';
import { dataFileOf, lockFileOf, measureStore } from './space.js';
import { fileSystemSpace } from './budget.js';
import { storeLimits } from '../limits.js';

export interface CompactOutcome {
  readonly compacted: boolean;
  readonly beforeBytes: number;
  readonly afterBytes: number;
  /** Why nothing was done, or what was. */
  readonly reason: string;
  readonly ms: number;
}

/**
 * Processes other than this one that have the store in dataDir open (their lock on lock.mdb), or null
 * when the kernel does not say (no /proc/locks).
 */
export function storeHolders(dataDir: string): number[] | null {
  let ino: bigint;
  let dev: bigint;
  try {
    const st = statSync(lockFileOf(dataDir), { bigint: true });
    ino = st.ino;
    dev = st.dev;
  } catch {
    return []; // never opened: nobody holds it
  }
  let text: string;
  try {
    text = readFileSync('/proc/locks', 'utf8');
  } catch {
    return null;
  }
  // glibc's dev_t: major in bits 8-19 and 32-43, minor in bits 0-7 and 20-31.
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  const pids = new Set<number>();
  // "1: POSIX  ADVISORY  READ 8150 fe:00:2180801 0 0" (a waiter's line has "->" after the number).
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+(?:->\s+)?\S+\s+\S+\s+\S+\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (m === null) continue;
    if (BigInt(m[4]!) !== ino || BigInt(`0x${m[2]!}`) !== major || BigInt(`0x${m[3]!}`) !== minor) continue;
    const pid = Number(m[1]);
    if (pid > 0 && pid !== process.pid) pids.add(pid);
  }
  return [...pids].sort((a, b) => a - b);
}

export function refuseIfHeld(dataDir: string): void {
  const holders = storeHolders(dataDir);
  if (holders === null) {
    throw new StoreError('ERR_STORE_IN_USE', `data_dir ${dataDir}: cannot tell whether other processes have the store open (no /proc/locks)`);
  }
  if (holders.length > 0) {
    throw new StoreError('ERR_STORE_IN_USE', `data_dir ${dataDir}: the store is open in process ${holders.join(', ')}`);
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/** Entries of every table, by name, for comparing a copy with its original. */
function entryCounts(root: ReturnType<typeof open>): Map<string, number> {
  const out = new Map<string, number>();
  // Names first: opening a table inside the walk would end the read transaction the walk runs in.
  for (const name of [...root.getKeys()]) {
    if (typeof name !== 'string') continue;
    const db = root.openDB({ name, create: false } as never) as ReturnType<typeof open> | undefined;
    if (db !== undefined) out.set(name, (db.getStats() as { entryCount: number }).entryCount);
  }
  return out;
}

/**
 * Replaces the store's file with a compacting copy of it. `whenSparse`: only if more than
 * storeLimits.compactFreeShare of a file of at least compactFileMinBytes is free (the service's start).
 * Throws StoreError ERR_STORE_IN_USE while another process has the store open, ERR_STORE_NO_ROOM when
 * the file system cannot hold the copy, ERR_STORE_COMPACT when the copy failed (the store is untouched).
 */
export async function compactStore(dataDir: string, opts: { whenSparse: boolean }): Promise<CompactOutcome> {
  const started = Date.now();
  const file = dataFileOf(dataDir);
  const nothing = (reason: string, bytes: number): CompactOutcome => ({ compacted: false, beforeBytes: bytes, afterBytes: bytes, reason, ms: Date.now() - started });
  if (!existsSync(file)) return nothing('no store yet', 0);
  refuseIfHeld(dataDir);
  const store = openStore(dataDir);
  let open_ = true;
  const tmp = join(dataDir, 'compacting'); // no extension: lmdb-js would take a name with one for a file
  try {
    const f = measureStore(store);
    const usedBytes = f.usedPages * f.pageSize;
    const freeBytes = f.freePages * f.pageSize;
    if (opts.whenSparse && (f.fileBytes < storeLimits.compactFileMinBytes || f.freePages <= f.filePages * storeLimits.compactFreeShare)) {
      return nothing(`${mib(freeBytes)} of ${mib(f.fileBytes)} free: not worth a copy`, f.fileBytes);
    }
    if (f.freePages === 0) return nothing('no free pages: nothing to give back', f.fileBytes);
    const room = fileSystemSpace(dataDir).freeBytes;
    if (room < usedBytes + storeLimits.reserveMinBytes) {
      throw new StoreError('ERR_STORE_NO_ROOM', `data_dir ${dataDir}: the copy needs ${mib(usedBytes + storeLimits.reserveMinBytes)} free on its file system, ${mib(room)} is`);
    }
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    try {
      await store.root.backup(tmp, true);
      // The copy holds every entry of every table, or it does not replace anything.
      const copy = open({ path: tmp, noSubdir: false, maxDbs: 16, readOnly: true, compression: false });
      const want = entryCounts(store.root);
      const got = entryCounts(copy);
      await copy.close();
      for (const [name, n] of want) {
        if (got.get(name) !== n) throw new Error(`table ${name}: ${String(got.get(name))} entries in the copy, ${n} in the store`);
      }
      fsyncPath(join(tmp, 'data.mdb'));
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw new StoreError('ERR_STORE_COMPACT', `data_dir ${dataDir}: the compacting copy failed, the store is untouched (${err instanceof Error ? err.message : String(err)})`);
    }
    // Someone may have opened the store while it was copied: their writes would be lost.
    try {
      refuseIfHeld(dataDir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    await store.close();
    open_ = false;
    renameSync(join(tmp, 'data.mdb'), file);
    fsyncPath(dataDir);
    rmSync(tmp, { recursive: true, force: true });
    const afterBytes = statSync(file).size;
    return { compacted: true, beforeBytes: f.fileBytes, afterBytes, reason: `${mib(f.fileBytes - afterBytes)} given back`, ms: Date.now() - started };
  } finally {
    if (open_) await store.close();
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
