// The hand-over from an unprivileged `sipreg firmware install` (admin, over SSH or the console) to the root
// service that may write partitions (sipreg-firmware.service, started by sipreg-firmware.path). Admin can
// write the queue directory, so the service trusts nothing there: it opens a request without following
// links, copies it into its own directory before verifying (admin may still hold the file open), and
// writes its answer to a new file renamed into place (never through a name admin could have made).
import {
  closeSync, constants, copyFileSync, fstatSync, openSync, readFileSync, readdirSync, readSync, renameSync,
  rmSync, unlinkSync, writeFileSync, writeSync, existsSync, fsyncSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BundleError } from './bundle.js';
import { installBundle } from './install.js';
import type { FirmwareLayout } from './layout.js';

const REQUEST_RE = /^request-([0-9a-f]{16})\.fw$/;

export interface QueueResult {
  readonly code: number;
  readonly lines: readonly string[];
}

/** Leaves `file` in the queue and waits for the service's answer. */
export async function submitToQueue(file: string, l: FirmwareLayout, tries: number, timeoutMs: number, say: (line: string) => void): Promise<QueueResult> {
  const id = randomBytes(8).toString('hex');
  // What the install is asked to do besides the file, before the file: the service reads it with it.
  writeFileSync(join(l.queueDir, `request-${id}.json`), `${JSON.stringify({ tries })}\n`);
  const tmp = join(l.queueDir, `.request-${id}.tmp`);
  copyFileSync(file, tmp);
  const fd = openSync(tmp, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
  renameSync(tmp, join(l.queueDir, `request-${id}.fw`));
  say(`handed to sipreg-firmware.service (request ${id}); waiting for it`);
  const resultFile = join(l.queueDir, `result-${id}.json`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(resultFile)) {
      const r = JSON.parse(readFileSync(resultFile, 'utf8')) as QueueResult;
      try { unlinkSync(resultFile); } catch { /* the service's file: it may stay */ }
      return r;
    }
    await sleep(500);
  }
  try { unlinkSync(join(l.queueDir, `request-${id}.fw`)); } catch { /* taken meanwhile */ }
  return { code: 1, lines: [`no answer from sipreg-firmware.service within ${Math.round(timeoutMs / 1000)} s (systemctl status sipreg-firmware.service)`] };
}

/** The root side: installs every request in the queue, one after the other. */
export function processQueue(l: FirmwareLayout, workDir: string, arch: string, tries: number, log: (line: string) => void): number {
  let failures = 0;
  for (const name of readdirSync(l.queueDir).sort()) {
    const m = REQUEST_RE.exec(name);
    if (m === null) continue;
    const id = m[1]!;
    const lines: string[] = [];
    const say = (line: string): void => { lines.push(line); log(line); };
    const copy = join(workDir, `${id}.fw`);
    const options = join(l.queueDir, `request-${id}.json`);
    let code = 0;
    try {
      takeRequest(join(l.queueDir, name), copy);
      const r = installBundle(copy, l, arch, requestedTries(options) ?? tries, say);
      say(`installed sipreg ${r.manifest.version} in slot ${r.slot}${r.from === null ? '' : ` (running: ${r.from})`}; reboot to try it`);
    } catch (err) {
      code = 1;
      failures++;
      say(err instanceof BundleError ? `refused: ${err.message}` : `failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      rmSync(copy, { force: true });
      try { unlinkSync(join(l.queueDir, name)); } catch { /* gone already */ }
      rmSync(options, { force: true });
    }
    const tmp = join(l.queueDir, `.result-${id}-${randomBytes(4).toString('hex')}`);
    writeFileSync(tmp, `${JSON.stringify({ code, lines })}\n`, { flag: 'wx', mode: 0o644 });
    renameSync(tmp, join(l.queueDir, `result-${id}.json`));
  }
  return failures === 0 ? 0 : 1;
}

/** The tries the request asks for (1..9), or null: read without following a link, a few bytes at most. */
function requestedTries(path: string): number | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    if (!fstatSync(fd).isFile()) return null;
    const buf = Buffer.alloc(256);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const tries = (JSON.parse(buf.toString('utf8', 0, n)) as { tries?: unknown }).tries;
    return typeof tries === 'number' && Number.isInteger(tries) && tries >= 1 && tries <= 9 ? tries : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** Copies a request into the service's own directory: a regular file, reached without links. */
function takeRequest(path: string, copy: string): void {
  const src = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (!fstatSync(src).isFile()) throw new BundleError('the request is not a regular file');
    const dst = openSync(copy, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
    try {
      const buf = Buffer.alloc(1 << 20);
      for (let n; (n = readSync(src, buf, 0, buf.length, null)) > 0;) {
        for (let w = 0; w < n;) w += writeSync(dst, buf, w, n - w);
      }
    } finally {
      closeSync(dst);
    }
  } finally {
    closeSync(src);
  }
}
