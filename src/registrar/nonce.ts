// Stateless digest nonces (RFC 7616 §3.3 "nonce ... e.g. time-stamp H(time-stamp ":" ETag ":" secret)")
// and the nonce-count replay table (RFC 7616 §3.4.5 / RFC 2617 §3.2.2 "nc").
//
// A nonce is base64url(issuedAtMs:6 | start:4 | counter:2 | MAC[0..10]): 30 characters, where
// MAC = SHA-256(secret | those 12 bytes | family:1 | the source address:16). The MAC is a secret-prefix
// hash over a message of fixed length (29 bytes): length extension cannot forge it (it yields MACs only
// for longer messages, which are not nonces), and the one-shot crypto.hash over a preallocated buffer
// costs half an HMAC object per challenge and check. Nothing is kept per challenge.
//
// Bound to the source ADDRESS it was sent to (not the port: a NAT may move ports between the 401 and
// the phone's answer): a nonce fetched from one address fails the MAC from any other,
// so forged one-way packets "from" a phone's address get a fresh challenge and never count as that
// address's failures; a failure needs a round trip to the address it is counted against.
//
// `start` is random per process: the nonce-count table lives in memory, so after a
// restart an Authorization captured earlier could be replayed with a count the new process has never
// seen. A nonce of another start (its MAC still good: the secret is kept in the store's meta) is
// answered 401 stale=true, which phones follow without asking anyone for a password. Two starts
// sharing a value (2^-32) would re-open that window for the nonces of the earlier one only.
// The counter makes every nonce of one start unique, so the replay table can be keyed by nonce alone.
import { assert } from '../assert.js';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { hash } from '../sip/one-shot-hash.js';
import type { Store } from '../store/index.js';
import type { DigestAlgorithm } from '../config/types.js';
import { parseAddress } from '../net/index.js';
import { registrarLimits } from '../limits.js';

const META_KEY = 'nonce_secret';
const SECRET_SIZE = 32;
const START_SIZE = 4;
const HEAD_SIZE = 6 + START_SIZE + 2;
const ADDRESS_SIZE = 1 + 16;                              // family, then the address (IPv4 in the first 4)
const MAC_SIZE = 10;
export const NONCE_SIZE = HEAD_SIZE + MAC_SIZE;           // bytes before base64url
export const NONCE_TEXT_LENGTH = 30;                      // base64url of 22 bytes, no padding

/** The secret stored in meta, made on first start. Several processes racing here settle on one value. */
export function loadNonceSecret(store: Store): Buffer {
  const existing = store.meta.get(META_KEY);
  if (existing instanceof Uint8Array && existing.length === SECRET_SIZE) return Buffer.from(existing);
  const fresh = randomBytes(SECRET_SIZE);
  // ifNoExists: when another worker wrote one between our read and this write, theirs is kept.
  store.meta.transactionSync(() => {
    const again = store.meta.get(META_KEY);
    if (!(again instanceof Uint8Array && again.length === SECRET_SIZE)) store.meta.putSync(META_KEY, fresh);
  });
  const settled = store.meta.get(META_KEY);
  assert(settled instanceof Uint8Array, 'settled instanceof Uint8Array');
  return Buffer.from(settled);
}

export type NonceCheck = 'ok' | 'stale' | 'invalid';

export class NonceIssuer {
  private counter = 0;
  private readonly start: Buffer;
  private readonly head = Buffer.alloc(NONCE_SIZE);
  private readonly decoded = Buffer.alloc(NONCE_SIZE + 8);
  // Views made once, so a check allocates only what node:crypto does (the digest string).
  private readonly decodedMac = this.decoded.subarray(HEAD_SIZE, NONCE_SIZE);
  private readonly expectedMac = Buffer.alloc(MAC_SIZE);
  /** secret | head | family | address: the MAC input, all but the secret rewritten per nonce. */
  private readonly macInput: Buffer;
  private readonly macHead: Buffer;
  private readonly macAddress: Buffer;
  private readonly macAddressBytes: Buffer;
  /** issuedAtMs of the nonce last read by `check`, valid when it returned 'ok' or 'stale'. */
  issuedAtMs = 0;

  /** `start` (4 bytes) tells this process's nonces from those of earlier ones; random unless a test pins it. */
  constructor(private readonly secret: Buffer, start: Buffer = randomBytes(START_SIZE)) {
    assert(secret.length === SECRET_SIZE, 'secret.length === SECRET_SIZE');
    assert(start.length === START_SIZE, 'start.length === START_SIZE');
    this.start = Buffer.from(start);
    this.macInput = Buffer.alloc(SECRET_SIZE + HEAD_SIZE + ADDRESS_SIZE);
    secret.copy(this.macInput, 0);
    this.macHead = this.macInput.subarray(SECRET_SIZE, SECRET_SIZE + HEAD_SIZE);
    this.macAddress = this.macInput.subarray(SECRET_SIZE + HEAD_SIZE);
    this.macAddressBytes = this.macAddress.subarray(1);
  }

