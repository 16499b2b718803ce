// A keyed hash for tables whose keys strangers choose (the transaction cache: Via branches). With an
// unkeyed hash (FNV-1a) anyone can compute keys that share one bucket and turn each lookup into a walk
// of the whole table; with a secret random key per process they cannot.
//
// HalfSipHash-1-3 (Aumasson and Bernstein's SipHash on 32-bit words; the reference is
// github.com/veorq/SipHash halfsiphash.c with cROUNDS=1, dROUNDS=3, 4-byte output): the Linux kernel's
// hsiphash for its hash tables. 32-bit arithmetic throughout, so it runs on JavaScript numbers without
// BigInt; no allocation.
import { randomFillSync } from 'node:crypto';

/** The secret of one table: two 32-bit words, random per process (never persisted, never shown). */
export class HashKey {
  readonly k0: number;
  readonly k1: number;
  constructor(k0?: number, k1?: number) {
    const random = randomFillSync(new Uint32Array(2));
    this.k0 = (k0 ?? random[0]!) | 0;
    this.k1 = (k1 ?? random[1]!) | 0;
  }
}

/** HalfSipHash-1-3 of buf[start, end) under `key`: an unsigned 32-bit number. */
export function keyedHash(key: HashKey, buf: Uint8Array, start: number, end: number): number {
  let v0 = key.k0;
  let v1 = key.k1;
  let v2 = 0x6c796765 ^ key.k0;
  let v3 = 0x74656462 ^ key.k1;
  const length = end - start;
  const wordsEnd = start + (length & ~3);
  let p = start;
  for (; p < wordsEnd; p += 4) {
    const m = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
    v3 ^= m;
    // SipRound (one per word: the "1" of 1-3).
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    v0 ^= m;
  }
  // The last 0-3 bytes and the length (mod 256) in the top byte.
  let b = length << 24;
  const left = end - p;
  if (left >= 3) b |= buf[p + 2]! << 16;
  if (left >= 2) b |= buf[p + 1]! << 8;
  if (left >= 1) b |= buf[p]!;
  v3 ^= b;
  v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
  v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
  v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
  v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  v0 ^= b;
  v2 ^= 0xff;
  for (let i = 0; i < 3; i++) {
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  }
  return (v1 ^ v3) >>> 0;
}
