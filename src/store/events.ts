// History (schema 3) as bytes. A value holds one or more rows, one after another; its key is
// [time of its newest row, pid, seq], so every row at or after a time is in a value keyed at or after
// it (queries start and stop exactly). The REGISTER path writes all rows of one commit as one value (one
// put per commit instead of one per REGISTER); everything else writes one row per value with
// appendEvent. For the SS_EVENT_MAX bound the rows are counted as LMDB's entry count plus the rows
// beyond the first of each multi-row value, kept in meta (EXTRA_ROWS_KEY) by the writers of such
// values (the registrar's batch, the prune), inside their write transactions; appendEvent stays a
// plain put. One row, little-endian:
//   0 f64 atMs   8 u8 type (index in EVENT_TYPES)   9 u8 0   10 u16 × 4 lengths, then the UTF-8 of
//   number, source, userAgent, detail in that order.
import { entryCount, type Store } from './env.js';
import { EVENT_TYPES, type EventRecord, type EventType } from './records.js';
import { timeKeyInto } from './keys.js';
import { ByteText, asValue } from './bytes.js';

const E_AT = 0, E_TYPE = 8, E_LENGTHS = 10, E_HEADER = 18;
export const EXTRA_ROWS_KEY = 'history_extra_rows';
const typeCodes = new Map<EventType, number>(EVENT_TYPES.map((t, i) => [t, i]));

/**
 * Builds rows into a growing buffer: begin() → the four strings (number, source, userAgent, detail),
 * each from text()/bytes() and ended by next() → endRow(); then putIn() writes every row built as one
 * value, or copy() returns them.
 */
export class EventWriter {
  private readonly t = new ByteText();
  private row = 0;
  private field = 4;
  private fieldStart = 0;
  private rows = 0;
  private rowsEnd = 0;
  private newestAtMs = 0;
  private readonly key: [number, number, number] = [0, 0, 0];

  begin(atMs: number, type: EventType): this {
    if (this.field !== 4) throw new Error('history row: the previous row was not ended');
    if (this.rows === 0) { this.t.at(0); this.rowsEnd = 0; this.newestAtMs = atMs; }
    if (atMs > this.newestAtMs) this.newestAtMs = atMs;
    const at = this.t.p;
    const buf = this.t.scratch.ensure(at + E_HEADER, at);
    buf.writeDoubleLE(atMs, at + E_AT);
    buf[at + E_TYPE] = typeCodes.get(type)!;
    buf[at + E_TYPE + 1] = 0;
    this.row = at;
    this.t.p = at + E_HEADER;
    this.field = 0;
    this.fieldStart = this.t.p;
    return this;
  }
  text(s: string): this { this.t.text(s); return this; }
  bytes(src: Buffer, start: number, length: number): this { this.t.bytes(src, start, length); return this; }
  /** Ends the current field. */
  next(): this {
    if (this.field >= 4) throw new Error('history row: more than 4 fields');
    const length = this.t.p - this.fieldStart;
    if (length > 0xffff) throw new Error(`history row: a field of ${length} bytes`);
    this.t.buf.writeUInt16LE(length, this.row + E_LENGTHS + 2 * this.field);
    this.field++;
    this.fieldStart = this.t.p;
    return this;
  }
  /** Ends the row (its detail field included). */
  endRow(): this {
    this.next();
    if (this.field !== 4) throw new Error(`history row: ${this.field} of 4 fields written`);
    this.rows++;
    this.rowsEnd = this.t.p;
    return this;
  }
  /** Forgets a row begun and not ended (its writer threw); the rows ended before it stay. */
  dropPartial(): void {
    if (this.field === 4) return;
    this.t.p = this.rowsEnd;
    this.field = 4;
  }
  /** Forgets rows built and not written (after a failed transaction). */
  reset(): void { this.rows = 0; this.field = 4; }
  /** Writes the rows built as one value and counts them; inside a write transaction (the value is copied at once). */
  putIn(store: Store): void {
    if (this.rows === 0) return;
    if (store.space.historyPaused) {
      store.space.historyRowsNotWritten += this.rows;
      this.rows = 0;
      return;
    }
    store.events.put(timeKeyInto(this.key, this.newestAtMs), asValue(this.t.buf, this.t.p));
    if (this.rows > 1) countExtraRows(store, this.rows - 1);
    this.rows = 0;
  }
  /** Rows built (ended) and not yet written. */
  get count(): number { return this.rows; }
  /**
   * Appends the rows `other` has built (ended) to this writer's, and forgets them there: a change's
   * history rows, built inside its commit, join the next flush once that commit is durable.
   */
  append(other: EventWriter): void {
    if (other.rows === 0) return;
    if (this.field !== 4) throw new Error('history row: the previous row was not ended');
    if (this.rows === 0) { this.t.at(0); this.rowsEnd = 0; this.newestAtMs = other.newestAtMs; }
    if (other.newestAtMs > this.newestAtMs) this.newestAtMs = other.newestAtMs;
    const at = this.t.p;
    this.t.scratch.ensure(at + other.rowsEnd, at);
    other.t.buf.copy(this.t.buf, at, 0, other.rowsEnd);
    this.t.p = at + other.rowsEnd;
    this.rowsEnd = this.t.p;
    this.rows += other.rows;
    other.rows = 0;
  }
  /** The rows built, as a value of their own (a copy); starts afresh. */
  copy(): Buffer {
    const out = Buffer.from(this.t.buf.subarray(0, this.t.p));
    this.rows = 0;
    return out;
  }
}

