// Stateless digest nonces (RFC 7616 §3.3 "nonce ... e.g. time-stamp H(time-stamp ":" ETag ":" secret)")
// and the nonce-count replay table (RFC 7616 §3.4.5 / RFC 2617 §3.2.2 "nc").
//
// A nonce is base64url(issuedAtMs:6 bytes | counter:2 bytes | SHA-256(secret | those 8)[0..10]):
// 24 characters. The MAC is a secret-prefix hash over a message of fixed length (8 bytes): length
// extension cannot forge it (it yields MACs only for longer messages, which are not nonces), and the
// one-shot crypto.hash over a preallocated buffer costs half an HMAC object per challenge and check. Nothing is kept per challenge: any process holding the secret can check one, and the
// secret lives in the store's meta so a restart (or a second worker) keeps outstanding nonces valid.
// The counter makes every nonce unique, so the replay table can be keyed by nonce alone.
import assert from 'node:assert';
import { createHmac, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/index.js';
import type { DigestAlgorithm } from '../config/types.js';
import { registrarLimits } from './limits.js';

const META_KEY = 'nonce_secret';
const SECRET_SIZE = 32;
const HEAD_SIZE = 8;
const MAC_SIZE = 10;
export const NONCE_SIZE = HEAD_SIZE + MAC_SIZE;           // bytes before base64url
export const NONCE_TEXT_LENGTH = 24;                      // base64url of 18 bytes, no padding

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
  assert(settled instanceof Uint8Array);
  return Buffer.from(settled);
}

export type NonceCheck = 'ok' | 'stale' | 'invalid';

export class NonceIssuer {
  private counter = 0;
  private readonly head = Buffer.alloc(NONCE_SIZE);
  private readonly decoded = Buffer.alloc(NONCE_SIZE + 8);
  // Views made once, so a check allocates only what node:crypto does (the digest Buffer).
  private readonly decodedMac = this.decoded.subarray(HEAD_SIZE, NONCE_SIZE);
  private readonly expectedMac = Buffer.alloc(MAC_SIZE);
  /** secret | 8-byte head: the MAC input, the head rewritten per nonce. */
  private readonly macInput: Buffer;
  private readonly macHead: Buffer;
  /** issuedAtMs of the nonce last read by `check`, valid when it returned 'ok' or 'stale'. */
  issuedAtMs = 0;

  constructor(private readonly secret: Buffer) {
    assert(secret.length === SECRET_SIZE);
    this.macInput = Buffer.alloc(SECRET_SIZE + HEAD_SIZE);
    secret.copy(this.macInput, 0);
    this.macHead = this.macInput.subarray(SECRET_SIZE);
  }

  /** MAC of the 8-byte head `src[0..8)` into `dst[at..at+MAC_SIZE)`. */
  private mac(src: Buffer, dst: Buffer, at: number): void {
    for (let i = 0; i < HEAD_SIZE; i++) this.macHead[i] = src[i]!;
    // 'binary' (latin1) output: one short string instead of a Buffer with its own backing store.
    const digest = hash('sha256', this.macInput, 'binary');
    for (let i = 0; i < MAC_SIZE; i++) dst[at + i] = digest.charCodeAt(i);
  }

  issue(nowMs: number): string {
    const b = this.head;
    b.writeUIntBE(nowMs, 0, 6);
    this.counter = (this.counter + 1) & 0xffff;
    b.writeUInt16BE(this.counter, 6);
    this.mac(b, b, HEAD_SIZE);
    return b.toString('base64url');
  }

  /** Checks a nonce we might have issued: its MAC (constant time) and its age against `lifetimeS`. */
  check(nonce: string, nowMs: number, lifetimeS: number): NonceCheck {
    if (nonce.length !== NONCE_TEXT_LENGTH) return 'invalid';
    const d = this.decoded;
    const n = d.write(nonce, 0, 'base64url');
    if (n !== NONCE_SIZE) return 'invalid';
    this.mac(d, this.expectedMac, 0);
    if (!timingSafeEqual(this.expectedMac, this.decodedMac)) return 'invalid';
    const issuedAtMs = d.readUIntBE(0, 6);
    this.issuedAtMs = issuedAtMs;
    if (issuedAtMs > nowMs + 5_000) return 'invalid'; // from the future: a clock jump back, or forged
    if (nowMs - issuedAtMs > lifetimeS * 1000) return 'stale';
    return 'ok';
  }

  /**
   * A deterministic stand-in HA1 for a number that has no account, so an unknown number is challenged
   * and fails exactly like a wrong password (issue 3): same work, same answers, same length.
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
  private readonly last = new Map<string, number>();
  private readonly ring: (string | null)[];
  private readonly ringIssuedAtMs: Float64Array;
  private ringNext = 0;
  /** Nonces issued at or before this, when absent from the table, may have been evicted. */
  watermarkMs = -1;

  constructor(readonly capacity: number = registrarLimits.nonceCountTableMax) {
    assert(capacity >= 1);
    this.ring = new Array<string | null>(capacity).fill(null);
    this.ringIssuedAtMs = new Float64Array(capacity);
  }

  get size(): number { return this.last.size; }

  /**
   * 'ok' records nc as the highest for this nonce; 'replay' when nc is not above the recorded one;
   * 'evicted' when the nonce may have been dropped from the table (answer with a fresh, stale nonce).
   */
  accept(nonce: string, issuedAtMs: number, nc: number): 'ok' | 'replay' | 'evicted' {
    const previous = this.last.get(nonce);
    if (previous !== undefined) {
      if (nc <= previous) return 'replay';
      this.last.set(nonce, nc);
      return 'ok';
    }
    if (issuedAtMs <= this.watermarkMs) return 'evicted';
    const slot = this.ringNext;
    const old = this.ring[slot];
    if (old !== null && old !== undefined) {
      this.last.delete(old);
      const oldIssued = this.ringIssuedAtMs[slot]!;
      if (oldIssued > this.watermarkMs) this.watermarkMs = oldIssued;
    }
    this.ring[slot] = nonce;
    this.ringIssuedAtMs[slot] = issuedAtMs;
    this.ringNext = slot + 1 === this.capacity ? 0 : slot + 1;
    this.last.set(nonce, nc);
    return 'ok';
  }
}
