// The store never fills its disk. Every storeLimits.spaceCheckIntervalMs the service looks at
// the data_dir's file system (statfs) and at the store's page counts (LMDB's statistics, O(1)), and:
//   - while the file system has less than the reserve free, history writes stop (Store.space, looked at
//     by every history writer in store/events.ts) before a binding change finds no room: a `store_full`
//     row and log line once, an alert on the status line; they resume (a `store_space_back` row) when
//     the file system has room again;
//   - history (then samples) is pruned oldest first: past SS_EVENT_RETENTION_DAYS, beyond SS_EVENT_MAX
//     rows, and beyond the budget (SS_STORE_MAX_MB, or half the file system) less the reserve; while the
//     file system is full also until the reserve is free inside the file. Each prune transaction removes
//     at most storeLimits.pruneBatchValuesMax values (well under a millisecond on the event loop), so a
//     REGISTER commit never waits behind more than one of them. Bindings, lockouts and trunk state are
//     never pruned.
// What it knows goes to `meta` (SPACE_KEY) with each flush, and at once when history stops or resumes.
import { performance } from 'node:perf_hooks';
import { boundedInterval } from '../timers.js';
import { readBoxMemory } from '../stats/box-memory.js';
import type { ServiceContext } from '../component.js';
import {
  SPACE_KEY, appendEvent, budgetBytesFor, fileSystemSpace, historyExcessBytes, measureStore, pruneHistoryIn, pruneOldestSamples,
  reserveBytesFor, storeLimits, type FileSystemSpace, type PruneResult, type SpaceRecord, type Store,
} from '../store/index.js';

/** Samples removed per transaction when the budget still needs room and no history is left. */
const SAMPLES_BATCH_MAX = 256;

export class StoreSpaceKeeper {
  private readonly store: Store;
  private budgetBytes = 0;
  private reserveBytes = storeLimits.reserveMinBytes;
  private fs: FileSystemSpace = { totalBytes: 0, freeBytes: 0 };
  private full = false;
  private fullSinceMs: number | null = null;
  /** The `store_full` / `store_space_back` row and record still to be written (a failed write is retried). */
  private changeDue: 'full' | 'back' | null = null;
  private notWrittenAtFull = 0;
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  private stopped = false;
  private warnedKeptOverBudget = false;
  private readonly prune = { batches: 0, rows: 0, bytes: 0, msLast: 0, msMax: 0, msTotal: 0 };

  constructor(private readonly ctx: ServiceContext, private readonly now: () => number = Date.now) {
    this.store = ctx.store;
  }

  /**
   * The first look before anything answers: the gate is set at once (the file system check runs
   * synchronously in tick()); its prune, however long a lowered budget makes it, goes on in the
   * background. Then a look every spaceCheckIntervalMs.
   */
  async start(): Promise<void> {
    this.setBudget();
    void this.tick();
    this.timer = boundedInterval(() => { void this.tick(); }, storeLimits.spaceCheckIntervalMs);
    this.timer.unref();
  }

