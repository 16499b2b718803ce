import type { Store } from './env.js';
import type { LockoutRecord } from './records.js';

export function lockoutKeyAddress(address: string): string { return `addr:${address}`; }
export function lockoutKeyPair(number: string, address: string): string { return `pair:${number}@${address}`; }
export function lockoutKeyNumber(number: string): string { return `number:${number}`; }

/** Active suspensions (not yet lapsed), soonest to end first. */
export function activeLockouts(store: Store, nowMs: number): LockoutRecord[] {
  const out: LockoutRecord[] = [];
  for (const { value } of store.lockouts.getRange({})) if (value.untilMs > nowMs) out.push(value);
  out.sort((a, b) => a.untilMs - b.untilMs);
  return out;
}

/** Lifts every suspension naming this address or number. Returns the removed records. */
export async function unlock(store: Store, target: string): Promise<LockoutRecord[]> {
  const removed: LockoutRecord[] = [];
  for (const { key, value } of store.lockouts.getRange({})) {
    if (value.address === target || value.number === target) {
      removed.push(value);
      store.lockouts.remove(key);
    }
  }
  if (removed.length > 0) await store.lockouts.committed;
  return removed;
}
