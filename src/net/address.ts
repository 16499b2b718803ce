/**
 * IP address text → bytes without allocation, and what kind of address it is. Used on the hot path with
 * the address string `rinfo` already carries, and by NAT detection on Contact/Via hosts. Every function
 * writes into a caller's (or this module's) scratch array: no strings, no arrays, no regular expressions.
 *
 * A v4-mapped IPv6 address (`::ffff:192.0.2.7`, what a dual-stack `udp6` socket reports for an IPv4
 * peer) is the IPv4 address: it parses as family 4, so one CIDR list, one lockout key and one
 * classification serve both socket kinds.
 */

/** 0: not an IP literal; 4 or 6: the family written into the scratch bytes. */
export type AddressFamily = 0 | 4 | 6;

const groups = new Uint16Array(8);

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/**
 * What the parsers read: a string, or bytes of a received datagram through ByteChars (a Via or Contact
 * host checked without making a string of it).
 */
export interface Chars {
  charCodeAt(index: number): number;
  readonly length: number;
}

/** buf[start, end) as Chars (latin1), reused: of() points it at another range. */
export class ByteChars implements Chars {
  private buf: Uint8Array = new Uint8Array(0);
  private start = 0;
  length = 0;
  of(buf: Uint8Array, start: number, end: number): this {
    this.buf = buf;
    this.start = start;
    this.length = start >= 0 && end > start ? end - start : 0;
    return this;
  }
  charCodeAt(index: number): number { return index < this.length ? this.buf[this.start + index]! : NaN; }
}

/** Dotted quad in text[start, end) → 32-bit unsigned value, or -1. Leading zeros refused (`010.0.0.1`
 *  is octal to some parsers, decimal to others; node:net refuses it too). */
export function parseIPv4(text: Chars, start: number, end: number): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  let leadingZero = false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (leadingZero) return -1;
      if (digits === 0 && c === 0x30) leadingZero = true;
      part = part * 10 + (c - 0x30);
      digits++;
      if (part > 255) return -1;
    } else if (c === 0x2e) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
      leadingZero = false;
    } else {
      return -1;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + part;
}

/**
 * Parses an IPv4 or IPv6 literal in text[start, end) into `out` (16 bytes): IPv4 (and v4-mapped IPv6)
 * fill out[0..3] and return 4; IPv6 fills out[0..15] and returns 6; anything else returns 0. An IPv6
 * zone (`fe80::1%eth0`, as rinfo reports link-local peers) is ignored. No brackets: strip them first.
 */
export function parseAddress(text: Chars, out: Uint8Array, start = 0, end = text.length): AddressFamily {
  if (end - start < 2) return 0;
  let hasColon = false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a) { hasColon = true; break; }
    if (c === 0x25) { end = i; break; }
  }
  if (!hasColon) {
    const v4 = parseIPv4(text, start, end);
    if (v4 < 0) return 0;
    out[0] = v4 >>> 24; out[1] = (v4 >>> 16) & 0xff; out[2] = (v4 >>> 8) & 0xff; out[3] = v4 & 0xff;
    return 4;
  }
  for (let i = start; i < end; i++) if (text.charCodeAt(i) === 0x25) { end = i; break; }
  let count = 0;     // groups written
  let gap = -1;      // group index where "::" stands
  let i = start;
  if (text.charCodeAt(i) === 0x3a) {
    if (text.charCodeAt(i + 1) !== 0x3a) return 0;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    const groupStart = i;
    let value = 0;
    let digits = 0;
    while (i < end) {
      const h = hexValue(text.charCodeAt(i));
      if (h < 0) break;
      value = value * 16 + h;
      digits++;
      i++;
    }
    if (i < end && text.charCodeAt(i) === 0x2e) {
      // Embedded IPv4 in the last 32 bits (RFC 4291 §2.2 form 3).
      if (count > 6) return 0;
      const v4 = parseIPv4(text, groupStart, end);
      if (v4 < 0) return 0;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (digits === 0 || digits > 4 || count === 8) return 0;
    groups[count++] = value;
    if (i === end) break;
    if (text.charCodeAt(i) !== 0x3a) return 0;
    i++;
    if (i < end && text.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return 0;
      gap = count;
      i++;
    } else if (i === end) {
      return 0; // a single trailing colon
    }
  }
  if (gap < 0) {
    if (count !== 8) return 0;
  } else {
    if (count > 7) return 0;
    const shift = 8 - count;
    for (let g = count - 1; g >= gap; g--) groups[g + shift] = groups[g]!;
    for (let g = gap; g < gap + shift; g++) groups[g] = 0;
  }
  // v4-mapped (::ffff:0:0/96, RFC 4291 §2.5.5.2): the IPv4 address itself.
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    out[0] = groups[6]! >>> 8; out[1] = groups[6]! & 0xff; out[2] = groups[7]! >>> 8; out[3] = groups[7]! & 0xff;
    return 4;
  }
  for (let g = 0; g < 8; g++) {
    out[g * 2] = groups[g]! >>> 8;
    out[g * 2 + 1] = groups[g]! & 0xff;
  }
  return 6;
}

