// Bindings as bytes (schema 3). All bindings of one number (AOR) are one LMDB value, so the REGISTER
// path reads them with one get into a reused buffer and writes them with one put of bytes it
// composed itself: no msgpack decode into objects, no range iterator, no strings unless someone asks.
//
// A value is a format byte (1) followed by records. One record, little-endian:
//    0 u16 record length          2 u8 flags (FLAG_*)            3 u8 0
//    4 f64 expiresAtMs           12 f64 registeredAtMs          20 f64 refreshedAtMs
//   28 f64 keepalive.lastSentAtMs                               36 f64 keepalive.lastAnsweredAtMs
//   44 u32 expiresS              48 u32 cseq                    52 u16 sourcePort
//   54 u16 q × 1000              56 u16 keepalive.missed        58 u16 0
//   60 u16 × STRING_COUNT lengths, then the strings' UTF-8 bytes in Str order.
// The number is the key, not part of the record.
import type { BindingRecord } from './records.js';
import { copyInto } from './bytes.js';

export const AOR_FORMAT = 1;
export const FLAG_NAT = 1, FLAG_INSTANCE = 2, FLAG_Q = 4, FLAG_KEEPALIVE = 8, FLAG_UNREACHABLE = 16;
export const R_LENGTH = 0, R_FLAGS = 2, R_EXPIRES_AT = 4, R_REGISTERED_AT = 12, R_REFRESHED_AT = 20,
  R_KA_SENT = 28, R_KA_ANSWERED = 36, R_EXPIRES_S = 44, R_CSEQ = 48, R_SOURCE_PORT = 52, R_Q = 54, R_KA_MISSED = 56;
/** The record's strings, in their order. */
export const Str = {
  key: 0, contact: 1, instance: 2, aor: 3, source: 4, sourceAddress: 5, localAddress: 6, userAgent: 7, account: 8, callId: 9,
} as const;
export const STRING_COUNT = 10;
export const R_LENGTHS = 60;
export const R_HEADER = R_LENGTHS + 2 * STRING_COUNT;
/** A record never exceeds this: every string is bounded by the datagram it came from (limits.ts). */
export const RECORD_MAX = 0xffff;

export function recordLength(buf: Buffer, rec: number): number { return buf.readUInt16LE(rec + R_LENGTH); }
export function flags(buf: Buffer, rec: number): number { return buf[rec + R_FLAGS]!; }
export function expiresAtMs(buf: Buffer, rec: number): number { return buf.readDoubleLE(rec + R_EXPIRES_AT); }
export function registeredAtMs(buf: Buffer, rec: number): number { return buf.readDoubleLE(rec + R_REGISTERED_AT); }
export function refreshedAtMs(buf: Buffer, rec: number): number { return buf.readDoubleLE(rec + R_REFRESHED_AT); }
export function expiresS(buf: Buffer, rec: number): number { return buf.readUInt32LE(rec + R_EXPIRES_S); }
export function cseq(buf: Buffer, rec: number): number { return buf.readUInt32LE(rec + R_CSEQ); }

/** Where string `field` of the record at `rec` starts. */
export function strStart(buf: Buffer, rec: number, field: number): number {
  let p = rec + R_HEADER;
  for (let i = 0; i < field; i++) p += buf.readUInt16LE(rec + R_LENGTHS + 2 * i);
  return p;
}
export function strLength(buf: Buffer, rec: number, field: number): number { return buf.readUInt16LE(rec + R_LENGTHS + 2 * field); }

/** Whether string `field` of the record equals other[start, start + length). */
export function strEquals(buf: Buffer, rec: number, field: number, other: Buffer, start: number, length: number): boolean {
  if (strLength(buf, rec, field) !== length) return false;
  const s = strStart(buf, rec, field);
  for (let i = 0; i < length; i++) if (buf[s + i] !== other[start + i]) return false;
  return true;
}

/**
 * Whether two records are the same binding in the same state but for its times: every byte equal
 * except expiresAtMs, refreshedAtMs, expiresS and cseq (what a refresh moves). Flags (NAT, keepalive
 * marks), registeredAtMs, the keepalive times, the source port, q and every string must match.
 */
export function sameExceptTimes(a: Buffer, recA: number, b: Buffer, recB: number): boolean {
  const len = recordLength(a, recA);
  if (recordLength(b, recB) !== len) return false;
  return rangeEqual(a, recA, b, recB, R_FLAGS, R_EXPIRES_AT) && rangeEqual(a, recA, b, recB, R_REGISTERED_AT, R_REFRESHED_AT) &&
    rangeEqual(a, recA, b, recB, R_KA_SENT, R_EXPIRES_S) && rangeEqual(a, recA, b, recB, R_SOURCE_PORT, len);
}

