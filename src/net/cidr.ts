/**
 * CIDR lists compiled once (config load and reload) for allocation-free matching of the address string
 * a datagram's rinfo carries. IPv4 ranges (and IPv6 ranges inside ::ffff:0:0/96, which parseAddress
 * folds into IPv4) are grouped by prefix length, one Set of network numbers per length: a lookup costs
 * one Set probe per distinct prefix length, however long the list (a deny list of thousands of /32s is
 * one probe). IPv6 ranges are compared word by word, linearly: lists are short.
 */
import { assert } from '../assert.js';
import { parseAddress, type AddressFamily } from './address.js';

/** An address range as the config writes it (`203.0.113.0/24`, `2001:db8::/32`, or a bare address). */
export interface Cidr {
  readonly text: string;           // as written, for screens and logs
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;      // network address, 4 or 16 bytes
  readonly prefixLength: number;   // 0..32 or 0..128
}

export class CidrMatcher {
  /** Distinct IPv4 prefix lengths, longest first, and per length the set of masked networks. */
  private readonly v4Lengths: number[] = [];
  private readonly v4Masks: number[] = [];
  private readonly v4Networks: Set<number>[] = [];
  /** IPv6: 4 network words then 4 mask words per entry. */
  private readonly v6Words: Uint32Array;
  private readonly v6Count: number;
  readonly size: number;
  private readonly scratch = new Uint8Array(16);

  constructor(cidrs: readonly Cidr[]) {
    this.size = cidrs.length;
    const v6: Cidr[] = [];
    const byLength = new Map<number, Set<number>>();
    for (const c of cidrs) {
      assert(c.family === 4 ? c.bytes.length === 4 : c.bytes.length === 16, 'c.family === 4 ? c.bytes.length === 4 : c.bytes.length === 16');
      assert(c.prefixLength >= 0 && c.prefixLength <= (c.family === 4 ? 32 : 128), 'c.prefixLength >= 0 && c.prefixLength <= (c.family === 4 ? 32 : 128)');
      let length = c.prefixLength;
      let network: number;
      if (c.family === 6 && isMappedRange(c)) {
        length = c.prefixLength - 96;
        network = word(c.bytes, 12);
      } else if (c.family === 4) {
        network = word(c.bytes, 0);
      } else {
        v6.push(c);
        continue;
      }
      const mask = maskOf(length);
      let set = byLength.get(length);
      if (set === undefined) { set = new Set(); byLength.set(length, set); }
      set.add((network & mask) >>> 0);
    }
    for (const length of [...byLength.keys()].sort((a, b) => b - a)) {
      this.v4Lengths.push(length);
      this.v4Masks.push(maskOf(length));
      this.v4Networks.push(byLength.get(length)!);
    }
    this.v6Count = v6.length;
    this.v6Words = new Uint32Array(v6.length * 8);
    v6.forEach((c, i) => {
      for (let w = 0; w < 4; w++) {
        const bitsInWord = Math.max(0, Math.min(32, c.prefixLength - w * 32));
        const mask = maskOf(bitsInWord);
        this.v6Words[i * 8 + 4 + w] = mask;
        this.v6Words[i * 8 + w] = (word(c.bytes, w * 4) & mask) >>> 0;
      }
    });
  }

  /** Does an address literal fall in any range? False for text that is not an IP address. */
  matches(address: string): boolean {
    if (this.size === 0) return false;
    return this.matchesBytes(parseAddress(address, this.scratch), this.scratch);
  }

  /** Does an already parsed address (parseAddress's family and bytes) fall in any range? */
  matchesBytes(family: AddressFamily, bytes: Uint8Array): boolean {
    if (family === 4) {
      const value = word(bytes, 0);
      for (let i = 0; i < this.v4Lengths.length; i++) {
        if (this.v4Networks[i]!.has((value & this.v4Masks[i]!) >>> 0)) return true;
      }
      return false;
    }
    if (family === 6) {
      const w0 = word(bytes, 0), w1 = word(bytes, 4), w2 = word(bytes, 8), w3 = word(bytes, 12);
      const t = this.v6Words;
      for (let i = 0, o = 0; i < this.v6Count; i++, o += 8) {
        if (((w0 & t[o + 4]!) >>> 0) === t[o] && ((w1 & t[o + 5]!) >>> 0) === t[o + 1] &&
            ((w2 & t[o + 6]!) >>> 0) === t[o + 2] && ((w3 & t[o + 7]!) >>> 0) === t[o + 3]) return true;
      }
      return false;
    }
    return false;
  }
}

function word(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** An IPv6 range of v4-mapped addresses (::ffff:a.b.c.d/96+): matched as the IPv4 range it is. */
function isMappedRange(c: Cidr): boolean {
  if (c.prefixLength < 96) return false;
  for (let i = 0; i < 10; i++) if (c.bytes[i] !== 0) return false;
  return c.bytes[10] === 0xff && c.bytes[11] === 0xff;
}
