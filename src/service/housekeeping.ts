import { hostname } from 'node:os';
import type { Component, ServiceContext } from './component.js';
import { pruneEventsIn, type ServiceRecord } from '../store/index.js';
import { VERSION } from '../version.js';

/** How often old history rows are pruned; each pass removes a bounded batch. */
const PRUNE_INTERVAL_MS = 60_000;

/**
 * Heartbeat for the console's "service is down", and the history retention bound. Both are written
 * with the service's periodic flush (store/flush.ts): the heartbeat once per SS_STORE_FLUSH_INTERVAL
 * (the record says so, for readers to judge it), the prune at most once a minute.
 */
export function housekeeping(ctx: ServiceContext): Component {
  const startedAtMs = Date.now();
  let lastPruneMs = Number.NEGATIVE_INFINITY;
  let stopped = false;
  const record = (nowMs: number): ServiceRecord => ({
    pid: process.pid, host: hostname(), startedAtMs, heartbeatAtMs: stopped ? 0 : nowMs,
    configFile: ctx.config().file, version: VERSION, beatIntervalMs: ctx.writes.flushIntervalMs,
  });
  ctx.writes.join({
    write(store, nowMs) {
      store.meta.put('service', record(nowMs));
      if (stopped || nowMs - lastPruneMs < PRUNE_INTERVAL_MS) return;
      lastPruneMs = nowMs;
      const p = ctx.config().params;
      const removed = pruneEventsIn(store, nowMs, p.eventRetentionDays, p.eventCountMax);
      if (removed > 0) ctx.log.debug({ removed }, 'history pruned');
    },
  });
  return {
    name: 'housekeeping',
    async start() {
      // The first beat at once: the console sees the service from its start.
      await ctx.store.meta.put('service', record(Date.now()));
    },
    reload() { /* the next flush writes the record with the new config file and interval */ },
    async stop() {
      stopped = true; // the final flush writes the record with heartbeat 0: stopped
    },
  };
}
