import type { Store } from './env.js';
import type { ServiceRecord } from './records.js';

import { hostname } from 'node:os';

/** What a heartbeat without its interval (an older sipreg) was written at; readers call it down after three missed beats. */
export const HEARTBEAT_INTERVAL_MS = 5_000;

export function readService(store: Store): ServiceRecord | null {
  const v = store.meta.get('service') as ServiceRecord | undefined;
  return v ?? null;
}

/**
 * Whether the service is up: its heartbeat (written with each flush) is less than three beats old and,
 * on this host, its process is alive (a service killed shows as down at once, not three beats later).
 */
export function serviceRunning(rec: ServiceRecord | null, nowMs: number): boolean {
  if (rec === null || rec.heartbeatAtMs <= 0) return false;
  if (nowMs - rec.heartbeatAtMs >= 3 * (rec.beatIntervalMs ?? HEARTBEAT_INTERVAL_MS) + 2_000) return false;
  return rec.host !== hostname() || processAlive(rec.pid);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}
