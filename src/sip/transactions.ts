// Non-INVITE server transactions (RFC 3261 §17.2.2) reduced to what a UDP registrar needs: a bounded
// cache that answers a retransmitted request with the same final response for Timer J (32 s), and an
// in-progress mark that absorbs a retransmission arriving while the first copy is still being processed
// (the registrar waits for an LMDB commit before answering). No timer per transaction: entries expire
// lazily on lookup and by `sweep`, and the oldest is evicted when the cache is full.
//
// Strangers choose the keys (Via branches), and receive() runs for every request: the index is hashed
// with a secret random key per process (keyed-hash.ts), so nobody can aim keys at one bucket, and each
// bucket's chain is bounded (limits.transactionProbeMax; a full bucket gives up its oldest entry), so
// no datagram costs more than a few short walks whatever it carries. `sweep` works in bounded slices.
import { assert } from '../assert.js';
import { limits } from '../limits.js';
import { TIMER_J_MS } from './timers.js';
import { copyBytes } from './scan.js';
import { HashKey, keyedHash } from './keyed-hash.js';
import {
  V_BRANCH_S, V_BRANCH_E, V_HOST_S, V_HOST_E, V_PORT, V_START, V_END, N_TAG_S, N_TAG_E, U_START, U_END,
} from './message.js';
import type { SipMessage } from './message.js';
import type { RemoteAddress } from './write.js';

/**
 * - 'new': first copy; now marked in progress, `handle` names it for complete()/abandon().
 * - 'in-progress': a retransmission of a request still being processed: drop it (it is absorbed).
 * - 'completed': a retransmission of an answered request: resend the cached response (copyResponse).
 * - 'uncacheable': the key does not fit limits.transactionKeySizeMax: process it, nothing is cached.
 */
export type TransactionState = 'new' | 'in-progress' | 'completed' | 'uncacheable';

const FREE = 0, IN_PROGRESS = 1, COMPLETED = 2;

export interface TransactionCounters {
  created: number;
  absorbed: number;
  retransmitted: number;
  evicted: number;
  expired: number;
  uncacheable: number;
}

export class ServerTransactions {
  readonly counters: TransactionCounters = { created: 0, absorbed: 0, retransmitted: 0, evicted: 0, expired: 0, uncacheable: 0 };
  /** After receive() returned 'new': the handle of the new transaction. */
  handle = -1;
  private readonly capacity: number;
  private readonly keySizeMax: number;
  private readonly responseSizeMax: number;
  private readonly timerJMs: number;
  private readonly keys: Buffer;
  private readonly keyLength: Int32Array;
  private readonly hashes: Int32Array;
  private readonly state: Uint8Array;
  private readonly expiresAtMs: Float64Array;
  private readonly generation: Int32Array;
  private readonly responses: Buffer;
  private readonly responseLength: Int32Array;
  private readonly slotSize: number;
  /** Large-answer slots (responseSizeMax each): a free stack, and which one an entry holds (-1: none). */
  private readonly large: Buffer;
  private readonly largeFree: Int32Array;
  private largeFreeCount: number;
  private readonly entryLarge: Int32Array;
  private readonly bucketHead: Int32Array;
  /** Entries chained in each bucket, never above probeMax. */
  private readonly bucketLength: Uint8Array;
  private readonly chainNext: Int32Array;
  private readonly bucketMask: number;
  private readonly probeMax: number;
  private readonly hashKey = new HashKey();
  private readonly scratch: Buffer;
  private next = 0; // ring position of the next insertion; the oldest entry sits here when full
  private sweepNext = 0; // where the next sweep slice starts
  private foundIndex = -1;
  private liveCount = 0;

