import type { Store } from './open.js';
import type { BindingRecord } from './records.js';
import { KEY_MAX } from './keys.js';

export type BindingStatus = 'registered' | 'expiring' | 'expired';

/** Expiring: less than a tenth of the granted expiry left, and never less than 10 s of warning. */
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

/** All bindings of one number, ordered by contact key. Synchronous read from the map. */
export function bindingsOf(store: Store, number: string): BindingRecord[] {
  const out: BindingRecord[] = [];
  for (const { value } of store.bindings.getRange({ start: [number, ''], end: [number, KEY_MAX] })) {
    out.push(value);
  }
  return out;
}

/** Every binding, ordered by number then contact key. */
export function* allBindings(store: Store): Generator<BindingRecord> {
  for (const { value } of store.bindings.getRange({})) yield value;
}

// Keys are built in these arrays instead of a new array per write: lmdb-js encodes a key into its
// instruction buffer during put/remove and keeps no reference to it (callers are synchronous).
const bindingKey: [string, string] = ['', ''];
const expiryKey: [number, string, string] = [0, '', ''];
function keyOf(b: BindingRecord): [string, string] {
  bindingKey[0] = b.number;
  bindingKey[1] = b.contactKey;
  return bindingKey;
}
function expiryKeyOf(b: BindingRecord): [number, string, string] {
  expiryKey[0] = b.expiresAtMs;
  expiryKey[1] = b.number;
  expiryKey[2] = b.contactKey;
  return expiryKey;
}

/**
 * Stores a binding and keeps the expiry index in step. `previous` is the record being replaced (same
 * key), so its index entry goes. The returned promise resolves when the commit is durable: only
 * then may a 200 OK be sent (ARCHITECTURE.md).
 */
export function putBinding(store: Store, b: BindingRecord, previous: BindingRecord | undefined): Promise<boolean> {
  if (previous !== undefined && previous.expiresAtMs !== b.expiresAtMs) {
    store.expiry.remove(expiryKeyOf(previous));
  }
  store.expiry.put(expiryKeyOf(b), true);
  return store.bindings.put(keyOf(b), b);
}

export function removeBinding(store: Store, b: BindingRecord): Promise<boolean> {
  store.expiry.remove(expiryKeyOf(b));
  return store.bindings.remove(keyOf(b));
}

/** Bindings whose expiry is at or before nowMs, oldest first, at most `limit`. */
export function lapsedBindings(store: Store, nowMs: number, limit: number): BindingRecord[] {
  const out: BindingRecord[] = [];
  for (const { key } of store.expiry.getRange({ end: [nowMs, KEY_MAX, KEY_MAX], limit })) {
    const b = store.bindings.get([key[1], key[2]]);
    if (b === undefined || b.expiresAtMs !== key[0]) {
      // A stale index entry (its binding was refreshed or removed by another process): drop it.
      store.expiry.remove(key);
      continue;
    }
    out.push(b);
  }
  return out;
}

export function countBindings(store: Store): { total: number; nat: number } {
  let total = 0;
  let nat = 0;
  for (const { value } of store.bindings.getRange({})) {
    total++;
    if (value.nat) nat++;
  }
  return { total, nat };
}
