// How much room the store takes and has: the LMDB file's pages (used by each table, free
// for reuse), the history in rows and pages, and the data_dir's file system (statfs). Read from LMDB's
// own statistics (mdb_stat, mdb_env_info): O(1) per table, no walk over the data, so the service looks
// every second and `sipreg stats` and the console whenever they draw.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from 'lmdb';
import type { Store } from './env.js';
import { historyRows } from './events.js';
import { storeLimits } from '../limits.js';
import { budgetBytesFor, fileSystemSpace, type FileSystemSpace } from './budget.js';

/** The LMDB data file in data_dir (lmdb-js with a directory path: data.mdb and lock.mdb in it). */
export function dataFileOf(dataDir: string): string { return join(dataDir, 'data.mdb'); }
export function lockFileOf(dataDir: string): string { return join(dataDir, 'lock.mdb'); }

/** The tables that are never pruned: bindings, their expiry index, lockouts, trunk state, meta. */
const KEPT_TABLES: ReadonlySet<string> = new Set(['aors', 'aor_expiry', 'lockouts', 'trunks', 'meta']);

export interface StoreFigures {
  readonly pageSize: number;
  /** Bytes of data.mdb. LMDB never shrinks it: pages freed are reused, not given back. */
  readonly fileBytes: number;
  /** Pages the file holds (the last page number + 1). */
  readonly filePages: number;
  /** Pages holding data now: every table's B-tree and overflow pages, the table directory, LMDB's two meta pages. */
  readonly usedPages: number;
  /** filePages - usedPages: reused by the next writes before the file grows (the freelist's own pages count here). */
  readonly freePages: number;
  readonly historyRows: number;
  readonly historyPages: number;
  /** Pages of the tables that are never pruned (KEPT_TABLES). */
  readonly keptPages: number;
  /** Pages of the per-minute samples (pruned by age; by bytes only when no history is left). */
  readonly samplesPages: number;
}

interface DbStats { pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number; entryCount: number }
interface EnvStats extends DbStats { lastPageNumber: number; root: DbStats; free: DbStats }

function pagesOf(s: DbStats): number {
  return s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
}

/** Handles of every table in the file by name, opened once per store (other versions' tables included). */
const handles = new WeakMap<Store, Map<string, Database<unknown, any>>>();

function tableStats(store: Store): Map<string, DbStats> {
  let byName = handles.get(store);
  if (byName === undefined) { byName = new Map(); handles.set(store, byName); }
  const out = new Map<string, DbStats>();
  // The root database lists the named ones (LMDB keeps each table's record under its name there).
  // Names first: opening a table inside the walk would end the read transaction the walk runs in.
  for (const key of [...store.root.getKeys()]) {
    if (typeof key !== 'string') continue;
    let db = byName.get(key);
    if (db === undefined) {
      db = store.root.openDB({ name: key, create: false } as never) as Database<unknown, any> | undefined;
      if (db === undefined) continue;
      byName.set(key, db);
    }
    out.set(key, db.getStats() as DbStats);
  }
  return out;
}

/** The store's figures now. Synchronous and O(tables). */
export function measureStore(store: Store): StoreFigures {
  const env = store.root.getStats() as EnvStats;
  const tables = tableStats(store);
  let used = 2 + pagesOf(env.root) + pagesOf(env.free); // two meta pages, the table directory, the freelist
  let history = 0;
  let kept = 0;
  let samples = 0;
  for (const [name, s] of tables) {
    const pages = pagesOf(s);
    used += pages;
    if (name === 'history') history = pages;
    else if (name === 'samples') samples = pages;
    else if (KEPT_TABLES.has(name)) kept += pages;
  }
  const filePages = env.lastPageNumber + 1;
  let fileBytes = filePages * env.pageSize;
  try { fileBytes = statSync(dataFileOf(store.dataDir)).size; } catch { /* another layout: the pages say it */ }
  return {
    pageSize: env.pageSize, fileBytes, filePages, usedPages: Math.min(used, filePages), freePages: Math.max(0, filePages - used),
    historyRows: historyRows(store), historyPages: history, keptPages: kept, samplesPages: samples,
  };
}

