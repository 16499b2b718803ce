// Bindings (schema 3): one LMDB value per number holding all its bindings as bytes (binding-codec.ts),
// an expiry index [expiresAtMs, number] -> 1 byte, and the total binding count in meta. Every write
// goes through AorMerge inside a write transaction: it re-reads the number's value there, so writes
// from several processes (the service, `sipreg unregister`, the console) merge by contact key instead
// of overwriting each other, and the index and the count stay exact.
import type { Store } from './env.js';
import type { BindingRecord } from './records.js';
import {
  AOR_FORMAT, FLAG_KEEPALIVE, FLAG_NAT, flags, FLAG_UNREACHABLE, R_EXPIRES_AT, R_FLAGS, R_KA_ANSWERED, R_KA_MISSED, R_KA_SENT, RecordWriter, Str,
  decodeBinding, encodeBinding, expiresAtMs, expiresS, str, indexRecords, recordLength, recordSizeMax, refreshedAtMs, setRefreshTimes,
  strEquals, strSame,
} from './binding-codec.js';
import { KEY_MAX } from './keys.js';
import { Scratch, asValue, copyInto } from './bytes.js';

export type BindingStatus = 'registered' | 'expiring' | 'expired';

/** Record slots a reader starts with; the registrar keeps at most SERVER_REGISTRAR_MAX_BINDINGS (≤ 10)
 *  live, but lapsed ones stay until the sweep, so readers grow past this rather than drop any. */
export const AOR_RECORDS_MAX = 64;
/** meta key of the number of stored bindings (kept by AorMerge). */
export const BINDING_COUNT_KEY = 'binding_count';

/** Expiring: at most a tenth of the granted expiry left, or at most 10 s, whichever is longer. */
export function bindingStatus(b: BindingRecord, nowMs: number): BindingStatus {
  const leftMs = b.expiresAtMs - nowMs;
  if (leftMs <= 0) return 'expired';
  if (leftMs <= Math.max(10_000, b.expiresS * 100)) return 'expiring';
  return 'registered';
}

export function expiresInS(b: BindingRecord, nowMs: number): number {
  return Math.max(0, Math.ceil((b.expiresAtMs - nowMs) / 1000));
}

