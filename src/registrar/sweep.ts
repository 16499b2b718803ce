// The expiry sweep: walks the expiry index from its oldest entry, removes bindings
// whose absolute expiry has passed and records `expired` for each. Index entries are check times at or
// before each binding's expiry (store/bindings.ts AorMerge): a number visited with nothing lapsed is
// re-armed at its earliest expiry. Bounded per pass (one commit of at
// most registrarLimits.sweepBatchMax removals); a full pass is followed at once by another, a partial
// one waits sweepIntervalMs. Expiry is absolute epoch time, so it continues across restarts: the first
// pass after a start removes whatever lapsed while the service was down. A binding refreshed since the
// last flush lives to the expiry its 200 gave (the write-back overlay), not the one stored.
import { boundedTimeout } from '../timers.js';
import type { Component, ServiceContext } from '../component.js';
import { appendEvent, expireLapsedIn, lapsedEntries, type ExpiryOverlay, type Store } from '../store/index.js';
import { counters } from '../stats/counters.js';
import { registrarLimits } from '../limits.js';
import type { NumberLocks } from './locks.js';

/**
 * One pass: returns how many bindings it removed and whether it took a full batch of index entries
 * (then another pass follows at once). Numbers with a write in flight are left for later.
 */
export async function sweepOnce(store: Store, locks: NumberLocks | null, nowMs: number,
  batchMax: number = registrarLimits.sweepBatchMax, view: ExpiryOverlay | null = null): Promise<{ removed: number; full: boolean }> {
  const entries = lapsedEntries(store, nowMs, batchMax);
  if (entries.length === 0) return { removed: 0, full: false };
  // The numbers due, each with the index times that named it (a number can have several).
  const due = new Map<string, number[]>();
  for (const [t, number] of entries) {
    if (locks !== null && locks.isLocked(number)) continue;
    const times = due.get(number);
    if (times === undefined) due.set(number, [t]);
    else times.push(t);
  }
  const numbers = [...due.keys()];
  if (locks !== null) for (const n of numbers) locks.lock(n);
  let removed = 0;
  try {
    await store.root.transaction(() => {
      for (const number of numbers) {
        for (const b of expireLapsedIn(store, number, nowMs, due.get(number)!, view)) {
          void appendEvent(store, {
            atMs: nowMs, type: 'expired', number: b.number, source: b.source, userAgent: b.userAgent,
            detail: `expired: not refreshed within its ${b.expiresS} s (last REGISTER ${new Date(b.refreshedAtMs).toISOString()}, contact ${b.contact})`,
          });
          removed++;
        }
      }
    });
    counters.bindingsExpired += removed;
    counters.bindingsRemoved += removed;
  } finally {
    if (locks !== null) {
      for (const n of numbers) locks.unlock(n);
      if (numbers.length > 0) locks.released();
    }
  }
  return { removed, full: entries.length >= batchMax && numbers.length > 0 };
}

/** The sweep as a service component. `locks` are the registrar's, so the two never race on a number. */
export function expirySweep(ctx: ServiceContext, locks: NumberLocks | null): Component {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let running: Promise<void> | null = null;
  const pass = (): void => {
    timer = null;
    if (stopped) return;
    running = sweepOnce(ctx.store, locks, Date.now(), registrarLimits.sweepBatchMax, ctx.writes.overlay).then(
      (pass) => schedule(pass.full ? 0 : registrarLimits.sweepIntervalMs),
      (err: unknown) => {
        counters.storeWriteFailures++;
        ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'expiry sweep failed');
        schedule(registrarLimits.sweepIntervalMs * 5);
      },
    );
  };
  const schedule = (delayMs: number): void => {
    if (stopped) return;
    timer = boundedTimeout(pass, delayMs);
    timer.unref();
  };
  return {
    name: 'expiry-sweep',
    async start() { schedule(0); },
    reload() { /* nothing: the sweep has no parameters of its own */ },
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      if (running !== null) await running;
    },
  };
}