  constructor(capacity: number = limits.transactionCacheMax, timerJMs: number = TIMER_J_MS,
    responseSizeMax: number = limits.responseSizeMax, keySizeMax: number = limits.transactionKeySizeMax,
    slotSize: number = Math.min(limits.transactionResponseSlotSize, responseSizeMax), largeCount: number = limits.transactionLargeResponseCount,
    probeMax: number = limits.transactionProbeMax) {
    assert(slotSize >= 1 && slotSize <= responseSizeMax, 'slotSize >= 1 && slotSize <= responseSizeMax');
    assert(probeMax >= 1 && probeMax <= 255, 'probeMax >= 1 && probeMax <= 255'); // bucketLength is a Uint8Array
    assert(largeCount >= 0, 'largeCount >= 0');
    assert(capacity >= 1 && capacity <= 65_536, 'capacity >= 1 && capacity <= 65_536');
    assert(timerJMs > 0, 'timerJMs > 0');
    this.capacity = capacity;
    this.timerJMs = timerJMs;
    this.responseSizeMax = responseSizeMax;
    this.keySizeMax = keySizeMax;
    this.keys = Buffer.allocUnsafeSlow(capacity * keySizeMax);
    this.keyLength = new Int32Array(capacity);
    this.hashes = new Int32Array(capacity);
    this.state = new Uint8Array(capacity);
    this.expiresAtMs = new Float64Array(capacity);
    this.generation = new Int32Array(capacity);
    this.slotSize = slotSize;
    this.responses = Buffer.allocUnsafeSlow(capacity * slotSize); // pages are touched only when used
    this.responseLength = new Int32Array(capacity);
    this.large = Buffer.allocUnsafeSlow(Math.max(1, largeCount * responseSizeMax));
    this.largeFree = new Int32Array(largeCount);
    for (let k = 0; k < largeCount; k++) this.largeFree[k] = largeCount - 1 - k;
    this.largeFreeCount = largeCount;
    this.entryLarge = new Int32Array(capacity).fill(-1);
    let buckets = 1;
    while (buckets < capacity * 2) buckets *= 2;
    this.bucketHead = new Int32Array(buckets).fill(-1);
    this.bucketLength = new Uint8Array(buckets);
    this.bucketMask = buckets - 1;
    this.probeMax = probeMax;
    this.chainNext = new Int32Array(capacity).fill(-1);
    this.scratch = Buffer.alloc(keySizeMax);
  }

  get size(): number { return this.liveCount; }

  /**
   * Looks the request up by its transaction key and records it as in progress when new.
   * Key (RFC 3261 §17.2.3): with a branch carrying the magic cookie and more, the branch, the sent-by
   * and the method; for RFC 2543 requests (no cookie, or a bare cookie as in RFC 4475 §3.2.1) the
   * Request-URI, From tag, To tag, Call-ID, CSeq and top Via instead. The source address and port are
   * part of the key in both cases, so a forged branch from elsewhere cannot replay someone's response.
   */
  receive(msg: SipMessage, source: RemoteAddress, nowMs: number): TransactionState {
    assert(msg.isRequest, 'msg.isRequest');
    assert(msg.viaOk, 'msg.viaOk');
    const keyLength = this.buildKey(msg, source);
    if (keyLength < 0) { this.counters.uncacheable++; return 'uncacheable'; }
    const hash = keyedHash(this.hashKey, this.scratch, 0, keyLength) | 0;
    const bucket = hash & this.bucketMask;
    // At most probeMax entries (bucketLength), so a lookup is bounded whatever the keys.
    for (let i = this.bucketHead[bucket]!; i >= 0; i = this.chainNext[i]!) {
      if (this.hashes[i] !== hash || this.keyLength[i] !== keyLength) continue;
      if (this.keys.compare(this.scratch, 0, keyLength, i * this.keySizeMax, i * this.keySizeMax + keyLength) !== 0) continue;
      if (this.expiresAtMs[i]! <= nowMs) { this.counters.expired++; this.remove(i); break; }
      if (this.state[i] === IN_PROGRESS) { this.counters.absorbed++; return 'in-progress'; }
      this.foundIndex = i;
      this.counters.retransmitted++;
      return 'completed';
    }
    // Insert at the ring position, evicting what was there (the oldest entry).
    const i = this.next;
    this.next = (this.next + 1) % this.capacity;
    if (this.state[i] !== FREE) { this.counters.evicted++; this.remove(i); }
    // A full bucket (only likely if the hash key were known) gives up its oldest entry: its tail.
    if (this.bucketLength[bucket]! >= this.probeMax) { this.counters.evicted++; this.remove(this.oldestIn(bucket)); }
    copyBytes(this.scratch, 0, keyLength, this.keys, i * this.keySizeMax);
    this.keyLength[i] = keyLength;
    this.hashes[i] = hash;
    this.state[i] = IN_PROGRESS;
    this.expiresAtMs[i] = nowMs + this.timerJMs;
    this.generation[i] = (this.generation[i]! + 1) & 0x7fff;
    this.chainNext[i] = this.bucketHead[bucket]!;
    this.bucketHead[bucket] = i;
    this.bucketLength[bucket]!++;
    this.liveCount++;
    this.counters.created++;
    this.handle = this.generation[i]! * 65_536 + i;
    return 'new';
  }

