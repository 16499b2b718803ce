// Group commit of the changes the REGISTER path decides, and their settlement. Every change decided while
// the previous commit is in flight, and within SS_STORE_COMMIT_WINDOW_MS of its start, shares the next
// one; each is answered only once that commit is on disk (committed, then lmdb-js's `flushed`: the
// fdatasync): the 200 its request left in a held slot (responder.ts hold), or the 500 beside it when the
// commit failed. Until then its number stays locked (locks.ts): a later REGISTER for it waits.
//
// Nothing is allocated per REGISTER: the pending replies are a free list of pendingCommitsMax objects
// made at start (then 503), and a batch object (pooled, its callbacks bound once) waits on the shared
// commit promise.
import { performance } from 'node:perf_hooks';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { ResponseSlot } from '../sip/index.js';
import { AorMerge, EventWriter, RecordList, type Store, type StoreFlush } from '../store/index.js';
import * as codec from '../store/binding-codec.js';
import { counters } from '../stats/counters.js';
import { assert } from '../assert.js';
import { registrarLimits } from '../limits.js';
import { boundedTimeout } from '../timers.js';
import { ChangeTail } from './change-tail.js';
import type { NumberLocks } from './locks.js';
import { Apply } from './policy.js';
import type { HeldAnswer, Responder } from './responder.js';
import type { RegisterRequest } from './request.js';

const { Str } = codec;

/** One REGISTER waiting for its commit: its held answer, and the change it commits. */
export class PendingReply implements HeldAnswer {
  slot: ResponseSlot | null = null;
  okLength = 0;
  failLength = 0;
  port = 0;
  address = '';
  socketIndex = 0;
  tx = -1;
  number = '';
  nowMs = 0;
  private apply: Apply | null = null;
  /** The decision being committed; reused by the next REGISTER this object carries. Made on first use:
   *  the pool holds pendingCommitsMax replies, and only those a load has needed carry buffers. */
  get decision(): Apply { return this.apply ??= new Apply(); }
  startedAtMs = 0;
  created = 0;
  removed = 0;
  /** Its writes threw inside the batch transaction: answered 500. */
  failed = false;
}

/** REGISTERs sharing one LMDB commit. Pooled; its callbacks are bound once per batch object. */
class Batch {
  /** replies[0, count): arrays keep their length between batches (length = 0 would free and regrow them). */
  replies: PendingReply[] = [];
  count = 0;
  /** The commit resolved (visible); its answers now wait for the fdatasync. */
  committed = false;
  /** Its history rows: handed to the next flush once the commit is durable (change-tail.ts). */
  readonly rows = new EventWriter();
  readonly write: () => void;
  readonly onCommitted: () => void;
  readonly onDurable: () => void;
  readonly onFailed: (err: unknown) => void;
  constructor(commit: GroupCommit) {
    this.write = () => commit.writeBatch(this);
    this.onCommitted = () => commit.committed(this);
    this.onDurable = () => commit.settle(this, true, null);
    this.onFailed = (err: unknown) => commit.failed(this, err);
  }
}

export interface GroupCommitDeps {
  readonly store: Store;
  /** The service's periodic flush: a durable batch's history rows join it. */
  readonly writes: StoreFlush;
  readonly log: Logger;
  readonly locks: NumberLocks;
  readonly answers: Responder;
  readonly now: () => number;
  /** After each batch is answered (the registrar re-runs deferred requests, wakes who waits for idle). */
  readonly onSettled: () => void;
}

export class GroupCommit {
  private readonly store: Store;
  private readonly writes: StoreFlush;
  private readonly log: Logger;
  private readonly locks: NumberLocks;
  private readonly answers: Responder;
  private readonly now: () => number;
  private readonly onSettled: () => void;
  private readonly freeReplies: PendingReply[] = [];
  private pendingCount = 0;
  private readonly batchPool: Batch[] = [];
  private queued: PendingReply[] = [];
  private queuedCount = 0;
  private committing = false;
  private windowMs = 0;
  /** When the last commit started (performance.now()), for SS_STORE_COMMIT_WINDOW_MS; its timer. */
  private lastCommitAtMs = Number.NEGATIVE_INFINITY;
  private commitTimer: NodeJS.Timeout | null = null;
  private readonly onCommitTimer = (): void => { this.commitTimer = null; this.schedule(); };
  private readonly merge = new AorMerge();
  private readonly mergePuts = new RecordList();
  private readonly mergeDrops = new RecordList();

