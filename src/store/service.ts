import type { Store } from './open.js';
import type { ServiceRecord } from './records.js';

/** The service writes its heartbeat this often; readers call it down after three missed beats. */
export const HEARTBEAT_INTERVAL_MS = 5_000;

export function writeHeartbeat(store: Store, rec: ServiceRecord): Promise<boolean> {
  return store.meta.put('service', rec);
}

export function readService(store: Store): ServiceRecord | null {
  const v = store.meta.get('service') as ServiceRecord | undefined;
  return v ?? null;
}

export function serviceRunning(rec: ServiceRecord | null, nowMs: number): boolean {
  return rec !== null && rec.heartbeatAtMs > 0 && nowMs - rec.heartbeatAtMs < 3 * HEARTBEAT_INTERVAL_MS;
}

export function clearService(store: Store, rec: ServiceRecord): Promise<boolean> {
  return store.meta.put('service', { ...rec, heartbeatAtMs: 0 });
}
