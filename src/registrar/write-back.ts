// Write-back of refreshes. A refresh (the same binding, same reach address and state, only a
// later expiry: policy.ts marks it `quiet`) is answered at once; its new times wait here, keyed by number
// and contact key, each binding once however often it refreshed, and go to the store with the next
// flush (store/flush.ts), in one transaction for all of them. The refreshes of one number in one
// interval become one `refreshed` history row (the last one's time, source, User-Agent and detail, and
// how many there were).
//
// What the store does not have yet is laid over what is read from it (overlay()): the REGISTER path,
// the sweep and the keepalive all decide on the expiry the phone was given. A binding removed or
// replaced in the store meanwhile (another process, a change of ours) is not touched: a slot applies
// only to the binding it refreshed (refreshed earlier, expiring no later: store/bindings.ts ExpiryMove).
//
// The promise bound: a refresh may be answered from memory only until the flush horizon (the last
// durable mark: two intervals after the last durable flush) and only for an expiry at most
// horizon + the binding's durable expiresS, the bound the recovery rule restores after a crash. While
// a flush is on its way to disk the durable expiresS is the lower of the one it replaces and the one it
// writes, so overlay() hands the policy that one.
//
// Memory: one small object per number refreshed in the last intervals (at most writeBackNumbersMax:
// beyond it a refresh is committed like a change), its slots and text reused while it keeps refreshing;
// states idle for two flushes go back to a pool.
import * as codec from '../store/binding-codec.js';
import { ExpiryMove, copyInto, type ExpiryOverlay, type FlushPart, type Store, type StoreFlush, type StoredBindings } from '../store/index.js';
import type { Apply } from './policy.js';
import { registrarLimits } from '../limits.js';

const { Str } = codec;
const EMPTY = Buffer.alloc(0);

class Slot {
  key: Buffer = EMPTY;
  keyLength = 0;
  expiresAtMs = 0;
  refreshedAtMs = 0;
  expiresS = 0;
  cseq = 0;
  /** Refreshed since it was last handed to a flush. */
  dirty = false;
  /** Handed to the flush in flight: the expiresS it writes and the one it replaces (-1: none). */
  inFlight = false;
  flushingS = -1;
  replacedS = -1;

  setKey(src: Buffer, start: number, length: number): void {
    if (this.key.length < length) this.key = Buffer.allocUnsafe(Math.max(length, 48));
    copyInto(src, start, start + length, this.key, 0);
    this.keyLength = length;
  }

  is(src: Buffer, start: number, length: number): boolean {
    if (this.keyLength !== length) return false;
    const k = this.key;
    for (let i = 0; i < length; i++) if (k[i] !== src[start + i]) return false;
    return true;
  }
}

/** One number's pending refreshes and the history row that stands for them. */
class NumberRefreshes {
  number = '';
  readonly slots: Slot[] = [];
  slotCount = 0;
  dirtyCount = 0;
  inFlight = false;
  /** Refreshes since the last row was written; the first one's time; the last one's row fields. */
  refreshes = 0;
  firstAtMs = 0;
  lastAtMs = 0;
  row: Buffer = EMPTY;
  sourceLength = 0;
  userAgentLength = 0;
  detailLength = 0;
  idleFlushes = 0;

  find(src: Buffer, start: number, length: number): Slot | null {
    for (let i = 0; i < this.slotCount; i++) {
      const s = this.slots[i]!;
      if (s.is(src, start, length)) return s;
    }
    return null;
  }

  add(): Slot {
    let s = this.slots[this.slotCount];
    if (s === undefined) { s = new Slot(); this.slots.push(s); }
    this.slotCount++;
    s.dirty = false;
    s.inFlight = false;
    s.flushingS = -1;
    s.replacedS = -1;
    return s;
  }

