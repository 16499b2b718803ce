// `sipreg firmware install FILE`: the bundle is verified in full (signature, arch, sizes, hashes) before
// anything is written; then the inactive slot is written and read back, its kernel and initrd go to the
// ESP, and last its boot entry with a tries counter, which makes it the next boot. A cut before the entry
// is written leaves the box booting what it booted before.
import {
  closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync,
  statfsSync, unlinkSync, writeFileSync, writeSync, readlinkSync, realpathSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { BundleError, loadPublicKey, verifyBundle, type BundlePart, type Manifest } from './bundle.js';
import { entryName, entryOptions, entryState, entryText, otherSlot, type Slot } from './entries.js';
import { entriesDir, readBootedSlot, readEntries, slotDevice, slotFilesDir, type FirmwareLayout } from './layout.js';

export const DEFAULT_TRIES = 3;

export interface InstallOutcome {
  readonly manifest: Manifest;
  readonly slot: Slot;
  readonly entry: string;
  readonly from: string | null;
}

/** The checks that need no writing: signature and contents, then that this box can take it. */
export function checkBundle(file: string, l: FirmwareLayout, arch: string): { manifest: Manifest; target: Slot } {
  const manifest = verifyBundle(file, loadPublicKey(l.publicKeyFile), arch);
  const booted = readBootedSlot(l);
  if (booted === null) throw new BundleError(`${l.cmdlineFile} names no sipreg slot (root=PARTLABEL=sipreg-root-a or -b): not booted from a slot`);
  const running = readEntries(l).filter((e) => e.slot === booted).sort((x, y) => y.generation - x.generation)[0];
  if (running !== undefined && entryState(running) === 'on trial') {
    throw new BundleError(`the running slot ${booted} is still on trial (not blessed yet): installing now would overwrite the slot the box falls back to`);
  }
  return { manifest, target: otherSlot(booted) };
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/** The size of a slot: a block device's from sysfs, a regular file's (tests) without a limit. */
function slotCapacity(device: string): number {
  let real: string;
  try {
    real = realpathSync(device);
  } catch {
    throw new BundleError(`no slot at ${device}`);
  }
  const st = fstatOf(real);
  if (!st.isBlockDevice()) return Number.MAX_SAFE_INTEGER;
  const sectors = Number(readFileSync(`/sys/class/block/${basename(real)}/size`, 'utf8').trim());
  return sectors * 512;
}

function fstatOf(path: string): ReturnType<typeof fstatSync> {
  const fd = openSync(path, 'r');
  try { return fstatSync(fd); } finally { closeSync(fd); }
}

/** Copies a part from the bundle to `fd` (at 0), hashing what it wrote; the hash must be the manifest's. */
function copyPart(bundleFd: number, part: BundlePart, fd: number, what: string): void {
  const buf = Buffer.alloc(1 << 20);
  const h = createHash('sha256');
  for (let done = 0; done < part.size;) {
    const n = readSync(bundleFd, buf, 0, Math.min(buf.length, part.size - done), part.offset + done);
    if (n === 0) throw new BundleError(`the bundle got shorter while ${what} was written`);
    h.update(buf.subarray(0, n));
    for (let w = 0; w < n;) w += writeSync(fd, buf, w, n - w, done + w);
    done += n;
  }
  fsyncSync(fd);
  if (h.digest('hex') !== part.sha256) throw new BundleError(`the bundle changed while ${what} was written`);
}

/** Reads back what was written and compares its hash (a slot device that lies is found here). */
function readBack(fd: number, part: BundlePart, what: string): void {
  const buf = Buffer.alloc(1 << 20);
  const h = createHash('sha256');
  for (let done = 0; done < part.size;) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, part.size - done), done);
    if (n === 0) throw new BundleError(`${what}: shorter than written`);
    h.update(buf.subarray(0, n));
    done += n;
  }
  if (h.digest('hex') !== part.sha256) throw new BundleError(`${what}: reads back different from what was written`);
}

function writeFileAtomic(path: string, write: (fd: number) => void): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try { write(fd); fsyncSync(fd); } finally { closeSync(fd); }
  renameSync(tmp, path);
}

/**
 * Installs a verified bundle into the inactive slot. `log` gets one line per step. Throws BundleError
 * (nothing written when it comes from the checks).
 */