/**
 * The bytes of an IP literal, for code off the hot path (config, filters, analysis): 4 bytes for IPv4
 * and v4-mapped IPv6, 16 for IPv6, null for anything else. Brackets (`[2001:db8::1]`) are accepted.
 */
export function addressToBytes(text: string): Uint8Array | null {
  const bracketed = text.length > 2 && text.charCodeAt(0) === 0x5b && text.charCodeAt(text.length - 1) === 0x5d;
  const scratch = new Uint8Array(16);
  const family = parseAddress(text, scratch, bracketed ? 1 : 0, bracketed ? text.length - 1 : text.length);
  if (family === 0) return null;
  return family === 4 ? scratch.subarray(0, 4) : scratch;
}

/** The address as stored and shown: a v4-mapped IPv6 address becomes its dotted quad (so a lockout
 *  written from a dual-stack socket is found by `sipreg unlock 192.0.2.7`); anything else unchanged. */
export function normalizeAddress(text: string): string {
  if (text.length > 7 && text.charCodeAt(0) === 0x3a && text.indexOf('.') > 0 && /^::ffff:/i.test(text)) {
    const tail = text.slice(7);
    if (parseIPv4(tail, 0, tail.length) >= 0) return tail;
  }
  return text;
}

/** Bits of an IPv6 source that name one subscriber: a /64 is what one home or office is given (RFC 6177),
 *  and a host picks any address in it at will (RFC 4941 privacy addresses). */
export const IPV6_SOURCE_PREFIX_BITS = 64;

const sourceScratch = new Uint8Array(16);

/**
 * What an address counts as for rate limits and lockouts: an IPv4 address (v4-mapped too) is itself as a
 * dotted quad; an IPv6 address is its /64, written `2001:db8:1:2::/64` (RFC 5952 lower case, the
 * trailing zeros compressed), so one host cannot dodge a limit by walking its own prefix. Anything
 * else (never from a socket) is the text unchanged. Plain IPv4 is returned as is, without allocating.
 */
export function sourceOf(address: string): string {
  if (address.indexOf(':') < 0) return address;
  const family = parseAddress(address, sourceScratch);
  if (family === 4) return normalizeAddress(address);
  if (family !== 6) return address;
  const b = sourceScratch;
  // The first four groups; the zeros at their end join the "::" that stands for the host half.
  let last = 3;
  while (last >= 0 && b[last * 2] === 0 && b[last * 2 + 1] === 0) last--;
  let text = '';
  for (let g = 0; g <= last; g++) text += `${g > 0 ? ':' : ''}${((b[g * 2]! << 8) | b[g * 2 + 1]!).toString(16)}`;
  return `${text}::/${IPV6_SOURCE_PREFIX_BITS}`;
}

export type AddressClass =
  | 'public'
  | 'private'        // RFC 1918 10/8, 172.16/12, 192.168/16; deprecated IPv6 site-local fec0::/10
  | 'cgnat'          // RFC 6598 100.64/10, the carrier's NAT
  | 'link_local'     // 169.254/16, fe80::/10
  | 'ula'            // RFC 4193 fc00::/7
  | 'loopback'       // 127/8, ::1
  | 'unspecified'    // 0.0.0.0/8, ::
  | 'multicast'      // 224/4, ff00::/8
  | 'reserved'       // 240/4 (incl. 255.255.255.255), 192.0.0.0/24, 198.18/15, 100::/64 discard
  | 'documentation'  // 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32 (RFC 5737, 3849)
  | 'not_ip';        // a host name or garbage