/** Adds `n` (negative: removes) to the rows beyond the first of multi-row values. Inside a write transaction. */
function countExtraRows(store: Store, n: number): void {
  const extra = (store.meta.get(EXTRA_ROWS_KEY) as number | undefined) ?? 0;
  store.meta.put(EXTRA_ROWS_KEY, Math.max(0, extra + n));
}

/** Rows stored (O(1)): one per value, plus the extra rows of multi-row values. */
export function historyRows(store: Store): number {
  return entryCount(store.events) + ((store.meta.get(EXTRA_ROWS_KEY) as number | undefined) ?? 0);
}

const rowWriter = new EventWriter();

/** One EventRecord as a value of its own. */
export function encodeEvent(e: EventRecord): Buffer {
  return rowWriter.begin(e.atMs, e.type).text(e.number).next().text(e.source).next().text(e.userAgent).next().text(e.detail).endRow().copy();
}

/** Length of the row at `at` in buf[0, length), or -1 when it is damaged. */
function rowLength(buf: Buffer, at: number, length: number): number {
  if (at + E_HEADER > length) return -1;
  let n = E_HEADER;
  for (let i = 0; i < 4; i++) n += buf.readUInt16LE(at + E_LENGTHS + 2 * i);
  return at + n > length ? -1 : n;
}

/** The rows of one value buf[0, length), oldest first (a damaged tail is left out). */
export function decodeEvents(buf: Buffer, length: number): EventRecord[] {
  const out: EventRecord[] = [];
  for (let at = 0; at < length;) {
    const n = rowLength(buf, at, length);
    if (n < 0) break;
    const type = EVENT_TYPES[buf[at + E_TYPE]!];
    if (type !== undefined) {
      const parts: string[] = [];
      let p = at + E_HEADER;
      for (let i = 0; i < 4; i++) {
        const len = buf.readUInt16LE(at + E_LENGTHS + 2 * i);
        parts.push(buf.toString('utf8', p, p + len));
        p += len;
      }
      out.push({ atMs: buf.readDoubleLE(at + E_AT), type, number: parts[0]!, source: parts[1]!, userAgent: parts[2]!, detail: parts[3]! });
    }
    at += n;
  }
  return out;
}

/** Rows in one value, and the time of its last row. */
function rowsOf(buf: Buffer, length: number): { rows: number; lastAtMs: number } {
  let rows = 0;
  let lastAtMs = 0;
  for (let at = 0; at < length;) {
    const n = rowLength(buf, at, length);
    if (n < 0) break;
    rows++;
    lastAtMs = Math.max(lastAtMs, buf.readDoubleLE(at + E_AT));
    at += n;
  }
  return { rows, lastAtMs };
}

/**
 * Writes one history row. The record is encoded during the call: callers may reuse the object. While
 * the file system is nearly full (Store.space) the row is counted, not written, unless `always` (the
 * `store_full` row that says so).
 */
export function appendEvent(store: Store, e: EventRecord, always = false): Promise<boolean> {
  if (store.space.historyPaused && !always) {
    store.space.historyRowsNotWritten++;
    return Promise.resolve(false);
  }
  return store.events.put(timeKeyInto([0, 0, 0], e.atMs), encodeEvent(e));
}

export interface EventQuery {
  type?: EventType | readonly EventType[];
  number?: string;
  sinceMs?: number;
  limit?: number;
  newestFirst?: boolean;
}

