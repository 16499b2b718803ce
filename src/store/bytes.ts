// Byte buffers for values the store composes itself (bindings, history rows).

/** A buffer that grows (to a new one) when asked for more; its ArrayBuffer starts at offset 0. */
export class Scratch {
  buf: Buffer;
  constructor(size: number) { this.buf = Buffer.from(new ArrayBuffer(size)); }
  /** Room for `size` bytes, keeping buf[0, keep). */
  ensure(size: number, keep = 0): Buffer {
    if (size > this.buf.length) {
      const next = Buffer.from(new ArrayBuffer(Math.max(size, this.buf.length * 2)));
      copyInto(this.buf, 0, keep, next, 0);
      this.buf = next;
    }
    return this.buf;
  }
}

/**
 * buf[0, length) as an LMDB value without making a view: lmdb-js reads `start`/`end` off a value
 * Buffer when they are set (write.js, the path msgpackr's reused buffers take); test/store pins it.
 * Only inside a write transaction: there put() copies the value at once, so buf may be reused right
 * after (an async put outside one would read it later).
 */
export function asValue(buf: Buffer, length: number): Buffer {
  const b = buf as Buffer & { start: number; end: number };
  b.start = 0;
  b.end = length;
  return b;
}

/** Text composed as UTF-8 bytes at a position of a growing buffer, without making JS strings. */
export class ByteText {
  p = 0;
  constructor(readonly scratch: Scratch = new Scratch(1024)) {}
  get buf(): Buffer { return this.scratch.buf; }
  /** Continues writing at `p`. */
  at(p: number): this { this.scratch.ensure(p + 1, p); this.p = p; return this; }
  /** Appends a JS string (literals cost nothing: no string is made). */
  text(s: string): this {
    const buf = this.scratch.ensure(this.p + 3 * s.length, this.p);
    this.p += buf.write(s, this.p, 'utf8');
    return this;
  }
  /** Appends src[start, start + length). */
  bytes(src: Buffer, start: number, length: number): this {
    const buf = this.scratch.ensure(this.p + length, this.p);
    copyInto(src, start, start + length, buf, this.p);
    this.p += length;
    return this;
  }
  /** Appends an integer in decimal. */
  int(n: number): this {
    if (n < 0 || !Number.isSafeInteger(n)) return this.text(String(n));
    const buf = this.scratch.ensure(this.p + 16, this.p);
    let digits = 1;
    for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
    for (let i = digits - 1, v = n; i >= 0; i--, v = Math.floor(v / 10)) buf[this.p + i] = 48 + (v % 10);
    this.p += digits;
    return this;
  }
  toString(start = 0): string { return this.scratch.buf.toString('utf8', start, this.p); }
}

/**
 * Copies src[start, end) into dst at `at`; returns the count. Buffer#copy makes a Uint8Array view for
 * every sub-range (Node 20 _copyActual), and misreads lmdb-js's reused get buffer (its `length` is
 * set to the value's size): short copies go byte by byte, long ones through one view.
 */
export function copyInto(src: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): number {
  const n = end - start;
  if (n > 256) {
    dst.set(new Uint8Array(src.buffer, src.byteOffset + start, n), at);
    return n;
  }
  for (let i = start; i < end; i++) dst[at++] = src[i]!;
  return n;
}
