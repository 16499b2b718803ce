// Byte classes and small scanners shared by the parser, the writers and digest parsing. Everything
// here works on (buf, start, end) byte ranges: no strings, no allocation, no regular expressions.
import { assert } from '../assert.js';

export const SP = 0x20;
export const HT = 0x09;
export const CR = 0x0d;
export const LF = 0x0a;
export const COLON = 0x3a;
export const SEMI = 0x3b;
export const COMMA = 0x2c;
export const EQUAL = 0x3d;
export const DQUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const LAQUOT = 0x3c;
export const RAQUOT = 0x3e;
export const SLASH = 0x2f;
export const AT = 0x40;
export const QUESTION = 0x3f;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;

// Character classes, one bit each, built once at startup.
export const C_TOKEN = 1; //  RFC 3261 §25.1 token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
export const C_WS = 2; //     SP, HT and, inside a header value, the CR LF of a fold (validated by the line splitter)
export const C_DIGIT = 4;
export const C_HEX = 8;
export const C_HOST = 16; //  hostname characters (alphanum "-" "." plus "_" liberally)
export const C_SCHEME = 32; // RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )

export const charClass = new Uint8Array(256);
{
  const set = (chars: string, bit: number): void => {
    for (let i = 0; i < chars.length; i++) charClass[chars.charCodeAt(i)]! |= bit;
  };
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const digit = '0123456789';
  set(alpha + digit + "-.!%*_+`'~", C_TOKEN);
  set(' \t\r\n', C_WS);
  set(digit, C_DIGIT);
  set(digit + 'abcdefABCDEF', C_HEX);
  set(alpha + digit + '-._', C_HOST);
  set(alpha + digit + '+-.', C_SCHEME);
}

export function isWs(c: number): boolean {
  return (charClass[c]! & C_WS) !== 0;
}

/** First index in [p, end) that is not whitespace (folds included), or end. */
export function skipWs(buf: Buffer, p: number, end: number): number {
  while (p < end && (charClass[buf[p]!]! & C_WS) !== 0) p++;
  return p;
}

/** Index after the last non-whitespace byte of [start, end). */
export function trimEnd(buf: Buffer, start: number, end: number): number {
  while (end > start && (charClass[buf[end - 1]!]! & C_WS) !== 0) end--;
  return end;
}

/** First index in [p, end) that is not a token character. */
export function skipToken(buf: Buffer, p: number, end: number): number {
  while (p < end && (charClass[buf[p]!]! & C_TOKEN) !== 0) p++;
  return p;
}

/**
 * Given p at an opening DQUOTE, the index of the closing DQUOTE, or -1 if unterminated.
 * RFC 3261 §25.1: quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F): a backslash escapes the next byte.
 */
export function skipQuoted(buf: Buffer, p: number, end: number): number {
  assert(buf[p] === DQUOTE, 'buf[p] === DQUOTE');
  p++;
  while (p < end) {
    const c = buf[p]!;
    if (c === DQUOTE) return p;
    if (c === BACKSLASH) {
      if (p + 1 >= end) return -1;
      p += 2;
      continue;
    }
    p++;
  }
  return -1;
}

/** ASCII case-insensitive comparison of buf[start, end) with a lower-case ASCII literal. */
export function equalsLower(buf: Buffer, start: number, end: number, lower: Uint8Array): boolean {
  const n = lower.length;
  if (end - start !== n) return false;
  for (let i = 0; i < n; i++) {
    const a = buf[start + i]!;
    const b = lower[i]!;
    if (a === b) continue;
    if ((a | 0x20) !== b || b < 0x61 || b > 0x7a) return false; // fold letters only
  }
  return true;
}

/** Exact byte comparison of buf[start, end) with other[oStart, oEnd). */
export function equalsBytes(buf: Buffer, start: number, end: number, other: Buffer, oStart: number, oEnd: number): boolean {
  if (end - start !== oEnd - oStart) return false;
  for (let i = 0; i < end - start; i++) {
    if (buf[start + i] !== other[oStart + i]) return false;
  }
  return true;
}

/** Compare buf[start, end) with a JS string of code units < 256, without making a string. */
export function equalsString(buf: Buffer, start: number, end: number, s: string): boolean {
  if (end - start !== s.length) return false;
  for (let i = 0; i < s.length; i++) {
    if (buf[start + i] !== s.charCodeAt(i)) return false;
  }
  return true;
}

/** Case-insensitive variant of equalsString for ASCII. */
export function equalsStringFold(buf: Buffer, start: number, end: number, s: string): boolean {
  if (end - start !== s.length) return false;
  for (let i = 0; i < s.length; i++) {
    const a = buf[start + i]!;
    const b = s.charCodeAt(i);
    if (a === b) continue;
    const la = a | 0x20;
    if (la !== (b | 0x20) || la < 0x61 || la > 0x7a) return false;
  }
  return true;
}

export const NUMBER_INVALID = -1;
/**
 * Reads an unsigned decimal made only of digits in [start, end). Returns NUMBER_INVALID for an empty
 * range or a non-digit. A value above `max` returns max + 1 when `saturate` is false (the caller then
 * reports an overflow), or max when true. Digits are accumulated as n * 10 + d with the guard
 * before each step, so no value ever exceeds 2**53.
 */
export function readUint(buf: Buffer, start: number, end: number, max: number, saturate: boolean): number {
  if (start >= end) return NUMBER_INVALID;
  let n = 0;
  let over = false;
  for (let p = start; p < end; p++) {
    const c = buf[p]!;
    if (c < 0x30 || c > 0x39) return NUMBER_INVALID;
    if (!over) {
      n = n * 10 + (c - 0x30);
      if (n > max) over = true;
    }
  }
  if (over) return saturate ? max : max + 1;
  return n;
}

/** Lower-case ASCII bytes of a literal, made at startup for equalsLower. */
export function lowerBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
  }
  return out;
}

/** Writes a non-negative integer in decimal at `pos`; returns the new position or -1 if it does not fit. */
export function writeUint(buf: Buffer, pos: number, end: number, n: number): number {
  assert(n >= 0, 'n >= 0');
  assert(Number.isSafeInteger(n), 'Number.isSafeInteger(n)');
  let digits = 1;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
  if (pos + digits > end) return -1;
  let v = n;
  for (let i = pos + digits - 1; i >= pos; i--) {
    buf[i] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  }
  return pos + digits;
}

/** FNV-1a over buf[start, end), continuing from `h`. Used for To tags and the transaction index. */
export function fnv1a(buf: Buffer, start: number, end: number, h: number): number {
  for (let p = start; p < end; p++) {
    h ^= buf[p]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export const FNV_OFFSET = 0x811c9dc5;

/**
 * Copies src[start, end) to dst at `at`; returns the byte count. A plain loop on purpose: Node 20's
 * Buffer#copy makes a Uint8Array view for every partial copy, which is most of a response's garbage.
 */
export function copyBytes(src: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): number {
  assert(start >= 0 && end <= src.length && start <= end, 'start >= 0 && end <= src.length && start <= end');
  assert(at >= 0 && at + (end - start) <= dst.length, 'at >= 0 && at + (end - start) <= dst.length');
  for (let i = start; i < end; i++) dst[at++] = src[i]!;
  return end - start;
}