  /** Keeps the slots still dirty (the others are in the store now), in order. */
  compact(): void {
    let n = 0;
    for (let i = 0; i < this.slotCount; i++) {
      const s = this.slots[i]!;
      if (!s.dirty) continue;
      if (i !== n) { this.slots[i] = this.slots[n]!; this.slots[n] = s; }
      n++;
    }
    this.slotCount = n;
  }

  setRow(src: Buffer, sourceStart: number, sourceLength: number, uaStart: number, uaLength: number,
    detailBuf: Buffer, detailStart: number, detailLength: number): void {
    const size = sourceLength + uaLength + detailLength;
    if (this.row.length < size) this.row = Buffer.allocUnsafe(Math.max(size, 2 * this.row.length, 160));
    copyInto(src, sourceStart, sourceStart + sourceLength, this.row, 0);
    copyInto(src, uaStart, uaStart + uaLength, this.row, sourceLength);
    copyInto(detailBuf, detailStart, detailStart + detailLength, this.row, sourceLength + uaLength);
    this.sourceLength = sourceLength;
    this.userAgentLength = uaLength;
    this.detailLength = detailLength;
  }
}

export class RefreshWriteBack implements FlushPart, ExpiryOverlay {
  private readonly byNumber = new Map<string, NumberRefreshes>();
  private readonly pool: NumberRefreshes[] = [];
  private readonly flushing: NumberRefreshes[] = [];
  private flushingCount = 0;
  private readonly move = new ExpiryMove();
  private dirty = 0;

  constructor(private readonly writes: StoreFlush, private readonly numbersMax: number = registrarLimits.writeBackNumbersMax) {
    writes.join(this);
    writes.overlay = this;
  }

  /** Bindings refreshed and not yet handed to a flush (tests, stats). */
  get pendingBindings(): number { return this.dirty; }

  /**
   * Until when a refresh of `number` may be answered from memory (the horizon of the last durable
   * flush); -Infinity when there is no room for one more number (then a refresh is committed).
   */
  horizonFor(number: string): number {
    if (this.byNumber.size >= this.numbersMax && !this.byNumber.has(number)) return Number.NEGATIVE_INFINITY;
    return this.writes.horizonMs;
  }

  /** A decision of quiet refreshes only (policy.ts), answered now: its times wait for the flush. */
  record(number: string, d: Apply, nowMs: number): void {
    let st = this.byNumber.get(number);
    if (st === undefined) {
      st = this.pool.pop() ?? new NumberRefreshes();
      st.number = number;
      st.slotCount = 0;
      st.dirtyCount = 0;
      st.refreshes = 0;
      st.inFlight = false;
      this.byNumber.set(number, st);
    }
    const buf = d.buf;
    for (let i = 0; i < d.changeCount; i++) {
      const rec = d.changeRec[i]!;
      const keyStart = codec.strStart(buf, rec, Str.key);
      const keyLength = codec.strLength(buf, rec, Str.key);
      let slot = st.find(buf, keyStart, keyLength);
      if (slot === null) {
        slot = st.add();
        slot.setKey(buf, keyStart, keyLength);
      }
      slot.expiresAtMs = codec.expiresAtMs(buf, rec);
      slot.refreshedAtMs = codec.refreshedAtMs(buf, rec);
      slot.expiresS = codec.expiresS(buf, rec);
      slot.cseq = codec.cseq(buf, rec);
      if (!slot.dirty) { slot.dirty = true; st.dirtyCount++; this.dirty++; }
    }
    const last = d.changeCount - 1;
    const rec = d.changeRec[last]!;
    st.setRow(buf, codec.strStart(buf, rec, Str.source), codec.strLength(buf, rec, Str.source),
      codec.strStart(buf, rec, Str.userAgent), codec.strLength(buf, rec, Str.userAgent), buf, d.detailStart[last]!, d.detailLength[last]!);
    if (st.refreshes === 0) st.firstAtMs = nowMs;
    st.refreshes += d.changeCount;
    st.lastAtMs = nowMs;
    st.idleFlushes = 0;
  }

