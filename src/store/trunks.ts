import type { Store } from './env.js';
import type { TrunkStateRecord } from './records.js';

/** Every stored trunk state, by name. */
export function allTrunkStates(store: Store): Map<string, TrunkStateRecord> {
  const out = new Map<string, TrunkStateRecord>();
  for (const { key, value } of store.trunks.getRange({})) out.set(key, value);
  return out;
}
