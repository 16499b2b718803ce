/**
 * The node_exporter textfile (https://github.com/prometheus/node_exporter#textfile-collector): the
 * exposition text format, written to a temporary file in the same directory and renamed over the
 * target so the collector never reads half a file.
 */
import { closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { Counters } from './counters.js';
import type { StoreReport } from '../store/index.js';

export interface Gauges {
  readonly up: boolean;
  readonly startTimeS: number;
  readonly bindings: number;
  readonly bindingsNat: number;
  readonly lockoutsActive: number;
  readonly trunksRegistered: number;
  readonly trunksConfigured: number;
  /** The store's room; absent when it could not be read. */
  readonly store?: StoreReport;
  /** The service's memory: RSS counts the pages of the mapped store it has touched, the heap does not. */
  readonly memory?: { readonly rssBytes: number; readonly heapUsedBytes: number };
}

/** `datagramsReceived` → `datagrams_received`. */
export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

const COUNTER_HELP: Partial<Record<keyof Counters, string>> = {
  registersReceived: 'REGISTER requests received.',
  registersAccepted: 'REGISTER requests answered 200 OK.',
  challengesSent: 'REGISTER requests answered 401 with a digest challenge.',
  authFailures: 'REGISTER requests with wrong credentials.',
  registersRejected: 'REGISTER requests answered with another final non-2xx.',
  processingUsTotal: 'Sum of REGISTER processing times (receive to response sent), microseconds.',
  processed: 'REGISTER requests whose processing time is in processing_us_total.',
};

export function renderTextfile(c: Counters, g: Gauges): string {
  const out: string[] = [];
  const metric: Metric = (name, type, help, value) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${Number.isFinite(value) ? value : 0}`);
  };
  metric('sipreg_up', 'gauge', '1 while the sipreg service runs.', g.up ? 1 : 0);
  metric('sipreg_start_time_seconds', 'gauge', 'Start time of the service, Unix seconds.', g.startTimeS);
  metric('sipreg_bindings', 'gauge', 'Contact bindings currently stored.', g.bindings);
  metric('sipreg_bindings_nat', 'gauge', 'Bindings of phones behind NAT (at the last per-minute sample).', g.bindingsNat);
  metric('sipreg_lockouts_active', 'gauge', 'Suspended numbers and addresses.', g.lockoutsActive);
  metric('sipreg_trunks_registered', 'gauge', 'Trunks registered upstream.', g.trunksRegistered);
  metric('sipreg_trunks_configured', 'gauge', 'Trunks in the config.', g.trunksConfigured);
  if (g.store !== undefined) storeMetrics(metric, g.store);
  if (g.memory !== undefined) {
    metric('sipreg_process_resident_memory_bytes', 'gauge', 'Resident set of the service: its heap, code, buffers, and the pages of the mapped store it has touched.', g.memory.rssBytes);
    metric('sipreg_process_heap_used_bytes', 'gauge', 'V8 heap in use by the service (the mapped store is not in it).', g.memory.heapUsedBytes);
  }
  for (const [key, value] of Object.entries(c) as [keyof Counters, number][]) {
    const base = snakeCase(key);
    const name = `sipreg_${base.endsWith('_total') ? base : `${base}_total`}`;
    metric(name, 'counter', COUNTER_HELP[key] ?? `Counter ${key} since the service started.`, value);
  }
  return `${out.join('\n')}\n`;
}

type Metric = (name: string, type: 'gauge' | 'counter', help: string, value: number) => void;

function storeMetrics(metric: Metric, r: StoreReport): void {
  const f = r.figures;
  metric('sipreg_store_file_bytes', 'gauge', 'Size of the store file (data.mdb); LMDB never shrinks it.', f.fileBytes);
  metric('sipreg_store_page_size_bytes', 'gauge', 'LMDB page size of the store.', f.pageSize);
  metric('sipreg_store_pages_used', 'gauge', 'Pages of the store file holding data.', f.usedPages);
  metric('sipreg_store_pages_free', 'gauge', 'Pages of the store file free for reuse (given back to the disk only by compaction).', f.freePages);
  metric('sipreg_store_budget_bytes', 'gauge', 'Store size limit (SS_STORE_MAX_MB, or half the file system).', r.budgetBytes);
  metric('sipreg_store_reserve_bytes', 'gauge', 'Room kept for binding changes, in the budget and on the file system.', r.reserveBytes);
  metric('sipreg_store_filesystem_size_bytes', 'gauge', 'Size of the file system holding data_dir.', r.fileSystem.totalBytes);
  metric('sipreg_store_filesystem_free_bytes', 'gauge', 'Free space of the file system holding data_dir.', r.fileSystem.freeBytes);
  metric('sipreg_store_full', 'gauge', '1 while history writes are stopped because the file system is nearly full.', r.full ? 1 : 0);
  metric('sipreg_history_rows', 'gauge', 'Registration history rows stored.', f.historyRows);
  metric('sipreg_history_bytes', 'gauge', 'Bytes of store pages holding registration history.', f.historyPages * f.pageSize);
  const svc = r.service;
  if (svc === null) return;
  metric('sipreg_history_rows_not_written_total', 'counter', 'History rows not written because the file system was nearly full.', svc.historyRowsNotWritten);
  metric('sipreg_history_pruned_rows_total', 'counter', 'History rows pruned (retention, SS_EVENT_MAX, the budget).', svc.prunedRows);
  metric('sipreg_history_prune_transactions_total', 'counter', 'Prune transactions.', svc.pruneBatches);
  metric('sipreg_history_prune_seconds_total', 'counter', 'Event-loop time of the prune transactions.', Number((svc.pruneBatchMsTotal / 1000).toFixed(6)));
}

/**
 * Writes atomically: temp file beside the target, then rename (atomic within one file system). The
 * textfile directory is often shared (node_exporter's, writable by several services), so the temp name
 * is unguessable and created with O_EXCL: a file or symlink planted there is never written through.
 * It does not end in `.prom`, so the collector skips it; rename replaces a symlink at `path` itself.
 */
export function writeTextfile(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(9).toString('base64url')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    try { writeSync(fd, text); } finally { closeSync(fd); }
    renameSync(tmp, path);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* gone */ }
    throw err;
  }
}
