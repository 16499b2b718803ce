/**
 * Address syntax of the config file: CIDR ranges, `allow` entries, listen addresses (parsed by
 * sip/listen.ts, worded here), host names and host[:port]. Pure functions over strings; each returns the
 * parsed value or a message that says what was expected (the caller adds the key and position).
 */
import { isIPv4 } from 'node:net';
import { addressToBytes } from '../net/index.js';
import { parseListenAddress } from '../sip/listen.js';
import type { AllowEntry, Cidr, ListenAddress } from './types.js';

export type Parsed<T> = { readonly value: T; readonly error: null } | { readonly value: null; readonly error: string };

function ok<T>(value: T): Parsed<T> {
  return { value, error: null };
}
function fail<T>(error: string): Parsed<T> {
  return { value: null, error };
}

/** 4 bytes of a dotted-quad IPv4 address, or null (leading zeros refused: `010.0.0.1`). */
export function ipv4Bytes(text: string): Uint8Array | null {
  if (text.includes(':')) return null;
  return addressToBytes(text);
}

/** 16 bytes of an IPv6 address (embedded IPv4 tail allowed), or null. Zone ids (`%eth0`) are refused,
 *  and a v4-mapped address stays 16 bytes here: a range written in IPv6 form is matched as written. */
export function ipv6Bytes(text: string): Uint8Array | null {
  if (text.includes('%') || !text.includes(':') || text.startsWith('[')) return null;
  const bytes = addressToBytes(text);
  if (bytes === null || bytes.length === 16) return bytes;
  const mapped = new Uint8Array(16);
  mapped[10] = 0xff;
  mapped[11] = 0xff;
  mapped.set(bytes, 12);
  return mapped;
}

function formatBytes(family: 4 | 6, bytes: Uint8Array): string {
  if (family === 4) return Array.from(bytes).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // Compress the longest run of zero groups (RFC 5952 §4.2), for the suggestion in a message.
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLength && j - i > 1) { bestStart = i; bestLength = j - i; }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}

const CIDR_EXPECTED = 'must be an address or range like 203.0.113.0/24 or 2001:db8::/32';

/** `203.0.113.0/24`, `2001:db8::/32`, or a bare address (a /32 or /128). Host bits set is a problem:
 *  `203.0.113.5/24` is either a typo for the host or for the network, and sipreg will not guess. */
export function parseCidr(text: string): Parsed<Cidr> {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const lengthText = slash < 0 ? null : text.slice(slash + 1);
  const v4 = ipv4Bytes(addressText);
  const v6 = v4 === null ? ipv6Bytes(addressText) : null;
  const bytes = v4 ?? v6;
  if (bytes === null) return fail(`${CIDR_EXPECTED}. Received ${quote(text)}`);
  const family: 4 | 6 = v4 !== null ? 4 : 6;
  const bits = family === 4 ? 32 : 128;
  let prefixLength = bits;
  if (lengthText !== null) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > bits) {
      return fail(`prefix length must be 0..${bits}. Received ${quote(text)}`);
    }
    prefixLength = Number(lengthText);
  }
  const network = new Uint8Array(bytes);
  for (let bit = prefixLength; bit < bits; bit++) network[bit >> 3]! &= ~(0x80 >> (bit & 7));
  if (!network.every((b, i) => b === bytes[i])) {
    return fail(`has host bits set; the network is ${formatBytes(family, network)}/${prefixLength}` +
      ` (or write the single address ${addressText}). Received ${quote(text)}`);
  }
  return ok({ text, family, bytes: network, prefixLength });
}

/** A port in 1..65535, decimal, no sign or leading zero. */
export function parsePort(text: string): number | null {
  if (!/^[1-9][0-9]{0,4}$/.test(text)) return null;
  const port = Number(text);
  return port <= 65535 ? port : null;
}

/** Splits `host:port`, `[v6]:port`, `[v6]`, `v4`, bare `v6` (two or more colons and no brackets).
 *  `port` is undefined when absent, null when present but not 1..65535. */
