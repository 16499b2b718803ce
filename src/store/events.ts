// History rows (schema 3) as bytes, little-endian:
//   0 f64 atMs   8 u8 type (index in EVENT_TYPES)   9 u8 0   10 u16 × 4 lengths, then the UTF-8 of
//   number, source, userAgent, detail in that order.
// The REGISTER path composes rows from bytes it already has (EventWriter); everything else writes
// EventRecord objects with appendEvent.
import { entryCount, type Store } from './open.js';
import { EVENT_TYPES, type EventRecord, type EventType } from './records.js';
import { timeKeyInto } from './keys.js';
import { ByteText, asValue } from './bytes.js';

const E_AT = 0, E_TYPE = 8, E_LENGTHS = 10, E_HEADER = 18;
export const EventStr = { number: 0, source: 1, userAgent: 2, detail: 3 } as const;
const typeCodes = new Map<EventType, number>(EVENT_TYPES.map((t, i) => [t, i]));

/**
 * Writes one row field by field into a growing buffer: begin() → the four strings in EventStr order,
 * each built with text()/bytes()/int() and ended by next() (the detail is ended by putIn/copy).
 */
export class EventWriter {
  private readonly t = new ByteText();
  private field = 0;
  private fieldStart = 0;
  private readonly key: [number, number, number] = [0, 0, 0];

  begin(atMs: number, type: EventType): this {
    const buf = this.t.at(0).scratch.ensure(E_HEADER);
    buf.writeDoubleLE(atMs, E_AT);
    buf[E_TYPE] = typeCodes.get(type)!;
    buf[E_TYPE + 1] = 0;
    this.t.p = E_HEADER;
    this.field = 0;
    this.fieldStart = E_HEADER;
    return this;
  }
  text(s: string): this { this.t.text(s); return this; }
  bytes(src: Buffer, start: number, length: number): this { this.t.bytes(src, start, length); return this; }
  /** Ends the current field and starts the next. */
  next(): this {
    if (this.field >= 4) throw new Error('history row: more than 4 fields');
    this.t.buf.writeUInt16LE(Math.min(this.t.p - this.fieldStart, 0xffff), E_LENGTHS + 2 * this.field);
    this.field++;
    this.fieldStart = this.t.p;
    return this;
  }
  /** Ends the detail and writes the row (inside a write transaction: the value is copied at once). */
  putIn(store: Store, atMs: number): void {
    this.end();
    store.events.put(timeKeyInto(this.key, atMs), asValue(this.t.buf, this.t.p));
  }
  /** Ends the detail; the row as bytes (a copy), for a write outside a transaction. */
  copy(): Buffer {
    this.end();
    return Buffer.from(this.t.buf.subarray(0, this.t.p));
  }
  private end(): void {
    this.next();
    if (this.field !== 4) throw new Error(`history row: ${this.field} of 4 fields written`);
  }
}

const rowWriter = new EventWriter();

function encode(e: EventRecord): Buffer {
  return rowWriter.begin(e.atMs, e.type).text(e.number).next().text(e.source).next().text(e.userAgent).next().text(e.detail).copy();
}

export function decodeEvent(buf: Buffer, length: number): EventRecord | null {
  if (length < E_HEADER) return null;
  const type = EVENT_TYPES[buf[E_TYPE]!];
  if (type === undefined) return null;
  const parts: string[] = [];
  let p = E_HEADER;
  for (let i = 0; i < 4; i++) {
    const n = buf.readUInt16LE(E_LENGTHS + 2 * i);
    if (p + n > length) return null;
    parts.push(buf.toString('utf8', p, p + n));
    p += n;
  }
  return { atMs: buf.readDoubleLE(E_AT), type, number: parts[0]!, source: parts[1]!, userAgent: parts[2]!, detail: parts[3]! };
}

/** Writes one history row. The record is encoded during the call: callers may reuse the object. */
export function appendEvent(store: Store, e: EventRecord): Promise<boolean> {
  return store.events.put(timeKeyInto([0, 0, 0], e.atMs), encode(e));
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
  const range = newestFirst
    ? store.events.getKeys({ reverse: true, ...(q.sinceMs === undefined ? {} : { end: [q.sinceMs, 0, 0] }) })
    : store.events.getKeys(q.sinceMs === undefined ? {} : { start: [q.sinceMs, 0, 0] });
  for (const key of range) {
    // Each row read into lmdb-js's reused buffer (a range read of values would copy every one).
    const value = store.events.getBinaryFast(key as [number, number, number]) as Buffer | undefined;
    if (value === undefined) continue;
    const e = decodeEvent(value, (store.events as unknown as { lastSize: number }).lastSize);
    if (e === null) continue;
    if (types !== null && !types.has(e.type)) continue;
    if (q.number !== undefined && e.number !== q.number) continue;
    out.push(e);
    if (out.length >= limit && newestFirst) break;
  }
  // Oldest first with a limit keeps the newest `limit` rows, as `tail` would.
  if (!newestFirst && out.length > limit) return out.slice(out.length - limit);
  return out;
}

/** Drops rows older than the retention or beyond the count bound, oldest first. Returns how many. */
export function pruneEvents(store: Store, nowMs: number, retentionDays: number, countMax: number, batchMax = 10_000): number {
  const cutoffMs = nowMs - retentionDays * 86_400_000;
  const total = entryCount(store.events);
  let excess = Math.max(0, total - countMax);
  let removed = 0;
  for (const key of store.events.getKeys({ limit: batchMax })) {
    if (key[0] >= cutoffMs && excess <= 0) break;
    store.events.remove(key);
    excess--;
    removed++;
  }
  return removed;
}
