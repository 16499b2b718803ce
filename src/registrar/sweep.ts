// The expiry sweep (issue 3 "Store"): walks the expiry index from its oldest entry, removes bindings
// whose absolute expiry has passed and records `expired` for each. Bounded per pass (one commit of at
// most registrarLimits.sweepBatchMax removals); a full pass is followed at once by another, a partial
// one waits sweepIntervalMs. Expiry is absolute epoch time, so it continues across restarts: the first
// pass after a start removes whatever lapsed while the service was down.
import type { Component, ServiceContext } from '../service/component.js';
import { appendEvent, lapsedBindings, removeBinding, type BindingRecord, type Store } from '../store/index.js';
import { counters } from '../stats/counters.js';
import { registrarLimits } from './limits.js';
import type { NumberLocks } from './locks.js';

/** One pass: returns how many bindings it removed. Numbers with a write in flight are left for later. */
export async function sweepOnce(store: Store, locks: NumberLocks | null, nowMs: number, batchMax: number = registrarLimits.sweepBatchMax): Promise<number> {
  const lapsed: BindingRecord[] = lapsedBindings(store, nowMs, batchMax);
  if (lapsed.length === 0) return 0;
  let removed = 0;
  let commit: Promise<boolean> | null = null;
  const held: string[] = [];
  for (const b of lapsed) {
    if (locks !== null && locks.isLocked(b.number)) continue;
    removeBinding(store, b);
    commit = appendEvent(store, {
      atMs: nowMs, type: 'expired', number: b.number, source: b.source, userAgent: b.userAgent,
      detail: `expired: not refreshed within its ${b.expiresS} s (last REGISTER ${new Date(b.refreshedAtMs).toISOString()}, contact ${b.contact})`,
    });
    if (locks !== null) { locks.lock(b.number); held.push(b.number); }
    removed++;
  }
  try {
    if (commit !== null) await commit;
    counters.bindingsExpired += removed;
    counters.bindingsRemoved += removed;
  } finally {
    if (locks !== null) for (const n of held) locks.unlock(n);
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