  constructor(deps: GroupCommitDeps) {
    this.store = deps.store;
    this.writes = deps.writes;
    this.merge.deferral = new ChangeTail(deps.writes);
    this.log = deps.log;
    this.locks = deps.locks;
    this.answers = deps.answers;
    this.now = deps.now;
    this.onSettled = deps.onSettled;
    for (let i = 0; i < registrarLimits.pendingCommitsMax; i++) this.freeReplies.push(new PendingReply());
  }

  reload(config: Config): void {
    this.windowMs = config.params.storeCommitWindowMs;
  }

  /** REGISTERs decided and not yet answered (queued or in a commit in flight). */
  get pending(): number { return this.pendingCount; }

  /**
   * A pending reply for the next decision (its Apply receives it), below pendingCommitsMax: the caller
   * checked `pending` first. Back with recycle() when there is nothing to commit.
   */
  take(): PendingReply {
    const reply = this.freeReplies.pop();
    assert(reply !== undefined, 'no free pending reply below pendingCommitsMax');
    return reply;
  }

  /** A pending reply back to the free list, its decision emptied. */
  recycle(reply: PendingReply): void {
    reply.decision.reset();
    this.freeReplies.push(reply);
  }

  /** A change whose answers `reply` holds (responder.ts hold): its number locked, it joins the next commit. */
  queue(reply: PendingReply, req: RegisterRequest): void {
    this.pendingCount++;
    reply.number = req.number;
    reply.nowMs = req.nowMs;
    reply.startedAtMs = req.startedAtMs;
    reply.created = reply.decision.registeredCount;
    reply.removed = reply.decision.removeCount;
    this.locks.lock(req.number);
    this.queued[this.queuedCount++] = reply;
    this.schedule();
  }

  /**
   * Starts the next group commit when none is in flight, and not before SS_STORE_COMMIT_WINDOW_MS after
   * the last one started (unless commitBatchEarly changes wait): alone, a change commits at once; in a
   * storm (every phone re-registering after a power failure) the changes of each window share one
   * commit and one fdatasync.
   */
  private schedule(): void {
    if (this.committing || this.queuedCount === 0) return;
    const early = this.queuedCount >= registrarLimits.commitBatchEarly;
    if (this.commitTimer !== null) {
      if (!early) return;
      clearTimeout(this.commitTimer);
      this.commitTimer = null;
    }
    const waitMs = this.lastCommitAtMs + this.windowMs - performance.now();
    if (this.windowMs > 0 && waitMs >= 1 && !early) {
      this.commitTimer = boundedTimeout(this.onCommitTimer, waitMs);
      return;
    }
    this.flush();
  }