export function installBundle(file: string, l: FirmwareLayout, arch: string, tries: number, log: (line: string) => void): InstallOutcome {
  const { manifest, target } = checkBundle(file, l, arch);
  const part = (name: string): BundlePart => manifest.parts.find((p) => p.name === name)!;
  const root = part('root');
  const kernel = part('kernel');
  const initrd = part('initrd');
  const device = slotDevice(l, target);
  const capacity = slotCapacity(device);
  if (root.size > capacity) throw new BundleError(`the root (${root.size} bytes) does not fit slot ${target} (${capacity} bytes)`);
  const slotFiles = slotFilesDir(l, target);
  const entries = entriesDir(l);
  const booted = otherSlot(target);
  const running = readEntries(l).filter((e) => e.slot === booted).sort((x, y) => y.generation - x.generation)[0];
  if (running === undefined) throw new BundleError(`no boot entry for the running slot ${booted} in ${entries}`);
  const options = entryOptions(readFileSync(join(entries, running.file), 'utf8'));
  if (options === null) throw new BundleError(`${running.file} has no options line`);
  const free = statfsSync(l.espDir);
  const oldFiles = ['vmlinuz', 'initrd.img'].reduce((n, f) => n + (existsSync(join(slotFiles, f)) ? Number(fstatOf(join(slotFiles, f)).size) : 0), 0);
  if (free.bavail * free.bsize + oldFiles < kernel.size + initrd.size + 65536) {
    throw new BundleError(`the ESP has ${free.bavail * free.bsize} bytes free, the kernel and initrd need ${kernel.size + initrd.size}`);
  }
  let from: string | null = null;
  try { from = (JSON.parse(readFileSync(join(slotFilesDir(l, booted), 'manifest.json'), 'utf8')) as { version?: string }).version ?? null; } catch { /* none */ }
  log(`verified ${basename(file)}: sipreg ${manifest.version} for ${manifest.arch}, signature and SHA-256 good`);

  // Above every entry there is, the failed one this install replaces included: generations only grow.
  const generation = 1 + Math.max(0, ...readEntries(l).map((e) => e.generation));
  // 1. The target slot stops being bootable before any of it changes.
  for (const e of readEntries(l)) if (e.slot === target) unlinkSync(join(entries, e.file));
  fsyncDir(entries);
  // 2. Its root file system, read back.
  const bundleFd = openSync(file, 'r');
  try {
    const fd = openSync(device, 'r+');
    try {
      log(`writing the root (${(root.size / 1048576).toFixed(1)} MiB) to slot ${target} (${device}${isLink(device)})`);
      copyPart(bundleFd, root, fd, `slot ${target}`);
      readBack(fd, root, `slot ${target}`);
    } finally {
      closeSync(fd);
    }
    // 3. Its kernel and initrd, and what it is.
    mkdirSync(slotFiles, { recursive: true });
    writeFileAtomic(join(slotFiles, 'vmlinuz'), (fd) => copyPart(bundleFd, kernel, fd, 'the kernel'));
    writeFileAtomic(join(slotFiles, 'initrd.img'), (fd) => copyPart(bundleFd, initrd, fd, 'the initrd'));
  } finally {
    closeSync(bundleFd);
  }
  writeFileAtomic(join(slotFiles, 'manifest.json'), (fd) => {
    writeSync(fd, `${JSON.stringify({ version: manifest.version, arch: manifest.arch, installedAt: new Date().toISOString(), rootSha256: root.sha256 }, null, 2)}\n`);
  });
  fsyncDir(slotFiles);
  // 4. The entry, last: from now on the next boot tries the new slot.
  const name = entryName(generation, target, tries);
  writeFileAtomic(join(entries, name), (fd) => { writeSync(fd, entryText(target, manifest.version, options)); });
  fsyncDir(entries);
  log(`boot entry ${name}: slot ${target} boots next, ${tries} ${tries === 1 ? 'try' : 'tries'} to answer SIP, else back to slot ${booted}`);
  return { manifest, slot: target, entry: name, from };
}

function isLink(path: string): string {
  try {
    return ` -> ${readlinkSync(path)}`;
  } catch {
    return '';
  }
}

export function writeJson(path: string, value: unknown): void {
  writeFileSync(`${path}.tmp`, `${JSON.stringify(value)}\n`, { mode: 0o644 });
  renameSync(`${path}.tmp`, path);
}
