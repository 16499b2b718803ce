/**
 * Replacing a file so that a power cut leaves either the old or the new content, never a mix or
 * nothing: the bytes go to a new temporary file beside it (created exclusively, so a link
 * planted under that name is not followed), which is fsynced, renamed over the target (rename replaces
 * a symlink at the target, it never writes through it), and the directory is fsynced so the rename
 * itself is on disk. The new file takes the old one's mode (a config holds passwords) and, when this
 * process may, its owner and group.
 */
import { closeSync, fchmodSync, fchownSync, fsyncSync, lstatSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/** Writes `bytes` to `file` atomically; `mode` when the file does not exist yet (default 0640). */
export function replaceFileAtomic(file: string, bytes: Buffer, mode = 0o640): void {
  let old: { mode: number; uid: number; gid: number } | null = null;
  try {
    const st = lstatSync(file);
    if (st.isFile()) old = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.new`);
  const fd = openSync(tmp, 'wx', old?.mode ?? mode);
  try {
    try {
      fchmodSync(fd, old?.mode ?? mode); // the umask does not narrow it
      if (old !== null) {
        try { fchownSync(fd, old.uid, old.gid); } catch { /* not root: the file is ours, its group the directory's */ }
      }
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* gone */ }
    throw err;
  }
  fsyncDir(dir);
}
