import { boundedInterval } from '../timers.js';
import { hostname } from 'node:os';
import type { Component, ServiceContext } from './component.js';
import {
  writeHeartbeat, clearService, pruneEvents, HEARTBEAT_INTERVAL_MS, type ServiceRecord,
} from '../store/index.js';
import { VERSION } from '../version.js';

/** How often old history rows are pruned; each pass removes a bounded batch. */
const PRUNE_INTERVAL_MS = 60_000;

/** Heartbeat for the console's "service is down", and the history retention bound. */
export function housekeeping(ctx: ServiceContext): Component {
  const startedAtMs = Date.now();
  let heartbeat: NodeJS.Timeout | null = null;
  let prune: NodeJS.Timeout | null = null;
  const record = (): ServiceRecord => ({
    pid: process.pid, host: hostname(), startedAtMs, heartbeatAtMs: Date.now(),
    configFile: ctx.config().file, version: VERSION,
  });
  const beat = (): void => {
    writeHeartbeat(ctx.store, record()).catch((err: unknown) => ctx.log.error({ err }, 'heartbeat write failed'));
  };
  const pruneOnce = (): void => {
    const p = ctx.config().params;
    pruneEvents(ctx.store, Date.now(), p.eventRetentionDays, p.eventCountMax).then(
      (removed) => { if (removed > 0) ctx.log.debug({ removed }, 'history pruned'); },
      (err: unknown) => ctx.log.error({ err }, 'history prune failed'),
    );
  };
  return {
    name: 'housekeeping',
    async start() {
      beat();
      pruneOnce();
      heartbeat = boundedInterval(beat, HEARTBEAT_INTERVAL_MS);
      prune = boundedInterval(pruneOnce, PRUNE_INTERVAL_MS);
      heartbeat.unref();
      prune.unref();
    },
    reload() { beat(); },
    async stop() {
      if (heartbeat !== null) clearInterval(heartbeat);
      if (prune !== null) clearInterval(prune);
      await clearService(ctx.store, record());
    },
  };
}