function rangeEqual(a: Buffer, recA: number, b: Buffer, recB: number, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (a[recA + i] !== b[recB + i]) return false;
  return true;
}

/** Writes what a refresh moves into the record at `rec` (in place). */
export function setRefreshTimes(buf: Buffer, rec: number, expiresAt: number, refreshedAt: number, expiresSValue: number, cseqValue: number): void {
  buf.writeDoubleLE(expiresAt, rec + R_EXPIRES_AT);
  buf.writeDoubleLE(refreshedAt, rec + R_REFRESHED_AT);
  buf.writeUInt32LE(expiresSValue, rec + R_EXPIRES_S);
  buf.writeUInt32LE(cseqValue, rec + R_CSEQ);
}

export function setExpiresS(buf: Buffer, rec: number, value: number): void { buf.writeUInt32LE(value, rec + R_EXPIRES_S); }

/** Whether string `field` is the same in two records. */
export function strSame(a: Buffer, recA: number, b: Buffer, recB: number, field: number): boolean {
  return strEquals(a, recA, field, b, strStart(b, recB, field), strLength(b, recB, field));
}

export function str(buf: Buffer, rec: number, field: number): string {
  const s = strStart(buf, rec, field);
  return buf.toString('utf8', s, s + strLength(buf, rec, field));
}

/**
 * Record offsets of an AOR value buf[0, length) into `out`; returns how many records the value holds
 * (more than out.length means `out` was too small: grow it and index again).
 * A value that does not parse (truncated, a record running past the end) yields the records before
 * the damage: a torn value costs the bindings it no longer holds, never a crash.
 */
export function indexRecords(buf: Buffer, length: number, out: Int32Array): number {
  if (length < 1 || buf[0] !== AOR_FORMAT) return 0;
  let n = 0;
  let p = 1;
  while (p + R_HEADER <= length) {
    const len = buf.readUInt16LE(p);
    if (len < R_HEADER || p + len > length) break;
    if (n < out.length) out[n] = p;
    n++;
    p += len;
  }
  return n;
}

/**
 * Writes a record field by field: numbers into the fixed header, then the strings in Str order, each
 * either from bytes or from a JS string. begin() → setters → str*() for every field in order → end().
 */
export class RecordWriter {
  buf: Buffer = Buffer.alloc(0);
  private rec = 0;
  private p = 0;
  private field = 0;

  begin(buf: Buffer, at: number): this {
    this.buf = buf;
    this.rec = at;
    this.p = at + R_HEADER;
    this.field = 0;
    buf.fill(0, at, at + R_HEADER);
    return this;
  }
  setFlags(f: number): this { this.buf[this.rec + R_FLAGS] = f; return this; }
  setTimes(expiresAt: number, registeredAt: number, refreshedAt: number): this {
    this.buf.writeDoubleLE(expiresAt, this.rec + R_EXPIRES_AT);
    this.buf.writeDoubleLE(registeredAt, this.rec + R_REGISTERED_AT);
    this.buf.writeDoubleLE(refreshedAt, this.rec + R_REFRESHED_AT);
    return this;
  }
  setNumbers(expires: number, cseqValue: number, sourcePort: number, qPermille: number): this {
    this.buf.writeUInt32LE(expires, this.rec + R_EXPIRES_S);
    this.buf.writeUInt32LE(cseqValue, this.rec + R_CSEQ);
    this.buf.writeUInt16LE(sourcePort, this.rec + R_SOURCE_PORT);
    this.buf.writeUInt16LE(qPermille < 0 ? 0 : qPermille, this.rec + R_Q);
    return this;
  }
  setKeepalive(sentAt: number, answeredAt: number, missed: number): this {
    this.buf.writeDoubleLE(sentAt, this.rec + R_KA_SENT);
    this.buf.writeDoubleLE(answeredAt, this.rec + R_KA_ANSWERED);
    this.buf.writeUInt16LE(Math.min(missed, 0xffff), this.rec + R_KA_MISSED);
    return this;
  }
  /** The next string from src[start, start + length). */
  strBytes(src: Buffer, start: number, length: number): this {
    if (this.p + length > this.buf.length) throw new RangeError('binding record: buffer too small');
    copyInto(src, start, start + length, this.buf, this.p);
    return this.lengthOf(length);
  }
  /** The next string from a JS string (UTF-8). */
  strText(s: string): this {
    return this.lengthOf(this.buf.write(s, this.p, 'utf8'));
  }
  /** The next string copied from the same field of another record. */
  strFrom(src: Buffer, rec: number, field: number): this {
    return this.strBytes(src, strStart(src, rec, field), strLength(src, rec, field));
  }
  /** Finishes the record; returns the offset just past it. */
  end(): number {
    if (this.field !== STRING_COUNT) throw new Error(`binding record: ${this.field} of ${STRING_COUNT} strings written`);
    const len = this.p - this.rec;
    if (len > RECORD_MAX) throw new Error(`binding record of ${len} bytes is over ${RECORD_MAX}`);
    this.buf.writeUInt16LE(len, this.rec + R_LENGTH);
    return this.p;
  }
  private lengthOf(length: number): this {
    if (length > 0xffff) throw new Error(`binding record string of ${length} bytes`);
    this.buf.writeUInt16LE(length, this.rec + R_LENGTHS + 2 * this.field);
    this.p += length;
    this.field++;
    return this;
  }
}

