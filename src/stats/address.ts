/**
 * Address arithmetic for filters and the area analysis: an IP or CIDR as bytes, membership, and the
 * /24 (IPv4) or /64 (IPv6) prefix an address falls in. Pure functions over strings.
 */
import { addressToBytes } from '../net/index.js';
import type { Cidr } from '../config/types.js';

/** The address as bytes (4 or 16); an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) reads as IPv4. */
export const addressBytes = addressToBytes;

/** An address range to match sources against. */
export interface Range {
  readonly text: string;
  readonly bytes: Uint8Array;
  readonly prefixLength: number;
}

/** `10.1.2.3`, `10.1.2.0/24`, `2001:db8::/32`; host bits are ignored (a filter, not a config). */
export function parseRange(text: string): Range | null {
  const slash = text.indexOf('/');
  const bytes = addressBytes(slash < 0 ? text : text.slice(0, slash));
  if (bytes === null) return null;
  const bits = bytes.length * 8;
  let prefixLength = bits;
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > bits) return null;
    prefixLength = Number(lengthText);
  }
  return { text, bytes, prefixLength };
}

export function rangeOfCidr(c: Cidr): Range {
  return { text: c.text, bytes: c.bytes, prefixLength: c.prefixLength };
}

export function inRange(address: Uint8Array, range: Range): boolean {
  if (address.length !== range.bytes.length) return false;
  const full = range.prefixLength >> 3;
  for (let i = 0; i < full; i++) if (address[i] !== range.bytes[i]) return false;
  const rest = range.prefixLength & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((address[full]! ^ range.bytes[full]!) & mask) === 0;
}

/** The /24 of an IPv4 address or the /64 of an IPv6 one, as text (`203.0.113.0/24`, `2001:db8:0:1::/64`). */
export function defaultPrefix(address: string): string {
  const bytes = addressBytes(address);
  if (bytes === null) return address === '' ? '(unknown)' : address;
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.0/24`;
  const groups: string[] = [];
  for (let i = 0; i < 8; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return `${groups.join(':')}::/64`;
}