  /**
   * Writes every queued decision in one LMDB transaction. While that commit is in flight, new decisions
   * queue (their numbers locked) and go together in the next one, so the batch grows with the load
   * instead of the commit rate capping throughput (lmdb-js would otherwise make one transaction per
   * event-loop turn, a few datagrams each).
   */
  private flush(): void {
    if (this.queuedCount === 0) return;
    this.lastCommitAtMs = performance.now();
    const batch = this.batchPool.pop() ?? new Batch(this);
    const list = this.queued;
    this.queued = batch.replies;
    batch.replies = list;
    batch.count = this.queuedCount;
    this.queuedCount = 0;
    // One lmdb-js transaction callback for the whole batch: its writes go straight into the write
    // transaction (lmdb-js runs the callback synchronously when the write thread opens it), instead of
    // each put queueing an instruction with a resolution object and a closure of its own. The callback
    // is bound once per pooled batch. A reply whose writes throw is answered 500 on its own (writeBatch).
    let commit: Promise<unknown>;
    try {
      commit = this.store.root.transaction(batch.write);
    } catch (err) {
      commit = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.committing = true;
    batch.committed = false;
    commit.then(batch.onCommitted, batch.onFailed);
  }

  /**
   * A batch's commit resolved: visible to every reader, not yet on disk (lmdb-js overlappingSync syncs
   * after the commit). Its answers wait for that fdatasync; the next batch may commit meanwhile (its
   * numbers differ: these stay locked until answered).
   */
  committed(batch: Batch): void {
    batch.committed = true;
    this.committing = false;
    this.store.root.flushed.then(batch.onDurable, batch.onFailed);
    this.schedule();
  }

  /** The commit, or its sync, failed: every REGISTER of the batch is answered 500. */
  failed(batch: Batch, err: unknown): void {
    if (!batch.committed) this.committing = false;
    this.settle(batch, false, err);
  }

  /** The batch's writes, inside its write transaction (synchronous, as lmdb-js requires). */
  writeBatch(batch: Batch): void {
    const rows = batch.rows;
    rows.reset();
    for (let i = 0; i < batch.count; i++) {
      const r = batch.replies[i]!;
      const d = r.decision;
      // lmdb-js commits what a callback wrote before a throw, so one bad reply must not stop the rest:
      // it is answered 500 (its merge writes nothing when it throws before its put).
      try {
        d.toLists(this.mergePuts, this.mergeDrops);
        this.merge.apply(this.store, r.number, this.mergePuts, this.mergeDrops);
      } catch (err) {
        r.failed = true;
        this.log.error({ err: err instanceof Error ? err.message : String(err), number: r.number }, 'binding write failed: answering 500');
        continue;
      }
      const buf = d.buf;
      try {
        for (let i = 0; i < d.changeCount; i++) {
          const rec = d.changeRec[i]!;
          rows.begin(r.nowMs, d.changeEvent[i]!).text(r.number).next()
            .bytes(buf, codec.strStart(buf, rec, Str.source), codec.strLength(buf, rec, Str.source)).next()
            .bytes(buf, codec.strStart(buf, rec, Str.userAgent), codec.strLength(buf, rec, Str.userAgent)).next()
            .bytes(buf, d.detailStart[i]!, d.detailLength[i]!).endRow();
        }
      } catch (err) {
        rows.dropPartial();
        this.log.error({ err: err instanceof Error ? err.message : String(err), number: r.number }, 'history row not written');
      }
    }
    this.mergePuts.clear();
    this.mergeDrops.clear();
  }

  /** A batch's commit is on disk, or failed: each held answer is sent (200, or 500 when it failed). */
  settle(batch: Batch, ok: boolean, err: unknown): void {
    const nowMs = this.now();
    if (!ok) {
      // lmdb-js hangs the cause on err.commitError, a promise it rejects too: observe it, or the
      // process would die of an unhandled rejection on a full disk.
      const detail = (err as { commitError?: unknown } | null)?.commitError;
      if (detail instanceof Promise) detail.catch((cause: unknown) => this.log.error({ err: String(cause) }, 'store commit failure cause'));
      counters.storeWriteFailures++;
      this.log.error({ err: err instanceof Error ? err.message : String(err), registers: batch.count }, 'store commit failed: answering 500');
    } else {
      this.writes.rows.append(batch.rows);   // durable: its history rows join the next flush
    }
    batch.rows.reset();
    for (let i = 0; i < batch.count; i++) {
      const r = batch.replies[i]!;
      const answered = ok && !r.failed;
      if (answered) {
        counters.registersAccepted++;
        counters.bindingsCreated += r.created;
        counters.bindingsRemoved += r.removed;
      } else {
        counters.registersRejected++;
      }
      this.answers.sendHeld(r, answered, nowMs);
      counters.processed++;
      counters.processingUsTotal += Math.round((performance.now() - r.startedAtMs) * 1000);
      this.locks.unlock(r.number);
      r.failed = false;
      r.address = '';
      r.number = '';
      this.recycle(r);
      this.pendingCount--;
    }
    batch.count = 0;
    batch.committed = false;
    this.batchPool.push(batch);
    // What queued during that commit goes next, then whatever waits for a settled batch.
    this.schedule();
    this.onSettled();
  }
}
