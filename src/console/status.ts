/** The state of the appliance at a glance: the console's status line and the head of `sipreg stats`. */
import { hostname } from 'node:os';
import type { Config } from '../config/types.js';
import {
  activeLockouts, allBindings, readService, serviceRunning, type ServiceRecord, type Store,
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
  return {
    nowMs,
    host: service?.host ?? hostname(),
    service,
    running: serviceRunning(service, nowMs),
    registered: counts.total,
    nat: counts.nat,
    trunksUp: trunks.filter((t) => t.state === 'registered').length,
    trunksTotal: trunks.length,
    lockouts: activeLockouts(store, nowMs).length,
    alert: alert !== null && nowMs - alert.atMs < ALERT_SHOWN_MS ? alert : null,
  };
}

/** Two lines, each within widthCols: the figures, then the service state or the latest alert. */
export function statusLines(s: Status, widthCols = 80): string[] {
  const up = s.running && s.service !== null ? `up ${formatDuration((s.nowMs - s.service.startedAtMs) / 1000)}` : 'DOWN';
  const first = `${s.host} | service ${up} | reg ${s.registered} (NAT ${s.nat}) | trunks ${s.trunksUp}/${s.trunksTotal} | lockouts ${s.lockouts}`;
  let second: string;
  if (!s.running) {
    second = s.service === null
      ? 'Service never ran on this store: showing stored data only.'
      : `Service not running (last heartbeat ${s.service.heartbeatAtMs === 0 ? 'at its stop' : formatClock(s.service.heartbeatAtMs)}): stored data only.`;
  } else {
    second = s.alert === null ? 'No alerts.' : `ALERT ${formatClock(s.alert.atMs)} ${s.alert.detail}`;
  }
  return [cut(first, widthCols), cut(second, widthCols)];
}
