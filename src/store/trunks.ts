import type { Store } from './env.js';
import type { TrunkStateRecord } from './records.js';

/** The stored state of one trunk, or null before the trunk module first wrote it. */
export function trunkState(store: Store, name: string): TrunkStateRecord | null {
  return store.trunks.get(name) ?? null;
}

/** Every stored trunk state, by name. */
export function allTrunkStates(store: Store): Map<string, TrunkStateRecord> {
  const out = new Map<string, TrunkStateRecord>();
  for (const { key, value } of store.trunks.getRange({})) out.set(key, value);
  return out;
}
