// Source-address tests of the REGISTER path: `allow` CIDR matching and NAT detection. The source address arrives as rinfo's string; net/ parses it into one
// module-level scratch array, so a check allocates nothing.
import { classifyAddress, isPrivateOrUnroutable, parseAddress, sameAddress, type AddressFamily, type Chars } from '../net/index.js';
import type { AllowEntry, Cidr } from '../config/types.js';

const scratch = new Uint8Array(16);

/** Family of `text` (brackets accepted) with its bytes left in scratch (read before the next call), or 0.
 *  A v4-mapped IPv6 source (a dual-stack socket) reads as IPv4, so IPv4 ranges match it. */
function parseInto(text: string): AddressFamily {
  const end = text.length;
  if (end > 2 && text.charCodeAt(0) === 0x5b && text.charCodeAt(end - 1) === 0x5d) return parseAddress(text, scratch, 1, end - 1);
  return parseAddress(text, scratch, 0, end);
}

function cidrContains(cidr: Cidr, family: number, bytes: Uint8Array): boolean {
  if (cidr.family !== family) return false;
  let bits = cidr.prefixLength;
  for (let i = 0; bits > 0; i++) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (cidr.bytes[i]! & mask)) return false;
    bits -= 8;
  }
  return true;
}

/**
 * Whether a source matches an `allow` list. An empty list allows any source. An entry with a port
 * (`203.0.113.7:5062`) also requires that source port (auth_mode ip_port needs one on each entry,
 * the config loader checks that); without a port any port matches.
 */
export function allowMatches(allow: readonly AllowEntry[], address: string, port: number): boolean {
  if (allow.length === 0) return true;
  const family = parseInto(address);
  if (family === 0) return false;
  for (let i = 0; i < allow.length; i++) {
    const entry = allow[i]!;
    if (entry.port !== null && entry.port !== port) continue;
    if (cidrContains(entry.cidr, family, scratch)) return true;
  }
  return false;
}

/**
 * Whether a host is an address a phone cannot be reached at from outside its own network (RFC 1918,
 * CGNAT, link-local, ULA, unspecified, reserved; net/address.ts classifies). Loopback is not counted:
 * a phone on the appliance itself, or a test client on 127.0.0.x, is reached where it came from.
 */
export function isPrivateHost(host: Chars): boolean {
  return isPrivateOrUnroutable(classifyAddress(host));
}

/**
 * NAT detection for one contact: the Contact or the top Via names a private/unroutable
 * host, or a host/port other than the address/port the datagram came from. `port` -1 means the URI
 * gave none (5060 then applies, RFC 3263 §4.2 for UDP). A host name (not an IP literal) counts as
 * differing: the phone is then reached at its source address, which is what NAT handling does anyway.
 */
export function looksNatted(host: Chars, port: number, sourceAddress: string, sourcePort: number): boolean {
  if (isPrivateHost(host)) return true;
  if ((port < 0 ? 5060 : port) !== sourcePort) return true;
  return !sameAddress(host, sourceAddress);
}