  /** After 'completed': copies the cached response into `target` (a response slot); returns its length. */
  copyResponse(target: Buffer): number {
    const i = this.foundIndex;
    assert(i >= 0 && this.state[i] === COMPLETED, 'i >= 0 && this.state[i] === COMPLETED');
    const n = this.responseLength[i]!;
    assert(n <= target.length, 'n <= target.length');
    const k = this.entryLarge[i]!;
    if (k >= 0) return copyBytes(this.large, k * this.responseSizeMax, k * this.responseSizeMax + n, target, 0);
    return copyBytes(this.responses, i * this.slotSize, i * this.slotSize + n, target, 0);
  }

  /**
   * Stores the final response of transaction `handle` and starts Timer J. Returns false when the entry
   * was evicted meanwhile, or the answer is larger than a slot and no large slot is free (the response is
   * then simply not cached). Provisional responses are not cached.
   */
  complete(handle: number, response: Buffer, length: number, nowMs: number): boolean {
    assert(length > 0 && length <= response.length, 'length > 0 && length <= response.length');
    assert(length <= this.responseSizeMax, 'length <= this.responseSizeMax');
    const i = handle % 65_536;
    if (!this.owns(handle)) return false;
    if (length <= this.slotSize) {
      copyBytes(response, 0, length, this.responses, i * this.slotSize);
    } else if (this.largeFreeCount > 0) {
      const k = this.largeFree[--this.largeFreeCount]!;
      this.entryLarge[i] = k;
      copyBytes(response, 0, length, this.large, k * this.responseSizeMax);
    } else {
      // No large slot free: not cached; a retransmission of the request is processed again.
      this.counters.uncacheable++;
      this.remove(i);
      return false;
    }
    this.responseLength[i] = length;
    this.state[i] = COMPLETED;
    this.expiresAtMs[i] = nowMs + this.timerJMs;
    return true;
  }

  /** Forgets an in-progress transaction that will not be answered (so a retransmission is processed). */
  abandon(handle: number): void {
    if (this.owns(handle)) this.remove(handle % 65_536);
  }

  /**
   * Removes expired entries among the next `slotCountMax` slots (all of them by default), continuing
   * where the previous call stopped; call from one periodic timer with limits.transactionSweepSliceMax
   * so that no pass holds the event loop for long. Returns the count removed.
   */
  sweep(nowMs: number, slotCountMax: number = this.capacity): number {
    assert(slotCountMax >= 1, 'slotCountMax >= 1');
    const count = Math.min(slotCountMax, this.capacity);
    let n = 0;
    let i = this.sweepNext;
    for (let k = 0; k < count; k++) {
      if (this.state[i] !== FREE && this.expiresAtMs[i]! <= nowMs) { this.remove(i); n++; }
      if (++i === this.capacity) i = 0;
    }
    this.sweepNext = i;
    this.counters.expired += n;
    return n;
  }

  /** The longest chain in the index (tests; never above probeMax). */
  longestChain(): number {
    let m = 0;
    for (let b = 0; b <= this.bucketMask; b++) if (this.bucketLength[b]! > m) m = this.bucketLength[b]!;
    return m;
  }

  private owns(handle: number): boolean {
    assert(handle >= 0, 'handle >= 0');
    const i = handle % 65_536;
    assert(i < this.capacity, 'i < this.capacity');
    return this.state[i] === IN_PROGRESS && this.generation[i] === Math.floor(handle / 65_536);
  }

