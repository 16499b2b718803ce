import type { Store } from './env.js';
import type { SampleRecord } from './records.js';

/** The minute a time falls in (epoch ms of its start): the key of that minute's sample. */
export function minuteOf(atMs: number): number {
  return atMs - (atMs % 60_000);
}

export function putSample(store: Store, s: SampleRecord): Promise<boolean> {
  return store.samples.put(minuteOf(s.atMs), s);
}

/** Samples from sinceMs (inclusive) on, oldest first. Synchronous read from the map. */
export function samplesSince(store: Store, sinceMs: number): SampleRecord[] {
  const out: SampleRecord[] = [];
  for (const { value } of store.samples.getRange({ start: minuteOf(sinceMs) })) out.push(value);
  return out;
}

/** Drops samples older than cutoffMs, at most batchMax per call. Returns how many. */
export function pruneSamples(store: Store, cutoffMs: number, batchMax = 10_000): number {
  let removed = 0;
  for (const { key } of store.samples.getRange({ end: cutoffMs, limit: batchMax })) {
    store.samples.remove(key);
    removed++;
  }
  return removed;
}

/** Drops the `count` oldest samples whatever their age (the store's budget, once no history is left). Returns how many. */
export function pruneOldestSamples(store: Store, count: number): number {
  let removed = 0;
  for (const key of store.samples.getKeys({ limit: count })) {
    store.samples.remove(key);
    removed++;
  }
  return removed;
}