/** "ip:port", with brackets around an IPv6 address (RFC 3986 §3.2.2 host syntax). */
export function formatAddress(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

const ONE = Buffer.from([1]);

/** One number's stored bindings, read into a reused buffer: `recs[0, count)` are record offsets in `buf`. */
export class StoredBindings {
  private readonly scratch = new Scratch(4096);
  recs = new Int32Array(AOR_RECORDS_MAX);
  count = 0;
  length = 0;
  /** Set by an ExpiryOverlay that changed expiries: the stored ones, by record index. */
  overlaid = false;
  private stored = new Float64Array(AOR_RECORDS_MAX);
  get buf(): Buffer { return this.scratch.buf; }

  /** Reads `number` (inside a write transaction: its state, else the read snapshot). */
  load(store: Store, number: string): this {
    this.overlaid = false;
    const v = store.bindings.getBinaryFast(number) as Buffer | undefined;
    if (v === undefined) { this.count = 0; this.length = 0; return this; }
    return this.set(v, (store.bindings as unknown as { lastSize: number }).lastSize);
  }

  /** Takes a copy of value[0, length) (an AOR value as stored). */
  set(value: Uint8Array, length: number): this {
    const buf = this.scratch.ensure(length);
    copyInto(value, 0, length, buf, 0);
    this.length = length;
    let n = indexRecords(buf, length, this.recs);
    if (n > this.recs.length) {
      this.recs = new Int32Array(Math.max(n, 2 * this.recs.length));
      n = indexRecords(buf, length, this.recs);
    }
    this.count = n;
    return this;
  }

  /** Keeps every record's expiry as stored, before an overlay changes them (storedExpiresAtMs). */
  keepStoredExpiries(): void {
    if (this.overlaid) return;
    if (this.stored.length < this.count) this.stored = new Float64Array(this.recs.length);
    for (let i = 0; i < this.count; i++) this.stored[i] = expiresAtMs(this.buf, this.recs[i]!);
    this.overlaid = true;
  }

  /** Record i's expiry as the store has it (an overlay may have moved the one in buf later). */
  storedExpiresAtMs(i: number): number {
    return this.overlaid ? this.stored[i]! : expiresAtMs(this.buf, this.recs[i]!);
  }

  /** The index of the record whose contact key reads as `key` (keys from decodeBinding), or -1. */
  findText(key: string): number {
    const bytes = Buffer.from(key, 'utf8');
    const i = this.find(bytes, 0, bytes.length);
    if (i >= 0) return i;
    // A key stored before its bytes were normalised to UTF-8 reads back differently: compare as text.
    for (let k = 0; k < this.count; k++) if (str(this.buf, this.recs[k]!, Str.key) === key) return k;
    return -1;
  }

  /** The index of the record whose contact key equals src[start, start + length), or -1. */
  find(src: Buffer, start: number, length: number): number {
    for (let i = 0; i < this.count; i++) if (strEquals(this.buf, this.recs[i]!, Str.key, src, start, length)) return i;
    return -1;
  }

  decode(number: string): BindingRecord[] {
    const out: BindingRecord[] = [];
    for (let i = 0; i < this.count; i++) out.push(decodeBinding(this.buf, this.recs[i]!, number));
    return out;
  }
}

/**
 * What the running service knows beyond the store: the later expiries of bindings refreshed since its
 * last flush (registrar/write-back.ts). `overlay` writes them into bindings just read, so whoever
 * decides on a number (the sweep, the keepalive) sees the expiry the phone was given.
 */
export interface ExpiryOverlay {
  overlay(number: string, into: StoredBindings): void;
}

/** Records given by buffer and offset: the puts and drops of one merge. */
export class RecordList {
  bufs: Buffer[] = [];
  recs = new Int32Array(AOR_RECORDS_MAX);
  count = 0;
  clear(): this { this.count = 0; for (let i = 0; i < this.bufs.length; i++) this.bufs[i] = EMPTY; return this; }
  push(buf: Buffer, rec: number): void {
    if (this.count >= this.recs.length) {
      const grown = new Int32Array(2 * this.recs.length);
      grown.set(this.recs);
      this.recs = grown;
    }
    this.bufs[this.count] = buf;
    this.recs[this.count++] = rec;
  }
  /** Whether one of the records has this contact key. */
  hasKey(buf: Buffer, rec: number): boolean {
    for (let i = 0; i < this.count; i++) if (strSame(this.bufs[i]!, this.recs[i]!, buf, rec, Str.key)) return true;
    return false;
  }
}
const EMPTY = Buffer.alloc(0);

/**
 * The one way bindings are written. Must run inside a write transaction (store.root.transaction or
 * transactionSync): it reads the number's current value there, drops the records whose contact key is
 * named by `drops` or `puts`, appends `puts`, and keeps the expiry index and binding count in step.
 * Returns the number of records now stored for the number.
 *
 * The expiry index holds check times, not exact expiries: for every stored binding there is an entry
 * [t, number] with t at or before its expiry. A refresh only moves an expiry later, so it writes no
 * index entry; the sweep visits the number at t, removes what has lapsed and re-arms the number at
 * its earliest remaining expiry (sweep.ts). Only a binding that expires before everything the number
 * held (a new number, a shorter expiry) adds an entry here.
 */
/**
 * Where the service's merges leave their bookkeeping for its next flush (registrar/change-tail.ts), so
 * a change's commit writes the binding itself and little else: the binding count, and an index entry
 * due well after the next flush. Each returns false when it cannot take it (then the merge writes it
 * now). After a crash what was taken is rebuilt from the bindings (extendForRecoveryIn).
 */
export interface MergeDeferral {
  deferCount(delta: number): boolean;
  deferIndex(atMs: number, number: string): boolean;
}

export class AorMerge {
  /** Set by the service's REGISTER path; other writers (admin commands, the console, the sweep) write all at once. */
  deferral: MergeDeferral | null = null;
  private readonly stored = new StoredBindings();
  private readonly out = new Scratch(4096);
  private readonly expiryKey: [number, string] = [0, ''];

  apply(store: Store, number: string, puts: RecordList, drops: RecordList): number {
    const stored = this.stored.load(store, number);
    const sbuf = stored.buf;
    let size = 1;
    for (let i = 0; i < puts.count; i++) size += recordLength(puts.bufs[i]!, puts.recs[i]!);
    size += stored.length;
    const out = this.out.ensure(size);
    out[0] = AOR_FORMAT;
    let p = 1;
    let kept = 0;
    // Every stored binding is covered by an index entry at or before this (nothing stored: none).
    let covered = Infinity;
    for (let i = 0; i < stored.count; i++) {
      const rec = stored.recs[i]!;
      covered = Math.min(covered, expiresAtMs(sbuf, rec));
      if (drops.hasKey(sbuf, rec) || puts.hasKey(sbuf, rec)) continue;
      p += copyInto(sbuf, rec, rec + recordLength(sbuf, rec), out, p);
      kept++;
    }
    let uncovered = Infinity;
    for (let i = 0; i < puts.count; i++) {
      const b = puts.bufs[i]!;
      const rec = puts.recs[i]!;
      const e = expiresAtMs(b, rec);
      if (e < covered && e < uncovered) uncovered = e;
      p += copyInto(b, rec, rec + recordLength(b, rec), out, p);
    }
    const count = kept + puts.count;
    if (count === 0) {
      if (stored.count > 0) store.bindings.remove(number);
    } else {
      store.bindings.put(number, asValue(out, p));
    }
    if (uncovered !== Infinity && !(this.deferral?.deferIndex(uncovered, number) ?? false)) {
      const key = this.expiryKey;
      key[0] = uncovered;
      key[1] = number;
      store.expiry.put(key, ONE);
    }
    if (count !== stored.count && !(this.deferral?.deferCount(count - stored.count) ?? false)) {
      const total = (store.meta.get(BINDING_COUNT_KEY) as number | undefined) ?? 0;
      store.meta.put(BINDING_COUNT_KEY, Math.max(0, total + count - stored.count));
    }
    return count;
  }
}

// --- object API for the console, admin commands, keepalive, sweep and tests (not the REGISTER path) ---

const writer = new RecordWriter();
const merge = new AorMerge();
const puts = new RecordList();
const drops = new RecordList();
const reader = new StoredBindings();

/** All bindings of one number, ordered as stored. Synchronous read from the map. */
export function bindingsOf(store: Store, number: string): BindingRecord[] {
  return reader.load(store, number).decode(number);
}

/**
 * Each stored number from `start` on (inclusive), with its bindings read into `into` (valid until the
 * next step). Keys are walked and each value read with getBinaryFast into one reused buffer: a range
 * read of a binary database would copy every value into a buffer of its own (lmdb-js), which for
 * 100,000 numbers costs tens of MiB of RSS.
 */
export function* storedNumbers(store: Store, into: StoredBindings, start?: string): Generator<string> {
  for (const key of store.bindings.getKeys(start === undefined ? {} : { start })) {
    const number = key as string;
    into.load(store, number);
    if (into.count > 0) yield number;
  }
}

/** Every binding, ordered by number. */
export function* allBindings(store: Store): Generator<BindingRecord> {
  const stored = new StoredBindings();
  for (const number of storedNumbers(store, stored)) yield* stored.decode(number);
}

/** Stored bindings in O(1) (meta count kept by every write). */
export function bindingCount(store: Store): number {
  return (store.meta.get(BINDING_COUNT_KEY) as number | undefined) ?? 0;
}

export function countBindings(store: Store): { total: number; nat: number } {
  let total = 0;
  let nat = 0;
  const stored = new StoredBindings();
  for (const _ of storedNumbers(store, stored)) {
    total += stored.count;
    for (let i = 0; i < stored.count; i++) if ((flags(stored.buf, stored.recs[i]!) & FLAG_NAT) !== 0) nat++;
  }
  return { total, nat };
}

/** Writes (or replaces, by contact key) one binding. Inside a write transaction. */
export function putBindingIn(store: Store, b: BindingRecord): void {
  const scratch = new Scratch(recordSizeMax(b) + 1);
  encodeBinding(writer, b, scratch.buf, 0);
  puts.clear().push(scratch.buf, 0);
  merge.apply(store, b.number, puts, drops.clear());
  puts.clear();
}

/** putBindingIn in a transaction of its own; resolves when committed. */
export function putBinding(store: Store, b: BindingRecord): Promise<unknown> {
  return store.root.transaction(() => putBindingIn(store, b));
}

/**
 * Removes the binding with b's number and contact key, if it is still there (and, with
 * `ifRefreshedAtMs`, not refreshed since). Inside a write transaction; returns whether it removed one.
 */
export function removeBindingIn(store: Store, number: string, contactKey: string, ifRefreshedAtMs?: number, view: ExpiryOverlay | null = null): boolean {
  const stored = reader.load(store, number);
  view?.overlay(number, stored);
  const i = stored.findText(contactKey);
  if (i < 0) return false;
  const rec = stored.recs[i]!;
  if (ifRefreshedAtMs !== undefined && refreshedAtMs(stored.buf, rec) !== ifRefreshedAtMs) return false;
  drops.clear().push(stored.buf, rec); // the merge reads with a reader of its own: no copy needed
  merge.apply(store, number, puts.clear(), drops);
  drops.clear();
  return true;
}

export function removeBinding(store: Store, b: BindingRecord): Promise<boolean> {
  return store.root.transaction(() => removeBindingIn(store, b.number, b.contactKey)) as Promise<boolean>;
}

/** Sets a binding's NAT keepalive state in place, if the binding is still there. Inside a write transaction. */
export function setKeepaliveIn(store: Store, number: string, contactKey: string,
  k: { lastSentAtMs: number; lastAnsweredAtMs: number; missed: number; unreachable: boolean }): boolean {
  const stored = reader.load(store, number);
  const i = stored.findText(contactKey);
  if (i < 0) return false;
  const rec = stored.recs[i]!;
  const buf = stored.buf;
  // Refreshed meanwhile as not behind NAT: the keepalive no longer owns its state.
  if ((flags(buf, rec) & FLAG_NAT) === 0) return false;
  buf[rec + R_FLAGS] = (buf[rec + R_FLAGS]! & ~FLAG_UNREACHABLE) | FLAG_KEEPALIVE | (k.unreachable ? FLAG_UNREACHABLE : 0);
  buf.writeDoubleLE(k.lastSentAtMs, rec + R_KA_SENT);
  buf.writeDoubleLE(k.lastAnsweredAtMs, rec + R_KA_ANSWERED);
  buf.writeUInt16LE(Math.min(k.missed, 0xffff), rec + R_KA_MISSED);
  store.bindings.put(number, asValue(buf, stored.length));
  return true;
}

/**
 * The sweep's visit of one number, inside a write transaction: removes every binding lapsed at nowMs
 * (returned), then removes the index entries at or before nowMs that led here and, when bindings
 * remain, re-arms the number at their earliest expiry (as `view` has it: a refreshed expiry not yet
 * flushed is later than the stored one, and an index entry only has to be at or before the expiry
 * that will be stored, by the flush or by the recovery rule after a crash).
 */
export function expireLapsedIn(store: Store, number: string, nowMs: number, due: readonly number[], view: ExpiryOverlay | null = null): BindingRecord[] {
  const stored = reader.load(store, number);
  // A binding refreshed since the last flush lives to its new expiry (and the number is re-armed there).
  view?.overlay(number, stored);
  const removed: BindingRecord[] = [];
  drops.clear();
  let next = Infinity;
  for (let i = 0; i < stored.count; i++) {
    const rec = stored.recs[i]!;
    const e = expiresAtMs(stored.buf, rec);
    if (e > nowMs) { next = Math.min(next, e); continue; }
    removed.push(decodeBinding(stored.buf, rec, number));
    drops.push(stored.buf, rec);
  }
  if (drops.count > 0) merge.apply(store, number, puts.clear(), drops);
  drops.clear();
  for (const t of due) store.expiry.remove([t, number]);
  if (next !== Infinity) store.expiry.put([next, number], ONE);
  return removed;
}

/**
 * Expiry index entries at or before nowMs, oldest first, at most `limit`: [expiresAtMs, number]. The
 * sweep merges each number (expireLapsedIn) and then removes the entries it walked, so an entry left
 * behind by a binding refreshed elsewhere goes too.
 */
export function lapsedEntries(store: Store, nowMs: number, limit: number): [number, string][] {
  const out: [number, string][] = [];
  for (const key of store.expiry.getKeys({ end: [nowMs, KEY_MAX], limit })) out.push(key as [number, string]);
  return out;
}

/**
 * Moves the times of bindings refreshed in the service's memory into the store (the write-back flush),
 * inside a write transaction: begin(number), move() per binding, end() writes the number's value once.
 * A binding moves only if it is still the one refreshed: the same contact key, refreshed earlier than
 * the write-back's refresh and expiring no later. One removed meanwhile (by `sipreg unregister`, the
 * console, the sweep) is not brought back; one replaced by a later REGISTER keeps what that wrote.
 * An expiry only moves later, so the expiry index needs no entry (its entries are at or before).
 */
export class ExpiryMove {
  private readonly stored = new StoredBindings();
  private number = '';
  private moved = 0;
  private store: Store | null = null;

  begin(store: Store, number: string): this {
    this.store = store;
    this.number = number;
    this.moved = 0;
    this.stored.load(store, number);
    return this;
  }

  /** Moves the binding whose key is key[start, start + length); returns its expiresS before, or -1 when it did not move. */
  move(key: Buffer, start: number, length: number, expiresAt: number, refreshedAt: number, grantedS: number, cseqValue: number): number {
    const stored = this.stored;
    const i = stored.find(key, start, length);
    if (i < 0) return -1;
    const buf = stored.buf;
    const rec = stored.recs[i]!;
    if (refreshedAtMs(buf, rec) >= refreshedAt || expiresAtMs(buf, rec) > expiresAt) return -1;
    const before = expiresS(buf, rec);
    setRefreshTimes(buf, rec, expiresAt, refreshedAt, grantedS, cseqValue);
    this.moved++;
    return before;
  }

  end(): void {
    if (this.moved > 0 && this.store !== null) this.store.bindings.put(this.number, asValue(this.stored.buf, this.stored.length));
    this.store = null;
  }
}

/**
 * The recovery rule after an unclean stop, inside a write transaction. Refreshes answered from memory
 * since the last durable flush (at `flushedAtMs`) promised at most `horizonMs` + the binding's stored
 * expiresS (registrar/write-back.ts holds every such answer to that bound), and only bindings live at
 * that flush can have been refreshed since. So each of those is kept at least that long; the sweep
 * then removes what lapses from there. Returns how many bindings were extended.
 */
export function extendForRecoveryIn(store: Store, flushedAtMs: number, horizonMs: number): number {
  let extended = 0;
  let total = 0;
  const stored = new StoredBindings();
  // The numbers first: values are rewritten below, not while a cursor walks them.
  const numbers = [...store.bindings.getKeys({})] as string[];
  for (const number of numbers) {
    stored.load(store, number);
    let changed = false;
    const buf = stored.buf;
    for (let i = 0; i < stored.count; i++) {
      const rec = stored.recs[i]!;
      const e = expiresAtMs(buf, rec);
      if (e <= flushedAtMs) continue;
      const bound = horizonMs + expiresS(buf, rec) * 1000;
      if (bound <= e) continue;
      buf.writeDoubleLE(bound, rec + R_EXPIRES_AT);
      changed = true;
      extended++;
    }
    if (changed) store.bindings.put(number, asValue(buf, stored.length));
    // What the service's flush would have written (MergeDeferral): an index entry at the number's
    // earliest expiry (entries left from before are visited and dropped by the sweep) and the count.
    let earliest = Infinity;
    for (let i = 0; i < stored.count; i++) earliest = Math.min(earliest, expiresAtMs(buf, stored.recs[i]!));
    if (earliest !== Infinity) store.expiry.put([earliest, number], ONE);
    total += stored.count;
  }
  store.meta.put(BINDING_COUNT_KEY, total);
  return extended;
}