  /** ExpiryOverlay: the refreshed times over the bindings just read for `number`. */
  overlay(number: string, into: StoredBindings): void {
    const st = this.byNumber.get(number);
    if (st === undefined || st.slotCount === 0) return;
    into.keepStoredExpiries();
    const buf = into.buf;
    for (let i = 0; i < into.count; i++) {
      const rec = into.recs[i]!;
      const slot = st.find(buf, codec.strStart(buf, rec, Str.key), codec.strLength(buf, rec, Str.key));
      if (slot === null) continue;
      if (slot.refreshedAtMs > codec.refreshedAtMs(buf, rec) && slot.expiresAtMs >= codec.expiresAtMs(buf, rec)) {
        codec.setRefreshTimes(buf, rec, slot.expiresAtMs, slot.refreshedAtMs, codec.expiresS(buf, rec), slot.cseq);
      }
      if (slot.inFlight) {
        let s = codec.expiresS(buf, rec);
        if (slot.flushingS >= 0 && slot.flushingS < s) s = slot.flushingS;
        if (slot.replacedS >= 0 && slot.replacedS < s) s = slot.replacedS;
        codec.setExpiresS(buf, rec, s);
      }
    }
  }

  /** FlushPart: every dirty binding's times (only if still the binding refreshed) and one row per number. */
  write(store: Store, _nowMs: number): void {
    const rows = this.writes.rows;
    this.flushingCount = 0;
    for (const st of this.byNumber.values()) {
      if (st.dirtyCount > 0) {
        this.move.begin(store, st.number);
        for (let i = 0; i < st.slotCount; i++) {
          const slot = st.slots[i]!;
          if (!slot.dirty) continue;
          slot.replacedS = this.move.move(slot.key, 0, slot.keyLength, slot.expiresAtMs, slot.refreshedAtMs, slot.expiresS, slot.cseq);
          slot.flushingS = slot.expiresS;
          slot.dirty = false;
          slot.inFlight = true;
        }
        this.move.end();
        this.dirty -= st.dirtyCount;
        st.dirtyCount = 0;
        st.inFlight = true;
        this.flushing[this.flushingCount++] = st;
      }
      if (st.refreshes > 0) {
        const n = st.refreshes;
        const row = st.row;
        try {
          rows.begin(st.lastAtMs, 'refreshed').text(st.number).next()
            .bytes(row, 0, st.sourceLength).next()
            .bytes(row, st.sourceLength, st.userAgentLength).next()
            .bytes(row, st.sourceLength + st.userAgentLength, st.detailLength)
            .text(`; ${n} refresh${n === 1 ? '' : 'es'} of this number since ${new Date(st.firstAtMs).toISOString()} (one row per SS_STORE_FLUSH_INTERVAL)`)
            .endRow();
        } catch {
          rows.dropPartial();
        }
        st.refreshes = 0;
      } else if (!st.inFlight && st.dirtyCount === 0 && ++st.idleFlushes > 2) {
        this.byNumber.delete(st.number);
        st.number = '';
        st.slotCount = 0;
        if (this.pool.length < 4096) this.pool.push(st);
      }
    }
  }

  /** FlushPart: durable, or failed (then the bindings it held are dirty again, for the next flush). */
  settled(ok: boolean): void {
    for (let k = 0; k < this.flushingCount; k++) {
      const st = this.flushing[k]!;
      for (let i = 0; i < st.slotCount; i++) {
        const slot = st.slots[i]!;
        if (!slot.inFlight) continue;
        slot.inFlight = false;
        slot.flushingS = -1;
        slot.replacedS = -1;
        if (!ok && !slot.dirty) { slot.dirty = true; st.dirtyCount++; this.dirty++; }
      }
      st.inFlight = false;
      if (ok) st.compact();
    }
    this.flushingCount = 0;
  }
}