/** Classifies parsed bytes (family from parseAddress). */
export function classifyBytes(family: AddressFamily, b: Uint8Array): AddressClass {
  if (family === 4) {
    const a = b[0]!;
    const s = b[1]!;
    if (a === 0) return 'unspecified';
    if (a === 10) return 'private';
    if (a === 127) return 'loopback';
    if (a === 172 && (s & 0xf0) === 16) return 'private';
    if (a === 192 && s === 168) return 'private';
    if (a === 100 && (s & 0xc0) === 64) return 'cgnat';
    if (a === 169 && s === 254) return 'link_local';
    if (a >= 224 && a <= 239) return 'multicast';
    if (a >= 240) return 'reserved';
    if (a === 192 && s === 0 && b[2] === 0) return 'reserved';
    if (a === 198 && (s & 0xfe) === 18) return 'reserved';
    if (a === 192 && s === 0 && b[2] === 2) return 'documentation';
    if (a === 198 && s === 51 && b[2] === 100) return 'documentation';
    if (a === 203 && s === 0 && b[2] === 113) return 'documentation';
    return 'public';
  }
  if (family === 6) {
    const b0 = b[0]!;
    const b1 = b[1]!;
    if (b0 === 0xff) return 'multicast';
    if ((b0 & 0xfe) === 0xfc) return 'ula';
    if (b0 === 0xfe && (b1 & 0xc0) === 0x80) return 'link_local';
    if (b0 === 0xfe && (b1 & 0xc0) === 0xc0) return 'private';
    if (b0 === 0x20 && b1 === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return 'documentation';
    let zeroTo15 = true;
    for (let i = 0; i < 15; i++) if (b[i] !== 0) { zeroTo15 = false; break; }
    if (zeroTo15 && b[15] === 0) return 'unspecified';
    if (zeroTo15 && b[15] === 1) return 'loopback';
    if (b0 === 0x01 && b1 === 0x00 && b[2] === 0 && b[3] === 0 && b[4] === 0 && b[5] === 0 && b[6] === 0 && b[7] === 0) return 'reserved';
    return 'public';
  }
  return 'not_ip';
}

const scratch = new Uint8Array(16);

/** Classifies an address literal; `[v6]` brackets (a URI host) are accepted. */
export function classifyAddress(text: Chars): AddressClass {
  return classifyBytes(parseBracketed(text, scratch), scratch);
}

/**
 * True for addresses a phone can only have behind a NAT: private, CGNAT, link-local, ULA, unspecified,
 * reserved. Loopback is NOT counted: a phone on the appliance itself (or a test client on 127.0.0.x) is
 * reached at the address it came from, so loopback in a Contact says nothing about a NAT between us.
 * Documentation ranges count as public (they stand for public addresses in examples and tests).
 */
export function isPrivateOrUnroutable(cls: AddressClass): boolean {
  return cls === 'private' || cls === 'cgnat' || cls === 'link_local' || cls === 'ula' ||
    cls === 'unspecified' || cls === 'reserved';
}

const scratchA = new Uint8Array(16);
const scratchB = new Uint8Array(16);

function parseBracketed(text: Chars, out: Uint8Array): AddressFamily {
  const end = text.length;
  if (end > 2 && text.charCodeAt(0) === 0x5b && text.charCodeAt(end - 1) === 0x5d) return parseAddress(text, out, 1, end - 1);
  return parseAddress(text, out, 0, end);
}

/** Same IP address, whatever the spelling (`::ffff:192.0.2.7` = `192.0.2.7`, `2001:db8::1` =
 *  `2001:0db8:0:0::1`); brackets accepted. False when either is not an IP literal. */
export function sameAddress(a: Chars, b: string): boolean {
  const fa = parseBracketed(a, scratchA);
  if (fa === 0) return false;
  if (a === b) return true;
  const fb = parseBracketed(b, scratchB);
  if (fa !== fb) return false;
  const n = fa === 4 ? 4 : 16;
  for (let i = 0; i < n; i++) if (scratchA[i] !== scratchB[i]) return false;
  return true;
}