  /** SS_STORE_MAX_MB may have changed. */
  reload(): void { this.setBudget(); }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.round !== null) await this.round;
  }

  /** The record other processes read (stats, console, textfile): written with the flush. */
  record(nowMs: number): SpaceRecord {
    const mem = process.memoryUsage();
    const box = readBoxMemory();
    return {
      atMs: nowMs, budgetBytes: this.budgetBytes, budgetAuto: this.ctx.config().params.storeMaxMiB === 0, reserveBytes: this.reserveBytes,
      fileSystemTotalBytes: this.fs.totalBytes, fileSystemFreeBytes: this.fs.freeBytes, full: this.full, fullSinceMs: this.fullSinceMs,
      historyRowsNotWritten: this.store.space.historyRowsNotWritten,
      pruneBatches: this.prune.batches, prunedRows: this.prune.rows, prunedBytes: this.prune.bytes,
      pruneBatchMsLast: round3(this.prune.msLast), pruneBatchMsMax: round3(this.prune.msMax), pruneBatchMsTotal: round3(this.prune.msTotal),
      rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, heapTotalBytes: mem.heapTotal, externalBytes: mem.external,
      ...(box === null ? {} : { box }),
    };
  }

  /** One look: the file system, then the prune. Never two at once. */
  tick(): Promise<void> {
    if (this.round !== null || this.stopped) return this.round ?? Promise.resolve();
    const round = this.look().catch((err: unknown) => {
      this.ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'store space check failed');
    }).finally(() => { this.round = null; });
    this.round = round;
    return round;
  }

  private setBudget(): void {
    const p = this.ctx.config().params;
    try {
      this.fs = fileSystemSpace(this.store.dataDir);
    } catch (err) {
      this.ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'data_dir file system not readable (statfs)');
    }
    const budget = budgetBytesFor(p.storeMaxMiB, this.fs.totalBytes);
    if (budget !== this.budgetBytes) {
      this.budgetBytes = budget;
      this.ctx.log.info({ budgetMiB: round3(budget / 1048576), auto: p.storeMaxMiB === 0, fileSystemMiB: round3(this.fs.totalBytes / 1048576) }, 'store size limit');
    }
    if (p.storeMaxMiB > 0 && budget > this.fs.totalBytes) {
      this.ctx.log.warn({ budgetMiB: p.storeMaxMiB, fileSystemMiB: round3(this.fs.totalBytes / 1048576) },
        'SS_STORE_MAX_MB is larger than the data_dir file system: the file system is the limit (history stops when it is nearly full)');
    }
  }

  private async look(): Promise<void> {
    const nowMs = this.now();
    this.fs = fileSystemSpace(this.store.dataDir);
    const figures = measureStore(this.store);
    this.reserveBytes = reserveBytesFor(figures);
    if (!this.full && this.fs.freeBytes < this.reserveBytes) {
      this.full = true;
      this.fullSinceMs = nowMs;
      this.store.space.historyPaused = true;
      this.notWrittenAtFull = this.store.space.historyRowsNotWritten;
      this.changeDue = 'full';
      this.ctx.log.warn({ freeBytes: this.fs.freeBytes, reserveBytes: this.reserveBytes },
        'data_dir file system nearly full: history writes stopped so binding changes keep their room');
    } else if (this.full && this.fs.freeBytes >= this.reserveBytes * storeLimits.resumeReserveFactor) {
      this.full = false;
      this.fullSinceMs = null;
      this.store.space.historyPaused = false;
      this.changeDue = 'back';
      this.ctx.log.info({ freeBytes: this.fs.freeBytes, notWritten: this.store.space.historyRowsNotWritten - this.notWrittenAtFull },
        'data_dir file system has room again: history written again');
    }
    if (this.changeDue !== null) await this.writeChange(nowMs);
    await this.pruneRound(nowMs);
  }

  /** The `store_full` / `store_space_back` row with the record, in one commit; retried next look if it fails. */
  private async writeChange(nowMs: number): Promise<void> {
    const due = this.changeDue!;
    const mib = (b: number): string => (b / 1048576).toFixed(1);
    const detail = due === 'full'
      ? `data_dir file system nearly full: ${mib(this.fs.freeBytes)} MiB free, under the ${mib(this.reserveBytes)} MiB kept for binding changes; history writes stopped`
      : `data_dir file system has ${mib(this.fs.freeBytes)} MiB free again: history written again (${this.store.space.historyRowsNotWritten - this.notWrittenAtFull} rows were not written)`;
    try {
      const row = appendEvent(this.store, { atMs: nowMs, type: due === 'full' ? 'store_full' : 'store_space_back', number: '', source: '', userAgent: '', detail }, true);
      const rec = this.store.meta.put(SPACE_KEY, this.record(nowMs));
      await Promise.all([row, rec]);
      if (this.changeDue === due) this.changeDue = null;
    } catch (err) {
      const cause = (err as { commitError?: unknown } | null)?.commitError;
      if (cause instanceof Promise) cause.catch(() => {});
      this.ctx.log.error({ err: err instanceof Error ? err.message : String(err), event: due }, 'store space event not written: retried at the next look');
    }
  }

  /** Prune transactions until nothing is past a bound (or the round's limit). */
  private async pruneRound(nowMs: number): Promise<void> {
    const p = this.ctx.config().params;
    const cutoffMs = nowMs - p.eventRetentionDays * 86_400_000;
    for (let batch = 0; batch < storeLimits.pruneBatchesPerRoundMax && !this.stopped; batch++) {
      const f = measureStore(this.store);
      const excess = historyExcessBytes(f, this.budgetBytes, reserveBytesFor(f), this.full);
      let oldest: [number, number, number] | undefined;
      for (const key of this.store.events.getKeys({ limit: 1 })) oldest = key as [number, number, number];
      const historyDue = oldest !== undefined && (oldest[0] < cutoffMs || f.historyRows > p.eventCountMax || excess > 0);
      const samplesDue = !historyDue && excess > 0 && f.samplesPages > 0;
      if (!historyDue && !samplesDue) {
        if (excess > 0 && !this.warnedKeptOverBudget) {
          this.warnedKeptOverBudget = true;
          this.ctx.log.warn({ usedBytes: f.usedPages * f.pageSize, budgetBytes: this.budgetBytes },
            'bindings, lockouts and trunk state alone take the store past its budget less the reserve: nothing left to prune (raise SS_STORE_MAX_MB)');
        }
        return;
      }
      let result: PruneResult = { rows: 0, values: 0, bytes: 0, more: false };
      let samples = 0;
      let ms = 0;
      try {
        await this.store.root.transaction(() => {
          const t0 = performance.now();
          if (historyDue) {
            result = pruneHistoryIn(this.store, {
              cutoffMs, countMax: p.eventCountMax, bytesToFree: excess,
              valuesMax: storeLimits.pruneBatchValuesMax, bytesMax: storeLimits.pruneBatchBytesMax,
            }, f.pageSize);
          } else {
            samples = pruneOldestSamples(this.store, SAMPLES_BATCH_MAX);
          }
          ms = performance.now() - t0;
        });
      } catch (err) {
        const cause = (err as { commitError?: unknown } | null)?.commitError;
        if (cause instanceof Promise) cause.catch(() => {});
        this.ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'history prune failed: tried again at the next look');
        return;
      }
      this.prune.batches++;
      this.prune.rows += result.rows;
      this.prune.bytes += result.bytes;
      this.prune.msLast = ms;
      this.prune.msMax = Math.max(this.prune.msMax, ms);
      this.prune.msTotal += ms;
      if (this.ctx.log.isLevelEnabled('debug')) {
        this.ctx.log.debug({ rows: result.rows, values: result.values, bytes: result.bytes, samples, ms: round3(ms), excessBytes: excess }, 'store pruned');
      }
      if (historyDue ? !result.more && result.values === 0 : samples === 0) return;
    }
  }
}

function round3(x: number): number { return Math.round(x * 1000) / 1000; }
