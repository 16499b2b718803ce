// The service's periodic write (storage on flash). Everything that is not a change a phone or
// an operator waits for goes to the store together, in ONE write transaction every
// SS_STORE_FLUSH_INTERVAL: the later expiries of refreshed bindings and their aggregated `refreshed`
// rows (registrar/write-back.ts), the history rows, binding count and far index entries of the changes
// committed since (registrar/change-tail.ts), keepalive marks, the counters snapshot and samples, the heartbeat, the
// store's space record, and one-off rows queued with event(). Each writer joins as a FlushPart. (The
// history prune runs in small transactions of its own: service/store-space.ts.)
//
// The mark (meta MARK_KEY) is written by every flush and says how far the running service may have
// answered refreshes from memory: until `horizonMs`, each refresh promising at most horizonMs + its
// binding's stored expiresS. A clean stop writes a final flush with `clean: true`. On the next start
// a mark that is not clean means the service died (power cut, kill -9, crash): every binding that was
// live at the last flush is then kept until that bound (bindings.ts extendForRecoveryIn), so no phone
// is dropped earlier than its last 200 promised.
//
// A flush is answered only once durable: the commit has resolved and so has lmdb-js's `flushed` (the
// fdatasync of the commit, which with overlappingSync comes after the commit).
import { boundedInterval, boundedTimeout } from '../timers.js';
import { storeLimits } from '../limits.js';
import type { Store } from './env.js';
import type { EventRecord } from './records.js';
import { EventWriter } from './events.js';
import { extendForRecoveryIn, type ExpiryOverlay } from './bindings.js';

/** `meta` key of the clean-stop mark. */
export const MARK_KEY = 'store_mark';

export interface StoreMark {
  /** The service stopped after its final flush; false while it runs. */
  readonly clean: boolean;
  /** When the last durable flush took its snapshot (the service's start for the first). */
  readonly flushedAtMs: number;
  /** Refreshes may have been answered from memory until then (flushedAtMs + two intervals). */
  readonly horizonMs: number;
  readonly intervalMs: number;
  readonly pid: number;
}

/** One writer joining the flush. */
export interface FlushPart {
  /** Inside the flush's write transaction (synchronous): this part's pending writes. */
  write(store: Store, nowMs: number): void;
  /** That transaction is durable (ok), or failed: what it held is to be written again next time. */
  settled?(ok: boolean): void;
}

/** What start() found. */
export interface Recovery {
  /** The last stop was not clean (no final flush). */
  readonly unclean: boolean;
  /** Bindings kept longer by the recovery rule. */
  readonly extended: number;
  readonly mark: StoreMark | null;
}

export function readMark(store: Store): StoreMark | null {
  return (store.meta.get(MARK_KEY) as StoreMark | undefined) ?? null;
}

/** Resolves once every commit so far is on disk (lmdb-js: committed, then flushed). */
export function durable(store: Store): Promise<void> {
  return new Promise<void>((resolve, reject) => { store.root.flushed.then(() => resolve(), reject); });
}

export class StoreFlush {
  /** Rows queued by event() and by the parts, written as one history value per flush. */
  readonly rows = new EventWriter();
  /** The registrar's refreshed expiries, for the readers that decide on bindings (sweep, keepalive). */
  overlay: ExpiryOverlay | null = null;
  private readonly parts: FlushPart[] = [];
  private intervalMs: number;
  private horizon = Number.NEGATIVE_INFINITY;
  private running: Promise<boolean> | null = null;
  private requestedAtMs = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  /** A deferred flushOnRequest(). */
  private requestTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly eventScratch: EventRecord = { atMs: 0, type: 'alert', number: '', source: '', userAgent: '', detail: '' };

  constructor(readonly store: Store, intervalS: number, private readonly onError: (what: string, err: unknown) => void = () => {}) {
    this.intervalMs = intervalS * 1000;
  }

  /** Until when a refresh may be answered from memory: the horizon of the last durable mark. */
  get horizonMs(): number { return this.horizon; }

  get flushIntervalMs(): number { return this.intervalMs; }

  join(part: FlushPart): void { this.parts.push(part); }

  /** One history row, written with the next flush (the row is encoded now: `e` may be reused). */
  event(e: EventRecord): void {
    try {
      this.rows.begin(e.atMs, e.type).text(e.number).next().text(e.source).next().text(e.userAgent).next().text(e.detail).endRow();
    } catch (err) {
      this.rows.dropPartial();
      this.onError('history row not queued', err);
    }
  }

