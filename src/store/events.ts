import { entryCount, type Store } from './open.js';
import type { EventRecord, EventType } from './records.js';
import { timeKeyInto } from './keys.js';

const eventKey: [number, number, number] = [0, 0, 0];

/** Writes one history row. The record is encoded during the call: callers may reuse the object. */
export function appendEvent(store: Store, e: EventRecord): Promise<boolean> {
  return store.events.put(timeKeyInto(eventKey, e.atMs), e);
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
    ? store.events.getRange({ reverse: true, ...(q.sinceMs === undefined ? {} : { end: [q.sinceMs, 0, 0] }) })
    : store.events.getRange(q.sinceMs === undefined ? {} : { start: [q.sinceMs, 0, 0] });
  for (const { value } of range) {
    if (types !== null && !types.has(value.type)) continue;
    if (q.number !== undefined && value.number !== q.number) continue;
    out.push(value);
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
  for (const { key, value } of store.events.getRange({ limit: batchMax })) {
    if (value.atMs >= cutoffMs && excess <= 0) break;
    store.events.remove(key);
    excess--;
    removed++;
  }
  return removed;
}