  private remove(i: number): void {
    assert(this.state[i] !== FREE, 'this.state[i] !== FREE');
    const bucket = this.hashes[i]! & this.bucketMask;
    let prev = -1;
    let j = this.bucketHead[bucket]!;
    while (j !== i) {
      assert(j >= 0, 'j >= 0'); // every live entry is chained in its bucket
      prev = j;
      j = this.chainNext[j]!;
    }
    if (prev < 0) this.bucketHead[bucket] = this.chainNext[i]!;
    else this.chainNext[prev] = this.chainNext[i]!;
    assert(this.bucketLength[bucket]! > 0, 'this.bucketLength[bucket]! > 0');
    this.bucketLength[bucket]!--;
    this.chainNext[i] = -1;
    const k = this.entryLarge[i]!;
    if (k >= 0) { this.largeFree[this.largeFreeCount++] = k; this.entryLarge[i] = -1; }
    this.state[i] = FREE;
    this.liveCount--;
  }

  /** The entry chained last in `bucket`, i.e. the oldest there (entries are chained at the head). */
  private oldestIn(bucket: number): number {
    let j = this.bucketHead[bucket]!;
    assert(j >= 0, 'j >= 0');
    while (this.chainNext[j]! >= 0) j = this.chainNext[j]!;
    return j;
  }

  /** Writes the key into scratch; returns its length or -1 when it does not fit. */
  private buildKey(msg: SipMessage, source: RemoteAddress): number {
    const k = this.scratch;
    const max = this.keySizeMax;
    const buf = msg.buf;
    const v = msg.viaTable;
    let n = 0;
    const need = (msg.methodEnd - msg.methodStart) + source.address.length + 4;
    if (need > max) return -1;
    n += copyBytes(buf, msg.methodStart, msg.methodEnd, k, n);
    k[n++] = 0;
    k[n++] = source.port >>> 8;
    k[n++] = source.port & 0xff;
    n += k.write(source.address, n, 'latin1');
    k[n++] = 0;
    if (msg.via.isRfc3261Branch) {
      const bl = v[V_BRANCH_E]! - v[V_BRANCH_S]!;
      const hl = v[V_HOST_E]! - v[V_HOST_S]!;
      if (n + bl + hl + 4 > max) return -1;
      n += copyBytes(buf, v[V_BRANCH_S]!, v[V_BRANCH_E]!, k, n);
      k[n++] = 0;
      n += copyBytes(buf, v[V_HOST_S]!, v[V_HOST_E]!, k, n);
      const port = v[V_PORT]! < 0 ? 0 : v[V_PORT]!;
      k[n++] = port >>> 8;
      k[n++] = port & 0xff;
      return n;
    }
    const f = msg.fromTable;
    const t = msg.toTable;
    const fl = f[N_TAG_S]! >= 0 ? f[N_TAG_E]! - f[N_TAG_S]! : 0;
    const tl = t[N_TAG_S]! >= 0 ? t[N_TAG_E]! - t[N_TAG_S]! : 0;
    const cl = msg.callIdEnd - msg.callIdStart;
    const vl = v[V_END]! - v[V_START]!;
    const ul = msg.requestUriTable[U_END]! - msg.requestUriTable[U_START]!;
    if (n + fl + tl + cl + vl + ul + 9 > max) return -1;
    n += copyBytes(buf, msg.callIdStart, msg.callIdEnd, k, n);
    k[n++] = 0;
    k.writeUInt32BE(msg.cseq, n); n += 4;
    if (fl > 0) n += copyBytes(buf, f[N_TAG_S]!, f[N_TAG_E]!, k, n);
    k[n++] = 0;
    if (tl > 0) n += copyBytes(buf, t[N_TAG_S]!, t[N_TAG_E]!, k, n);
    k[n++] = 0;
    n += copyBytes(buf, v[V_START]!, v[V_END]!, k, n);
    k[n++] = 0;
    n += copyBytes(buf, msg.requestUriTable[U_START]!, msg.requestUriTable[U_END]!, k, n);
    return n;
  }
}
