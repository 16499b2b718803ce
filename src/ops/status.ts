/** The state of the appliance at a glance: the console's status line and the head of `sipreg stats`. */
import { hostname } from 'node:os';
import {
  activeLockouts, allBindings, readService, serviceRunning, storeReport, type ConfigRecord, type ServiceRecord, type Store, type StoreReport,
} from '../store/index.js';
import { activeAlerts, type ActiveAlert } from '../stats/active-alerts.js';
import type { ConfigInForce } from './config-follow.js';
import { trunkViews } from './trunks.js';
import { cut, formatClock, formatDuration, wrap } from './format.js';

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
  /** Every active alert, the most pressing first (stats/active-alerts.ts). */
  readonly alerts: readonly ActiveAlert[];
  /** The service's config record the figures follow (null: no service running). */
  readonly config: ConfigRecord | null;
  /** Why the figures may not follow the service's config; null when they do. */
  readonly configProblem: string | null;
  /** The store's room; null when it could not be read. */
  readonly store: StoreReport | null;
}

/** Reads the newest snapshot: another process (the service) writes while we look. */
export function readStatus(store: Store, cif: ConfigInForce, nowMs: number): Status {
  store.root.resetReadTxn();
  const service = readService(store);
  const running = serviceRunning(service, nowMs);
  // Live bindings only: a lapsed one waiting for the sweep is no longer registered.
  const counts = { total: 0, nat: 0 };
  for (const b of allBindings(store)) {
    if (b.expiresAtMs <= nowMs) continue;
    counts.total++;
    if (b.nat) counts.nat++;
  }
  const trunks = trunkViews(store, cif.config);
  let space: StoreReport | null = null;
  try { space = storeReport(store, cif.config.params.storeMaxMiB, running); } catch { /* statfs or stats failed: shown as unknown */ }
  const alerts = activeAlerts({ store, config: cif.config, nowMs, running });
  // A full store comes first: history is paused so that binding changes keep their room.
  if (space !== null && space.full) {
    alerts.unshift({ kind: 'store_full', subject: store.dataDir, sinceMs: space.fullSinceMs ?? nowMs, detail: storeFullText(space) });
  }
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
    alerts,
    config: cif.record,
    configProblem: cif.problem,
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

/**
 * Three lines, each within widthCols: the figures (with the number of alerts when there are any); the first
 * that applies of: the service down, the config not followed, the most pressing alert, "No alerts."; the
 * store's figures.
 */
export function statusLines(s: Status, widthCols = 80): string[] {
  const up = s.running && s.service !== null ? `up ${formatDuration((s.nowMs - s.service.startedAtMs) / 1000)}` : 'DOWN';
  const alerts = s.alerts.length === 0 ? '' : ` | ALERTS ${s.alerts.length}`;
  const first = `${s.host} | service ${up} | reg ${s.registered} (NAT ${s.nat}) | trunks ${s.trunksUp}/${s.trunksTotal} | lockouts ${s.lockouts}${alerts}`;
  const top = s.alerts[0];
  let second: string;
  if (!s.running) {
    second = s.service === null
      ? 'Service never ran on this store: showing stored data only.'
      : `Service not running (last heartbeat ${s.service.heartbeatAtMs === 0 ? 'at its stop' : formatClock(s.service.heartbeatAtMs)}): stored data only.`;
    if (top !== undefined) second = `${second.slice(0, -1)}; ALERT ${top.detail}`;
  } else if (s.configProblem !== null) {
    second = s.configProblem;
  } else if (top !== undefined) {
    second = `ALERT${s.alerts.length > 1 ? ` 1/${s.alerts.length}` : ''} ${top.detail}`;
  } else {
    second = 'No alerts.';
  }
  return [cut(first, widthCols), cut(second, widthCols), cut(storeLine(s.store), widthCols)];
}

/** Every active alert as lines within widthCols (for `sipreg stats`). */
export function alertLines(alerts: readonly ActiveAlert[], widthCols = 80): string[] {
  if (alerts.length === 0) return ['No alerts.'];
  return alerts.flatMap((a) => wrap(`${formatClock(a.sinceMs)} ${a.detail}`, widthCols, '      '));
}