  /** event() from its fields, without making an object per call. */
  eventOf(atMs: number, type: EventRecord['type'], number: string, source: string, userAgent: string, detail: string): void {
    const e = this.eventScratch;
    e.atMs = atMs; e.type = type; e.number = number; e.source = source; e.userAgent = userAgent; e.detail = detail;
    this.event(e);
    e.number = e.source = e.userAgent = e.detail = '';
  }

  /**
   * At service start, before anything answers: applies the recovery rule when the last stop was not
   * clean, and marks the store as in use (durably). Then flushes every interval.
   */
  async start(nowMs: number = Date.now()): Promise<Recovery> {
    const mark = readMark(this.store);
    const unclean = mark !== null && !mark.clean;
    let extended = 0;
    const horizonMs = nowMs + 2 * this.intervalMs;
    await this.store.root.transaction(() => {
      if (unclean) extended = extendForRecoveryIn(this.store, mark.flushedAtMs, mark.horizonMs);
      this.putMark(false, nowMs, horizonMs);
    });
    await durable(this.store);
    this.horizon = horizonMs;
    this.schedule();
    return { unclean, extended, mark };
  }

  /** A new interval (config reload): from the next flush on. */
  changeInterval(intervalS: number): void {
    const ms = intervalS * 1000;
    if (ms === this.intervalMs) return;
    this.intervalMs = ms;
    if (this.timer !== null) this.schedule();
  }

  /**
   * One flush now (after the one in flight, if any). Resolves true once durable, false when the
   * commit failed (its parts keep what they had for the next one).
   */
  async flushNow(clean = false): Promise<boolean> {
    while (this.running !== null) await this.running;
    const run = this.flushOnce(clean);
    this.running = run;
    try {
      return await run;
    } finally {
      this.running = null;
    }
  }

  /**
   * An operator's request (`sipreg events`, the console's history screens): a flush now, at most one per
   * storeLimits.flushOnRequestMinMs. A request inside that time is not dropped but deferred to its end
   * (one pending flush for all of them), so the asker still sees what was answered before it asked.
   */
  flushOnRequest(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    const nowMs = Date.now();
    const dueMs = this.requestedAtMs + storeLimits.flushOnRequestMinMs;
    if (nowMs >= dueMs) {
      this.requestedAtMs = nowMs;
      return this.flushNow();
    }
    this.requestTimer ??= boundedTimeout(() => {
      this.requestTimer = null;
      if (this.closed) return;
      this.requestedAtMs = Date.now();
      void this.flushNow();
    }, dueMs - nowMs);
    return Promise.resolve(false);
  }

  /** Clean stop: the final flush, with the clean mark. After it, nothing is answered from memory. */
  async close(): Promise<boolean> {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.requestTimer !== null) clearTimeout(this.requestTimer);
    this.requestTimer = null;
    const ok = await this.flushNow(true);
    this.horizon = Number.NEGATIVE_INFINITY;
    return ok;
  }

  private schedule(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.closed) return;
    this.timer = boundedInterval(() => {
      if (this.running !== null) return; // the last one is still on its way to disk
      void this.flushNow();
    }, this.intervalMs);
    this.timer.unref();
  }

  private async flushOnce(clean: boolean): Promise<boolean> {
    const nowMs = Date.now();
    const horizonMs = nowMs + 2 * this.intervalMs;
    let ok = true;
    try {
      await this.store.root.transaction(() => {
        let complete = true;
        for (const part of this.parts) {
          try {
            part.write(this.store, nowMs);
          } catch (err) {
            complete = false;
            this.onError('flush part failed', err);
          }
        }
        try {
          this.rows.putIn(this.store);
        } catch (err) {
          this.rows.reset();
          this.onError('history rows not written', err);
        }
        // Clean only if everything held in memory is in this transaction.
        this.putMark(clean && complete, nowMs, horizonMs);
      });
      await durable(this.store);
    } catch (err) {
      ok = false;
      // The rows the failed transaction held are gone with it (logged); those queued since stay.
      // lmdb-js hangs the cause on err.commitError, a promise it rejects too: observe it.
      const detail = (err as { commitError?: unknown } | null)?.commitError;
      if (detail instanceof Promise) detail.catch(() => {});
      this.onError('store flush failed', err);
    }
    if (ok && horizonMs > this.horizon) this.horizon = horizonMs;
    for (const part of this.parts) {
      try {
        part.settled?.(ok);
      } catch (err) {
        this.onError('flush part settle failed', err);
      }
    }
    return ok;
  }

  private putMark(clean: boolean, flushedAtMs: number, horizonMs: number): void {
    const mark: StoreMark = { clean, flushedAtMs, horizonMs, intervalMs: this.intervalMs, pid: process.pid };
    this.store.meta.put(MARK_KEY, mark);
  }
}
