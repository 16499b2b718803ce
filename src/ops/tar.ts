/**
 * The few bytes of POSIX ustar a backup needs: regular files only, names under 100 bytes,
 * written and read with node:fs, so a backup is one file that `tar tvf` lists and `tar xf` unpacks on
 * any machine, and sipreg needs no archive library. Each member: a 512-byte header (name, mode, size
 * and mtime in octal, checksum, "ustar\0" "00"), the data, zeros to the next 512.
 */
import { readSync, writeSync } from 'node:fs';

const BLOCK = 512;

export class TarError extends Error {}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

export function tarHeader(name: string, size: number, mtimeMs: number, mode = 0o640): Buffer {
  const h = Buffer.alloc(BLOCK);
  if (Buffer.byteLength(name) >= 100) throw new TarError(`name too long for ustar: ${name}`);
  h.write(name, 0, 'utf8');
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');   // uid
  h.write(octal(0, 8), 116, 'ascii');   // gid
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(Math.floor(mtimeMs / 1000), 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');    // checksum counted as spaces
  h.write('0', 156, 'ascii');           // regular file
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** Zeros after `size` bytes of data, to the next block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The end of an archive: two zero blocks. */
export const TAR_END = Buffer.alloc(2 * BLOCK);

export interface TarMember {
  readonly name: string;
  readonly size: number;
  /** Offset of the data in the file. */
  readonly offset: number;
}

function field(h: Buffer, at: number, len: number): string {
  const raw = h.subarray(at, at + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

/** Members of the ustar archive open as `fd` (`bytes` long): headers checked, data not read. */
export function listTar(fd: number, bytes: number): TarMember[] {
  const out: TarMember[] = [];
  const h = Buffer.alloc(BLOCK);
  let at = 0;
  while (at + BLOCK <= bytes) {
    if (readSync(fd, h, 0, BLOCK, at) !== BLOCK) throw new TarError('cut short');
    if (h.every((b) => b === 0)) return out;
    if (!field(h, 257, 6).startsWith('ustar')) throw new TarError(`not a ustar header at byte ${at}`);
    const stored = parseInt(field(h, 148, 8).trim(), 8);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (stored !== sum) throw new TarError(`bad header checksum at byte ${at}`);
    const size = parseInt(field(h, 124, 12).trim() || '0', 8);
    if (!Number.isSafeInteger(size) || size < 0) throw new TarError(`bad size at byte ${at}`);
    const type = field(h, 156, 1);
    const name = field(h, 0, 100);
    if (type !== '0' && type !== '') throw new TarError(`${name}: not a regular file`);
    if (at + BLOCK + size > bytes) throw new TarError(`${name}: cut short`);
    out.push({ name, size, offset: at + BLOCK });
    at += BLOCK + size + ((BLOCK - (size % BLOCK)) % BLOCK);
  }
  throw new TarError('no end-of-archive marker (cut short?)');
}

/** Writes all of `buf` at the descriptor's position. */
export function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}