function splitHostPort(text: string): { host: string; port: number | null | undefined; bracketed: boolean } | null {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return null;
    const host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest === '') return { host, port: undefined, bracketed: true };
    if (!rest.startsWith(':')) return null;
    return { host, port: parsePort(rest.slice(1)), bracketed: true };
  }
  const firstColon = text.indexOf(':');
  if (firstColon < 0) return { host: text, port: undefined, bracketed: false };
  if (text.indexOf(':', firstColon + 1) >= 0) return { host: text, port: undefined, bracketed: false };
  return { host: text.slice(0, firstColon), port: parsePort(text.slice(firstColon + 1)), bracketed: false };
}

/** An `allow` entry: a range or address, optionally with `:port` (`203.0.113.7:5062`,
 *  `[2001:db8::7]:5062`). The port is what auth_mode ip_port compares with the source port. */
export function parseAllowEntry(text: string): Parsed<AllowEntry> {
  const parts = splitHostPort(text);
  if (parts === null) return fail(`${CIDR_EXPECTED}, optionally with :port (IPv6 as [2001:db8::7]:5062). Received ${quote(text)}`);
  if (parts.port === null) return fail(`port must be 1..65535. Received ${quote(text)}`);
  const cidr = parseCidr(parts.host);
  if (cidr.value === null) return fail(cidr.error.replace(quote(parts.host), quote(text)));
  if (parts.bracketed && cidr.value.family !== 6) return fail(`brackets are for IPv6 only. Received ${quote(text)}`);
  return ok({ cidr: cidr.value, port: parts.port ?? null });
}

const LISTEN_EXPECTED = 'must be an IP address and UDP port like 0.0.0.0:5060 or [::]:5060';

/** A `sip.listen` entry: sip/'s listen address parser, its refusals worded for the config file. */
export function parseListenEntry(text: string): Parsed<ListenAddress> {
  const parsed = parseListenAddress(text);
  if (parsed === 'port') return fail(`port must be 1..65535. Received ${quote(text)}`);
  if (parsed === 'form') return fail(`${LISTEN_EXPECTED}. Received ${quote(text)}`);
  return ok(parsed);
}

/** A DNS host name (RFC 1123 §2.1: letters, digits, hyphens; labels 1..63; at most 253 characters; the
 *  last label not all digits, so `300.1.1.1` is refused as a bad IP rather than taken as a name). */
export function isHostName(text: string): boolean {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  if (!labels.every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(label))) return false;
  return !/^[0-9]+$/.test(labels[labels.length - 1]!);
}

const HOST_EXPECTED = 'must be a host name or IP address like sip.carrier.example, 198.51.100.7 or 2001:db8::7';

/** A host: name, IPv4, or IPv6 with or without brackets. Returned without brackets. */
export function parseHost(text: string): Parsed<string> {
  const host = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (host !== text && ipv6Bytes(host) === null) return fail(`${HOST_EXPECTED}. Received ${quote(text)}`);
  if (isIPv4(host) || ipv6Bytes(host) !== null || isHostName(host)) return ok(host);
  if (/^[^:]+:[0-9]*$/.test(text)) return fail(`${HOST_EXPECTED}, without a port. Received ${quote(text)}`);
  return fail(`${HOST_EXPECTED}. Received ${quote(text)}`);
}

/** `host[:port]` (IPv6 with a port in brackets: `[2001:db8::7]:5060`). */
export function parseHostPort(text: string): Parsed<{ host: string; port: number | null }> {
  const expected = 'must be host[:port] like proxy.carrier.example:5060 or [2001:db8::7]:5060';
  const parts = splitHostPort(text);
  if (parts === null) return fail(`${expected}. Received ${quote(text)}`);
  if (parts.port === null) return fail(`port must be 1..65535. Received ${quote(text)}`);
  // `2001:db8::1:5060` is both a valid address and an address with a port: brackets decide.
  if (!parts.bracketed && parts.host.includes(':')) return fail(`${expected} (an IPv6 address always in brackets). Received ${quote(text)}`);
  if (parts.bracketed ? ipv6Bytes(parts.host) === null : !(isIPv4(parts.host) || ipv6Bytes(parts.host) !== null || isHostName(parts.host))) {
    return fail(`${expected}. Received ${quote(text)}`);
  }
  return ok({ host: parts.host, port: parts.port ?? null });
}

/** A value for a message: JSON-quoted, cut at 60 characters so a pasted blob does not flood the screen. */
export function quote(text: string): string {
  const json = JSON.stringify(text);
  return json.length <= 62 ? json : `${json.slice(0, 58)}..."`;
}
