/** The state of the appliance at a glance: the console's status line and the head of `sipreg stats`. */
import { hostname } from 'node:os';
import {
  activeLockouts, allBindings, readService, serviceRunning, type ConfigRecord, type ServiceRecord, type Store,
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
    alerts: activeAlerts({ store, config: cif.config, nowMs, running }),
    config: cif.record,
    configProblem: cif.problem,
  };
}

/**
 * Two lines, each within widthCols: the figures (with the number of alerts when there are any), then the
 * first that applies of: the service down, the config not followed, the most pressing alert, "No alerts.".
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
  return [cut(first, widthCols), cut(second, widthCols)];
}

/** Every active alert as lines within widthCols (for `sipreg stats`). */
export function alertLines(alerts: readonly ActiveAlert[], widthCols = 80): string[] {
  if (alerts.length === 0) return ['No alerts.'];
  return alerts.flatMap((a) => wrap(`${formatClock(a.sinceMs)} ${a.detail}`, widthCols, '      '));
}
