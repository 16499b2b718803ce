/**
 * One service per data_dir, and a service that notices when its data_dir is gone.
 *
 * The lock is `data_dir/service.pid`: "PID STARTTIME\n", created exclusively and removed at exit. Node
 * has no flock/fcntl lock, so the file is made with link(2) from a complete temporary file (atomic:
 * EEXIST when it is there, and nobody ever reads it half written). A file left by a crash (SIGKILL,
 * power loss) must not block the restart, so a holder counts as alive only while its PID exists AND
 * that process started when the file says (field 22 of /proc/PID/stat, clock ticks since boot): a dead
 * PID, or a PID now used by another process (reused after a crash or a reboot), is stale and taken over.
 * Taking over a stale file is the one step two services starting in the same instant could both do; the
 * check the service runs every few seconds (`check`) settles that race: whoever finds the file naming
 * another live service gives way. Admin commands and the console never take the lock.
 *
 * The same check notices a data_dir deleted or replaced under the running service: LMDB keeps writing
 * into the unlinked file (its map and descriptor stay valid), so without it every REGISTER would get a
 * 200 for a binding nobody can ever read.
 */
import { closeSync, linkSync, openSync, readFileSync, statSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const PID_FILE = 'service.pid';
/** The LMDB data file (lmdb-js names it so): its identity (device, inode) is what the service checks,
 *  its existence what admin commands look for before opening a store. */
export const STORE_FILE = 'data.mdb';
/** How often the running service checks that it still holds data_dir and its store. */
export const LEASE_CHECK_INTERVAL_MS = 2_000;

/** data_dir cannot be taken: held by a live service (`holderPid`), or not writable. One line. */
export class DataDirError extends Error {
  constructor(message: string, readonly holderPid: number | null = null) {
    super(message);
    this.name = 'DataDirError';
  }
}

interface Holder { readonly pid: number; readonly startTicks: string }

export interface DataDirLease {
  readonly file: string;
  /** Remembers the store file's identity: call once the store is open. */
  pinStore(): void;
  /** null while this service holds data_dir and its store is the one it opened; else why not. */
  check(): string | null;
  /** Removes the pid file if it is still ours. */
  release(): void;
}

/** Start time of a process in clock ticks since boot, or null when it does not exist, has exited (a
 *  zombie nobody reaped yet) or is hidden from us. */
function startTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces or ')': count after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function parseHolder(text: string): Holder | null {
  const m = /^(\d+) (\d+)\n$/.exec(text);
  return m === null ? null : { pid: Number(m[1]), startTicks: m[2]! };
}

function alive(h: Holder): boolean {
  return h.pid !== process.pid && startTicks(h.pid) === h.startTicks;
}

function readHolder(file: string): { text: string; holder: Holder | null } | null {
  try {
    const text = readFileSync(file, 'utf8');
    return { text, holder: parseHolder(text) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
}

/** Creates `file` with `text`, all at once; false when it exists. */
function createExclusive(file: string, text: string): boolean {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o664);
  try {
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if (code(err) === 'EEXIST') return false;
    throw err;
  } finally {
    try { unlinkSync(tmp); } catch { /* already gone with data_dir */ }
  }
}

function busy(dataDir: string, h: Holder): DataDirError {
  return new DataDirError(`data_dir ${dataDir} is in use by sipreg pid ${h.pid}; one service per data_dir (stop it first, or use another data_dir)`, h.pid);
}

/**
 * Takes data_dir for this process (creating the directory, as the service may), or throws DataDirError
 * naming the live holder, or why data_dir cannot be written (permissions, a full disk).
 */
export function acquireDataDir(dataDir: string): DataDirLease {
  const file = join(dataDir, PID_FILE);
  const self = startTicks(process.pid);
  if (self === null) throw new DataDirError(`cannot read /proc/${process.pid}/stat: sipreg needs /proc to lock data_dir ${dataDir}`);
  const mine = `${process.pid} ${self}\n`;
  const take = (): void => {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (createExclusive(file, mine)) return;
      const seen = readHolder(file);
      if (seen === null) continue; // removed between our link and our read: try again
      if (seen.holder !== null && alive(seen.holder)) throw busy(dataDir, seen.holder);
      // Stale (dead PID, reused PID, unreadable content): remove it unless it changed meanwhile.
      if (readHolder(file)?.text === seen.text) {
        try { unlinkSync(file); } catch (err) { if (code(err) !== 'ENOENT') throw err; }
      }
    }
    throw new Error('it keeps changing');
  };
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 }); // as openStore makes it: private unless set up shared
  } catch (err) {
    throw new DataDirError(`data_dir ${dataDir}: cannot create or write (${code(err)})`);
  }
  try {
    take();
  } catch (err) {
    if (err instanceof DataDirError) throw err;
    throw new DataDirError(`data_dir ${dataDir}: cannot create ${PID_FILE} (${code(err)})`);
  }

  let store: { dev: number; ino: number } | null = null;
  return {
    file,
    pinStore() {
      const s = statSync(join(dataDir, STORE_FILE));
      store = { dev: s.dev, ino: s.ino };
    },
    check() {
      if (store !== null) {
        let s;
        try {
          s = statSync(join(dataDir, STORE_FILE));
        } catch (err) {
          return `the store ${join(dataDir, STORE_FILE)} is gone (${code(err)}): data_dir was deleted or moved while the service ran`;
        }
        if (s.dev !== store.dev || s.ino !== store.ino) return `the store ${join(dataDir, STORE_FILE)} was replaced by another file while the service ran`;
      }
      let seen;
      try {
        seen = readHolder(file);
        // Removed by hand: write it again (if another service took data_dir meanwhile, the next check sees it).
        if (seen === null && createExclusive(file, mine)) return null;
        seen ??= readHolder(file);
      } catch {
        return null; // cannot read or rewrite it now (a full disk): the store is still ours; try again next time
      }
      if (seen === null || seen.text === mine) return null;
      if (seen.holder !== null && alive(seen.holder)) return `data_dir is now held by sipreg pid ${seen.holder.pid}`;
      return null;
    },
    release() {
      try {
        if (readHolder(file)?.text === mine) unlinkSync(file);
      } catch { /* data_dir gone or not ours: nothing to remove */ }
    },
  };
}