  /** MAC of the head `src[0..HEAD_SIZE)` for `address` into `dst[at..at+MAC_SIZE)`. */
  private mac(src: Buffer, address: string, dst: Buffer, at: number): void {
    for (let i = 0; i < HEAD_SIZE; i++) this.macHead[i] = src[i]!;
    const a = this.macAddress;
    a.fill(0);
    // The family byte keeps an IPv4 source apart from the IPv6 address 0:: that shares its bytes; a
    // v4-mapped source (a dual-stack socket) is its IPv4 address. Not an IP literal (never from a
    // socket): family 0, one value for all, which no other source matches.
    a[0] = parseAddress(address, this.macAddressBytes);
    // 'binary' (latin1) output: one short string instead of a Buffer with its own backing store.
    const digest = hash('sha256', this.macInput, 'binary');
    for (let i = 0; i < MAC_SIZE; i++) dst[at + i] = digest.charCodeAt(i);
  }

  /** A fresh nonce for a challenge sent to `address`. */
  issue(nowMs: number, address: string): string {
    const b = this.head;
    b.writeUIntBE(nowMs, 0, 6);
    this.start.copy(b, 6);
    this.counter = (this.counter + 1) & 0xffff;
    b.writeUInt16BE(this.counter, 6 + START_SIZE);
    this.mac(b, address, b, HEAD_SIZE);
    return b.toString('base64url');
  }

  /**
   * Checks a nonce in a request from `address`: its MAC (constant time), which fails for a nonce issued
   * to another address or not by us ('invalid'); then 'stale' for one of an earlier start of the
   * service or older than `lifetimeS`.
   */
  check(nonce: string, nowMs: number, lifetimeS: number, address: string): NonceCheck {
    if (nonce.length !== NONCE_TEXT_LENGTH) return 'invalid';
    const d = this.decoded;
    const n = d.write(nonce, 0, 'base64url');
    if (n !== NONCE_SIZE) return 'invalid';
    this.mac(d, address, this.expectedMac, 0);
    if (!timingSafeEqual(this.expectedMac, this.decodedMac)) return 'invalid';
    const issuedAtMs = d.readUIntBE(0, 6);
    this.issuedAtMs = issuedAtMs;
    if (d.compare(this.start, 0, START_SIZE, 6, 6 + START_SIZE) !== 0) return 'stale'; // issued before this start
    if (issuedAtMs > nowMs + 5_000) return 'invalid'; // from the future: a clock jump back, or forged
    if (nowMs - issuedAtMs > lifetimeS * 1000) return 'stale';
    return 'ok';
  }

  /**
   * A deterministic stand-in HA1 for a number that has no account, so an unknown number is challenged
   * and fails exactly like a wrong password: same work, same answers, same length.
   */
  fakeHa1(number: string, realm: string, algorithm: DigestAlgorithm): string {
    const mac = createHmac('sha256', this.secret).update('fake-ha1\0').update(number).update('\0').update(realm).digest('hex');
    return algorithm === 'MD5' ? mac.slice(0, 32) : mac;
  }
}

/**
 * Highest nonce-count seen per nonce. A request whose nc does not increase is refused (a replay, or a
 * phone that reused a count). Bounded: a ring of the nonces in order of first use; when a nonce is
 * evicted its issue time raises a watermark, and a nonce issued at or before the watermark that is no
 * longer in the table is answered as stale, so eviction can never reopen a replay. Allocation-free
 * apart from the Map's own entries.
 */
export class NonceCounts {
  /** Nonce → its ring slot; the slot holds its highest nc, so a refresh costs one Map lookup, no set. */
  private readonly slotOf = new Map<string, number>();
  private readonly ring: (string | null)[];
  private readonly ringIssuedAtMs: Float64Array;
  private readonly ringNc: Float64Array;
  private ringNext = 0;
  /** Nonces issued at or before this, when absent from the table, may have been evicted. */
  watermarkMs = -1;

  constructor(readonly capacity: number = registrarLimits.nonceCountTableMax) {
    assert(capacity >= 1, 'capacity >= 1');
    this.ring = new Array<string | null>(capacity).fill(null);
    this.ringIssuedAtMs = new Float64Array(capacity);
    this.ringNc = new Float64Array(capacity);
  }

  get size(): number { return this.slotOf.size; }

  /**
   * 'ok' records nc as the highest for this nonce; 'replay' when nc is not above the recorded one;
   * 'evicted' when the nonce may have been dropped from the table (answer with a fresh, stale nonce).
   */
  accept(nonce: string, issuedAtMs: number, nc: number): 'ok' | 'replay' | 'evicted' {
    const known = this.slotOf.get(nonce);
    if (known !== undefined) {
      if (nc <= this.ringNc[known]!) return 'replay';
      this.ringNc[known] = nc;
      return 'ok';
    }
    if (issuedAtMs <= this.watermarkMs) return 'evicted';
    const slot = this.ringNext;
    const old = this.ring[slot];
    if (old !== null && old !== undefined) {
      this.slotOf.delete(old);
      const oldIssued = this.ringIssuedAtMs[slot]!;
      if (oldIssued > this.watermarkMs) this.watermarkMs = oldIssued;
    }
    this.ring[slot] = nonce;
    this.ringIssuedAtMs[slot] = issuedAtMs;
    this.ringNc[slot] = nc;
    this.ringNext = slot + 1 === this.capacity ? 0 : slot + 1;
    this.slotOf.set(nonce, slot);
    return 'ok';
  }
}
