// The expiry sweep (issue 3 "Store"): walks the expiry index from its oldest entry, removes bindings
// whose absolute expiry has passed and records `expired` for each. Bounded per pass (one commit of at
// most registrarLimits.sweepBatchMax removals); a full pass is followed at once by another, a partial
// one waits sweepIntervalMs. Expiry is absolute epoch time, so it continues across restarts: the first
// pass after a start removes whatever lapsed while the service was down.
import type { Component, ServiceContext } from '../service/component.js';
import { appendEvent, expireLapsedIn, lapsedEntries, type Store } from '../store/index.js';
import { counters } from '../stats/counters.js';
import { registrarLimits } from './limits.js';
import type { NumberLocks } from './locks.js';

/** One pass: returns how many bindings it removed. Numbers with a write in flight are left for later. */
export async function sweepOnce(store: Store, locks: NumberLocks | null, nowMs: number, batchMax: number = registrarLimits.sweepBatchMax): Promise<number> {
  const entries = lapsedEntries(store, nowMs, batchMax);
  if (entries.length === 0) return 0;
  const numbers: string[] = [];
  for (const [, number] of entries) {
    if (locks !== null && locks.isLocked(number)) continue;
    if (!numbers.includes(number)) numbers.push(number);
  }
  if (locks !== null) for (const n of numbers) locks.lock(n);
  let removed = 0;
  try {
    await store.root.transaction(() => {
      for (const number of numbers) {
        for (const b of expireLapsedIn(store, number, nowMs)) {
          void appendEvent(store, {
            atMs: nowMs, type: 'expired', number: b.number, source: b.source, userAgent: b.userAgent,
            detail: `expired: not refreshed within its ${b.expiresS} s (last REGISTER ${new Date(b.refreshedAtMs).toISOString()}, contact ${b.contact})`,
          });
          removed++;
        }
      }
      // The entries walked are done with (an entry whose binding was refreshed elsewhere was stale).
      for (const key of entries) if (numbers.includes(key[1])) store.expiry.remove(key);
    });
    counters.bindingsExpired += removed;
    counters.bindingsRemoved += removed;
  } finally {
    if (locks !== null) for (const n of numbers) locks.unlock(n);
  }
  return removed;
}

/** The sweep as a service component. `locks` are the registrar's, so the two never race on a number. */
export function expirySweep(ctx: ServiceContext, locks: NumberLocks | null): Component {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let running: Promise<void> | null = null;
  const pass = (): void => {
    timer = null;
    if (stopped) return;
    running = sweepOnce(ctx.store, locks, Date.now()).then(
      (n) => schedule(n >= registrarLimits.sweepBatchMax ? 0 : registrarLimits.sweepIntervalMs),
      (err: unknown) => {
        counters.storeWriteFailures++;
        ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'expiry sweep failed');
        schedule(registrarLimits.sweepIntervalMs * 5);
      },
    );
  };
  const schedule = (delayMs: number): void => {
    if (stopped) return;
    timer = setTimeout(pass, delayMs);
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
