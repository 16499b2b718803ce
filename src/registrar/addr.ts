// Source-address tests of the REGISTER path: `allow` CIDR matching (issue 4 "Per-account policy") and
// NAT detection (issue 4 "NAT"). The source address arrives as rinfo's string; it is parsed into one
// module-level scratch array, so a check allocates nothing for IPv4 (IPv6 goes through config/net).
import { ipv6Bytes } from '../config/net.js';
import { classifyAddress, isPrivateOrUnroutable, sameAddress } from '../net/index.js';
import type { AllowEntry, Cidr } from '../config/types.js';

const scratch = new Uint8Array(16);

/**
 * Parses a dotted-quad into scratch[0..4). Returns false when the text is not one. Strict enough for
 * rinfo.address (always canonical) and liberal enough for a Via/Contact host (no leading-zero rules).
 */
function parseV4Into(text: string, out: Uint8Array): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || part === 3) return false;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30);
      digits++;
      if (value > 255 || digits > 3) return false;
    } else {
      return false;
    }
  }
  if (digits === 0 || part !== 3) return false;
  out[3] = value;
  return true;
}

/** Family of `text` with its bytes left in the returned array (scratch; read before the next call), or 0. */
function addressBytes(text: string): { family: 0 | 4 | 6; bytes: Uint8Array } {
  if (parseV4Into(text, scratch)) return v4Result;
  // "::ffff:a.b.c.d": an IPv4 peer on a dual-stack socket; config ranges for it are written as IPv4.
  if (text.length > 7 && text.charCodeAt(0) === 0x3a && text.startsWith('::ffff:') && parseV4Into(text.slice(7), scratch)) return v4Result;
  const v6 = ipv6Bytes(text.charCodeAt(0) === 0x5b ? text.slice(1, -1) : text);
  if (v6 === null) return noneResult;
  scratch.set(v6);
  return v6Result;
}
const v4Result = { family: 4 as const, bytes: scratch };
const v6Result = { family: 6 as const, bytes: scratch };
const noneResult = { family: 0 as const, bytes: scratch };

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
  const { family, bytes } = addressBytes(address);
  if (family === 0) return false;
  for (let i = 0; i < allow.length; i++) {
    const entry = allow[i]!;
    if (entry.port !== null && entry.port !== port) continue;
    if (cidrContains(entry.cidr, family, bytes)) return true;
  }
  return false;
}

/**
 * Whether a host is an address a phone cannot be reached at from outside its own network (RFC 1918,
 * CGNAT, link-local, ULA, unspecified, reserved; net/address.ts classifies). Loopback is not counted:
 * a phone on the appliance itself, or a test client on 127.0.0.x, is reached where it came from.
 */
export function isPrivateHost(host: string): boolean {
  return isPrivateOrUnroutable(classifyAddress(host));
}

/** Strips IPv6 brackets from a URI/Via host (`[::1]` → `::1`) without allocating for the usual case. */
export function bareHost(host: string): string {
  return host.length > 1 && host.charCodeAt(0) === 0x5b && host.charCodeAt(host.length - 1) === 0x5d ? host.slice(1, -1) : host;
}

/**
 * NAT detection for one contact (issue 4): the Contact or the top Via names a private/unroutable
 * host, or a host/port other than the address/port the datagram came from. `port` -1 means the URI
 * gave none (5060 then applies, RFC 3263 §4.2 for UDP). A host name (not an IP literal) counts as
 * differing: the phone is then reached at its source address, which is what NAT handling does anyway.
 */
export function looksNatted(host: string, port: number, sourceAddress: string, sourcePort: number): boolean {
  if (isPrivateHost(host)) return true;
  if ((port < 0 ? 5060 : port) !== sourcePort) return true;
  return !sameAddress(host, sourceAddress);
}