/** Upper bound of a record's size for `b` (UTF-8 is at most 3 bytes per UTF-16 unit). */
export function recordSizeMax(b: BindingRecord): number {
  let n = R_HEADER;
  n += 3 * (b.contactKey.length + b.contact.length + (b.instance ?? '').length + b.aor.length + b.source.length +
    b.sourceAddress.length + b.localAddress.length + b.userAgent.length + b.account.length + b.callId.length);
  return n;
}

/** A BindingRecord into buf at `at` (buf must hold recordSizeMax(b)); returns the offset past it. */
export function encodeBinding(w: RecordWriter, b: BindingRecord, buf: Buffer, at: number): number {
  const k = b.keepalive;
  w.begin(buf, at)
    .setFlags((b.nat ? FLAG_NAT : 0) | (b.instance !== null ? FLAG_INSTANCE : 0) | (b.q !== null ? FLAG_Q : 0) |
      (k !== null ? FLAG_KEEPALIVE : 0) | (k?.unreachable === true ? FLAG_UNREACHABLE : 0))
    .setTimes(b.expiresAtMs, b.registeredAtMs, b.refreshedAtMs)
    .setNumbers(b.expiresS, b.cseq, b.sourcePort, b.q === null ? -1 : Math.round(b.q * 1000))
    .setKeepalive(k?.lastSentAtMs ?? 0, k?.lastAnsweredAtMs ?? 0, k?.missed ?? 0)
    .strText(b.contactKey).strText(b.contact).strText(b.instance ?? '').strText(b.aor).strText(b.source)
    .strText(b.sourceAddress).strText(b.localAddress).strText(b.userAgent).strText(b.account).strText(b.callId);
  return w.end();
}

/** The record at `rec` as a BindingRecord (for the console, admin commands, the keepalive and tests). */
export function decodeBinding(buf: Buffer, rec: number, number: string): BindingRecord {
  const f = flags(buf, rec);
  return {
    number,
    aor: str(buf, rec, Str.aor),
    contactKey: str(buf, rec, Str.key),
    contact: str(buf, rec, Str.contact),
    instance: (f & FLAG_INSTANCE) !== 0 ? str(buf, rec, Str.instance) : null,
    source: str(buf, rec, Str.source),
    sourceAddress: str(buf, rec, Str.sourceAddress),
    sourcePort: buf.readUInt16LE(rec + R_SOURCE_PORT),
    localAddress: str(buf, rec, Str.localAddress),
    expiresS: expiresS(buf, rec),
    expiresAtMs: expiresAtMs(buf, rec),
    registeredAtMs: registeredAtMs(buf, rec),
    refreshedAtMs: refreshedAtMs(buf, rec),
    userAgent: str(buf, rec, Str.userAgent),
    account: str(buf, rec, Str.account),
    nat: (f & FLAG_NAT) !== 0,
    callId: str(buf, rec, Str.callId),
    cseq: cseq(buf, rec),
    q: (f & FLAG_Q) !== 0 ? buf.readUInt16LE(rec + R_Q) / 1000 : null,
    keepalive: (f & FLAG_KEEPALIVE) === 0 ? null : {
      lastSentAtMs: buf.readDoubleLE(rec + R_KA_SENT),
      lastAnsweredAtMs: buf.readDoubleLE(rec + R_KA_ANSWERED),
      missed: buf.readUInt16LE(rec + R_KA_MISSED),
      unreachable: (f & FLAG_UNREACHABLE) !== 0,
    },
  };
}