/** History rows matching the query; oldest first unless newestFirst. */
export function queryEvents(store: Store, q: EventQuery): EventRecord[] {
  const types = q.type === undefined ? null : new Set(typeof q.type === 'string' ? [q.type] : q.type);
  const limit = q.limit ?? Infinity;
  const out: EventRecord[] = [];
  const newestFirst = q.newestFirst === true;
  const sinceMs = q.sinceMs ?? -Infinity;
  // A value is keyed by its newest row: the values from sinceMs on hold every row from sinceMs on.
  const from = q.sinceMs === undefined ? undefined : [q.sinceMs, 0, 0];
  const keys = newestFirst
    ? store.events.getKeys({ reverse: true, ...(from === undefined ? {} : { end: from }) })
    : store.events.getKeys(from === undefined ? {} : { start: from });
  // newestFirst with a limit: once `limit` rows are held, the time of the limit-th newest; a value
  // keyed before it holds only older rows.
  let threshold = -Infinity;
  for (const key of keys) {
    if (newestFirst && (key as number[])[0]! < threshold) break;
    // Read into lmdb-js's reused buffer (a range read of values would copy every one).
    const value = store.events.getBinaryFast(key as [number, number, number]) as Buffer | undefined;
    if (value === undefined) continue;
    const rows = decodeEvents(value, (store.events as unknown as { lastSize: number }).lastSize);
    for (const e of rows) {
      if (e.atMs < sinceMs || e.atMs < threshold) continue;
      if (types !== null && !types.has(e.type)) continue;
      if (q.number !== undefined && e.number !== q.number) continue;
      out.push(e);
    }
    if (newestFirst && limit > 0 && out.length >= limit) {
      out.sort((a, b) => b.atMs - a.atMs);
      out.length = limit;
      threshold = out[limit - 1]!.atMs;
    }
  }
  // Rows of different values interleave in time: order them (stable), then cut.
  if (newestFirst) {
    out.sort((a, b) => b.atMs - a.atMs);
    return out.length > limit ? out.slice(0, limit) : out;
  }
  out.sort((a, b) => a.atMs - b.atMs);
  // Oldest first with a limit keeps the newest `limit` rows, as `tail` would.
  if (out.length > limit) return out.slice(out.length - limit);
  return out;
}

/** What one prune transaction may remove, and why it removes. */
export interface PruneLimits {
  /** Rows older than this go (SS_EVENT_RETENTION_DAYS). */
  readonly cutoffMs: number;
  /** Rows beyond this many go, oldest first (SS_EVENT_MAX). */
  readonly countMax: number;
  /** Bytes of pages to free, oldest first (the store's budget: store/space.ts historyExcessBytes). */
  readonly bytesToFree: number;
  /** At most this many values, and values of this many bytes, in this transaction. */
  readonly valuesMax: number;
  readonly bytesMax: number;
}

export interface PruneResult {
  rows: number;
  values: number;
  /** Bytes of pages the removed values held (as estimated by storedBytes). */
  bytes: number;
  /** Stopped at valuesMax or bytesMax with more to remove: another transaction should follow. */
  more: boolean;
}

/** Bytes of pages a value of `length` bytes under a key of `keyLength` takes (LMDB's leaf node or overflow pages). */
export function storedBytes(length: number, keyLength: number, pageSize: number): number {
  const nodeHeader = 8;
  // mdb.c me_nodemax: a node larger than this goes to overflow pages of its own (16 B page header).
  const nodeMax = (((pageSize - 16) / 2) & -2) - 2;
  if (nodeHeader + keyLength + length <= nodeMax) return nodeHeader + keyLength + length + 2;
  return Math.ceil((length + 16) / pageSize) * pageSize + nodeHeader + keyLength + 8 + 2;
}

/** Bytes of a history key ([atMs, pid, seq] in lmdb-js's ordered-binary): a float and two small integers. */
const HISTORY_KEY_BYTES = 24;

/**
 * Removes history values oldest first (by their newest row) while any reason holds: rows past the
 * retention, rows beyond the count bound, bytes beyond the budget; within the transaction's limits.
 * Inside a write transaction (synchronous).
 */
export function pruneHistoryIn(store: Store, l: PruneLimits, pageSize: number): PruneResult {
  let excessRows = Math.max(0, historyRows(store) - l.countMax);
  let bytesToFree = l.bytesToFree;
  const out: PruneResult = { rows: 0, values: 0, bytes: 0, more: false };
  let extraRemoved = 0;
  for (const key of store.events.getKeys({ limit: l.valuesMax + 1 })) {
    const value = store.events.getBinaryFast(key as [number, number, number]) as Buffer | undefined;
    if (value === undefined) continue;
    const length = (store.events as unknown as { lastSize: number }).lastSize;
    const { rows, lastAtMs } = rowsOf(value, length);
    if (lastAtMs >= l.cutoffMs && excessRows <= 0 && bytesToFree <= 0) break;
    if (out.values >= l.valuesMax || out.bytes >= l.bytesMax) { out.more = true; break; }
    store.events.remove(key);
    const bytes = storedBytes(length, HISTORY_KEY_BYTES, pageSize);
    excessRows -= rows;
    bytesToFree -= bytes;
    out.rows += rows;
    out.values++;
    out.bytes += bytes;
    if (rows > 1) extraRemoved += rows - 1;
  }
  if (extraRemoved > 0) countExtraRows(store, -extraRemoved);
  return out;
}

/**
 * Drops values whose rows are all older than the retention, or while the rows are more than the count
 * bound, oldest first, at most batchMax values in one write transaction. Resolves to how many rows went.
 */
export function pruneEvents(store: Store, nowMs: number, retentionDays: number, countMax: number, batchMax = 10_000): Promise<number> {
  // No byte bound here, so the page size only feeds the (unused) byte estimate.
  return store.root.transaction(() => pruneHistoryIn(store, {
    cutoffMs: nowMs - retentionDays * 86_400_000, countMax, bytesToFree: 0, valuesMax: batchMax, bytesMax: Number.POSITIVE_INFINITY,
  }, 4096).rows) as Promise<number>;
}
