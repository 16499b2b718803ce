/**
 * Operator actions as store writes: the running service reads the store on every REGISTER and sweep,
 * so a write here takes effect at once (there is no RPC into the service). Each awaits its
 * commit, so when it returns the change is visible to every process.
 */
import {
  appendEvent, bindingsOf, durable, lockoutKeyAddress, lockoutKeyNumber, postCommand, readMark, readService, removeBinding,
  serviceRunning, unlock, type BindingRecord, type LockoutRecord, type Store,
} from '../store/index.js';
import { boundedTimeout } from '../timers.js';
import { storeLimits } from '../limits.js';

/**
 * How long `events` (and the console's history screens) wait for the running service's flush: it polls
 * commands every second, and a request soon after another one is flushed when flushOnRequestMinMs is up.
 */
export const FLUSH_WAIT_MS = storeLimits.flushOnRequestMinMs + 3_000;

export interface UnregisterResult {
  readonly removed: BindingRecord[];
  readonly hold: LockoutRecord[];
}

/** What `hold` refuses: the number itself, or the source address(es) its removed bindings came from. */
export type HoldTarget = 'number' | 'address';

/**
 * Removes the number's bindings (or only the one whose Contact URI or key is `contact`), records a
 * `force_unregistered` event for each, and with holdS > 0 writes a suspension so the service refuses
 * the number (key `number:<n>`) or its addresses (`addr:<ip>`) for that long.
 */
export async function forceUnregister(store: Store, number: string, opts: { contact?: string | undefined; holdS?: number | undefined; holdTarget?: HoldTarget; by?: string } = {}): Promise<UnregisterResult> {
  const nowMs = Date.now();
  const by = opts.by ?? 'operator';
  const candidates = bindingsOf(store, number);
  const removed = opts.contact === undefined ? candidates
    : candidates.filter((b) => b.contact === opts.contact || b.contactKey === opts.contact);
  if (removed.length === 0) return { removed, hold: [] };
  const writes: Promise<boolean>[] = [];
  const holdS = opts.holdS ?? 0;
  // Only what was still there is reported and recorded (another process may have removed it first).
  const done = await Promise.all(removed.map((b) => removeBinding(store, b)));
  const gone = removed.filter((_, i) => done[i]);
  for (const b of gone) {
    writes.push(appendEvent(store, {
      atMs: nowMs, type: 'force_unregistered', number: b.number, source: b.source, userAgent: b.userAgent,
      detail: `removed by ${by}: ${b.contact}${holdS > 0 ? `; held ${holdS}s` : ''}`,
    }));
  }
  const hold: LockoutRecord[] = [];
  if (holdS > 0) {
    const untilMs = nowMs + holdS * 1000;
    if ((opts.holdTarget ?? 'number') === 'number') {
      hold.push({ key: lockoutKeyNumber(number), kind: 'number', address: '', number, untilMs, createdAtMs: nowMs, failures: 0, reason: `held by ${by} after force unregister` });
    } else {
      for (const address of new Set(removed.map((b) => b.sourceAddress))) {
        hold.push({ key: lockoutKeyAddress(address), kind: 'address', address, number: '', untilMs, createdAtMs: nowMs, failures: 0, reason: `held by ${by} after force unregister of ${number}` });
      }
    }
    for (const l of hold) writes.push(store.lockouts.put(l.key, l));
  }
  await Promise.all(writes);
  await durable(store); // a change: on disk (fdatasync) before the operator is told it is done
  return { removed: gone, hold };
}

/** Lifts every suspension naming the address or number, and records it. */
export async function liftLockout(store: Store, target: string, by = 'operator'): Promise<LockoutRecord[]> {
  const removed = await unlock(store, target);
  if (removed.length > 0) {
    await appendEvent(store, {
      atMs: Date.now(), type: 'unlocked', number: removed.find((l) => l.number !== '')?.number ?? '',
      source: removed.find((l) => l.address !== '')?.address ?? '', userAgent: '',
      detail: `lifted by ${by}: ${removed.map((l) => l.key).join(', ')}`,
    });
  }
  return removed;
}

export function requestReload(store: Store): Promise<boolean> {
  return postCommand(store, { atMs: Date.now(), type: 'reload', arg: '' });
}

/**
 * History and refreshed expiries reach the store with the service's flush (SS_STORE_FLUSH_INTERVAL): asks
 * the running service to flush now and waits for its mark to pass the request (at most waitMs), so
 * `events` sees the registration that was just answered. The service flushes on request at most every
 * storeLimits.flushOnRequestMinMs, so an ask soon after another one waits for that. False when no service
 * runs or it did not flush in time: the store is shown as it is then.
 */
export async function requestFlush(store: Store, waitMs = FLUSH_WAIT_MS): Promise<boolean> {
  const askedAtMs = Date.now();
  if (!serviceRunning(readService(store), askedAtMs)) return false;
  if (!await postCommand(store, { atMs: askedAtMs, type: 'flush', arg: '' })) return false;
  while (Date.now() - askedAtMs < waitMs) {
    await new Promise<void>((resolve) => { boundedTimeout(resolve, 100); });
    store.root.resetReadTxn();
    const mark = readMark(store);
    if (mark !== null && mark.flushedAtMs >= askedAtMs) return true;
  }
  return false;
}

export function requestTrunkReregister(store: Store, name: string): Promise<boolean> {
  return postCommand(store, { atMs: Date.now(), type: 'trunk_reregister', arg: name });
}

/** Lifts one suspension by its key (the console's "lift #3"), and records it. */
export async function liftLockoutKey(store: Store, key: string, by = 'operator'): Promise<LockoutRecord | null> {
  const l = store.lockouts.get(key);
  if (l === undefined) return null;
  await store.lockouts.remove(key);
  await appendEvent(store, {
    atMs: Date.now(), type: 'unlocked', number: l.number, source: l.address, userAgent: '', detail: `lifted by ${by}: ${l.key}`,
  });
  return l;
}