/** Bytes the budget keeps for binding changes (storeLimits.reserveMinBytes says why). */
export function reserveBytesFor(f: StoreFigures): number {
  return Math.max(storeLimits.reserveMinBytes, f.keptPages * f.pageSize);
}

/**
 * Bytes of history pages to free now: what takes the store past its budget less the reserve (history
 * goes first: it is what grows), and while the file system is nearly full, what it takes to leave the
 * reserve free inside the file for binding changes (history writes have stopped by then).
 */
export function historyExcessBytes(f: StoreFigures, budgetBytes: number, reserveBytes: number, fileSystemFull: boolean): number {
  const usedBytes = f.usedPages * f.pageSize;
  let excess = usedBytes - (budgetBytes - reserveBytes);
  if (fileSystemFull) excess = Math.max(excess, reserveBytes - f.freePages * f.pageSize);
  return Math.max(0, excess);
}

/**
 * What the running service says about the store's room, in `meta` under SPACE_KEY (written with each
 * flush, and at once when the file system fills or has room again): other processes (`sipreg stats`,
 * the console) read its budget, its alert and its prune figures there.
 */
export interface SpaceRecord {
  atMs: number;
  budgetBytes: number;
  /** The budget was derived from the file system (SS_STORE_MAX_MB 0). */
  budgetAuto: boolean;
  reserveBytes: number;
  fileSystemTotalBytes: number;
  fileSystemFreeBytes: number;
  /** History writes are stopped: the file system has less than the reserve free. */
  full: boolean;
  /** When they stopped (null while they run). */
  fullSinceMs: number | null;
  /** History rows not written since the service started, because the file system was full. */
  historyRowsNotWritten: number;
  /** Prune transactions since the service started, the rows and bytes (of values) they removed. */
  pruneBatches: number;
  prunedRows: number;
  prunedBytes: number;
  /** Time on the event loop of one prune transaction's removals: the last, the largest, the sum (ms). */
  pruneBatchMsLast: number;
  pruneBatchMsMax: number;
  pruneBatchMsTotal: number;
  /** The service's memory (process.memoryUsage()): RSS includes the pages of the mapped store it has touched. */
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  /** The box's memory when the record was written (stats/box-memory.ts); absent in older records and off Linux. */
  box?: { totalBytes: number; availableBytes: number; pressureSome10: number | null; pressureSome60: number | null };
}

export const SPACE_KEY = 'store_space';

export function readSpaceRecord(store: Store): SpaceRecord | null {
  return (store.meta.get(SPACE_KEY) as SpaceRecord | undefined) ?? null;
}

/** The store's room as operators see it (`sipreg stats`, the console, the textfile). */
export interface StoreReport {
  readonly figures: StoreFigures;
  readonly fileSystem: FileSystemSpace;
  readonly budgetBytes: number;
  readonly budgetAuto: boolean;
  readonly reserveBytes: number;
  /** History writes are stopped (the running service says so), or the file system is below the reserve now. */
  readonly full: boolean;
  readonly fullSinceMs: number | null;
  /** The running service's record (prune figures, its memory); null when it does not run. */
  readonly service: SpaceRecord | null;
}

/**
 * Figures read now, with the running service's budget and alert from its record (`serviceUp`: its
 * heartbeat is fresh); without a running service, the budget SS_STORE_MAX_MB gives on this file system.
 */
export function storeReport(store: Store, configuredMiB: number, serviceUp: boolean): StoreReport {
  const figures = measureStore(store);
  const fileSystem = fileSystemSpace(store.dataDir);
  const rec = serviceUp ? readSpaceRecord(store) : null;
  const reserveBytes = rec?.reserveBytes ?? reserveBytesFor(figures);
  const below = fileSystem.freeBytes < reserveBytes;
  return {
    figures, fileSystem,
    budgetBytes: rec?.budgetBytes ?? budgetBytesFor(configuredMiB, fileSystem.totalBytes),
    budgetAuto: rec?.budgetAuto ?? configuredMiB === 0,
    reserveBytes,
    full: rec?.full === true || below,
    fullSinceMs: rec?.fullSinceMs ?? null,
    service: rec,
  };
}
