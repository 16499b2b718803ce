/** The state of the appliance at a glance: the console's status line and the head of `sipreg stats`. */
import { hostname } from 'node:os';
import type { Config } from '../config/types.js';
import {
  activeLockouts, allBindings, readService, serviceRunning, storeReport, type ServiceRecord, type Store, type StoreReport,
} from '../store/index.js';
import { readLatestAlert } from '../stats/sampler.js';
import type { AlertRecord } from '../stats/alerts.js';
import { trunkViews } from './trunks.js';
import { cut, formatClock, formatDuration } from './format.js';

/** An alert older than this no longer shows on the status line (it stays in the event log). */
export const ALERT_SHOWN_MS = 3_600_000;

export interface Status {
  readonly nowMs: number;
  readonly host: string;
  readonly service: ServiceRecord | null;
  readonly running: boolean;
  readonly registered: number;
  readonly nat: number;
  readonly trunksUp: number;
  readonly trunksTotal: number;
  readonly lockouts: number;
  readonly alert: AlertRecord | null;
  /** The store's room (issue 19); null when it could not be read. */
  readonly store: StoreReport | null;
}

/** Reads the newest snapshot: another process (the service) writes while we look. */
export function readStatus(store: Store, config: Config, nowMs: number): Status {
  store.root.resetReadTxn();
  const service = readService(store);
  // Live bindings only: a lapsed one waiting for the sweep is no longer registered.
  const counts = { total: 0, nat: 0 };
  for (const b of allBindings(store)) {
    if (b.expiresAtMs <= nowMs) continue;
    counts.total++;
    if (b.nat) counts.nat++;
  }
  const trunks = trunkViews(store, config);
  const alert = readLatestAlert(store);
  const running = serviceRunning(service, nowMs);
  let space: StoreReport | null = null;
  try { space = storeReport(store, config.params.storeMaxMiB, running); } catch { /* statfs or stats failed: shown as unknown */ }
  return {
    nowMs,
    host: service?.host ?? hostname(),
    service,
    running,
    registered: counts.total,
    nat: counts.nat,
    trunksUp: trunks.filter((t) => t.state === 'registered').length,
    trunksTotal: trunks.length,
    lockouts: activeLockouts(store, nowMs).length,
    alert: alert !== null && nowMs - alert.atMs < ALERT_SHOWN_MS ? alert : null,
    store: space,
  };
}

/** 13M, 512K, 1.2G (short, for status lines), or with `long` 13.2 MiB: bytes in binary units. */
export function formatBytes(bytes: number, long = false): string {
  const units = long ? ['B', 'KiB', 'MiB', 'GiB', 'TiB'] : ['B', 'K', 'M', 'G', 'T'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  const digits = i === 0 ? String(v) : long ? v.toFixed(1) : v < 10 ? v.toFixed(1) : String(Math.round(v));
  return `${digits}${long ? ' ' : ''}${units[i]}`;
}

/** The store line: file size (used, free), the budget, history rows and size, the file system's free space. */
export function storeLine(r: StoreReport | null): string {
  if (r === null) return 'store: figures not readable';
  const f = r.figures;
  return `store ${formatBytes(f.fileBytes)} (used ${formatBytes(f.usedPages * f.pageSize)} free ${formatBytes(f.freePages * f.pageSize)}) ` +
    `of ${formatBytes(r.budgetBytes)} | history ${f.historyRows} rows ${formatBytes(f.historyPages * f.pageSize)} | disk free ${formatBytes(r.fileSystem.freeBytes)}`;
}

/** The store-full alert: history writes stopped so that binding changes keep their room. */
export function storeFullText(r: StoreReport): string {
  return `store full: disk free ${formatBytes(r.fileSystem.freeBytes)} < ${formatBytes(r.reserveBytes)} kept for bindings; history paused`;
}

/** Three lines, each within widthCols: the figures, the service state or the latest alert (the store's first), the store. */
export function statusLines(s: Status, widthCols = 80): string[] {
  const up = s.running && s.service !== null ? `up ${formatDuration((s.nowMs - s.service.startedAtMs) / 1000)}` : 'DOWN';
  const first = `${s.host} | service ${up} | reg ${s.registered} (NAT ${s.nat}) | trunks ${s.trunksUp}/${s.trunksTotal} | lockouts ${s.lockouts}`;
  let second: string;
  if (!s.running) {
    second = s.service === null
      ? 'Service never ran on this store: showing stored data only.'
      : `Service not running (last heartbeat ${s.service.heartbeatAtMs === 0 ? 'at its stop' : formatClock(s.service.heartbeatAtMs)}): stored data only.`;
  } else if (s.store !== null && s.store.full) {
    second = `ALERT ${s.store.fullSinceMs === null ? 'now' : formatClock(s.store.fullSinceMs)} ${storeFullText(s.store)}`;
  } else {
    second = s.alert === null ? 'No alerts.' : `ALERT ${formatClock(s.alert.atMs)} ${s.alert.detail}`;
  }
  return [cut(first, widthCols), cut(second, widthCols), cut(storeLine(s.store), widthCols)];
}
