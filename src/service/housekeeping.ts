import { hostname } from 'node:os';
import type { Component, ServiceContext } from '../component.js';
import { SPACE_KEY, type ServiceRecord } from '../store/index.js';
import { VERSION } from '../version.js';
import { serviceLimits } from '../limits.js';
import { boundedInterval } from '../timers.js';
import { StoreSpaceKeeper } from './store-space.js';

/**
 * Heartbeat for the console's "service is down", and the store's size (store-space.ts: the history
 * prune in small transactions of its own, the file system check). The heartbeat and the space record
 * are written with the service's periodic flush (store/flush.ts), once per SS_STORE_FLUSH_INTERVAL
 * (the record says so, for readers to judge it).
 */
export function housekeeping(ctx: ServiceContext): Component {
  const startedAtMs = Date.now();
  let stopped = false;
  const space = new StoreSpaceKeeper(ctx);
  const record = (nowMs: number): ServiceRecord => ({
    pid: process.pid, host: hostname(), startedAtMs, heartbeatAtMs: stopped ? 0 : nowMs,
    configFile: ctx.config().file, version: VERSION, beatIntervalMs: ctx.writes.flushIntervalMs,
  });
  ctx.writes.join({
    write(store, nowMs) {
      store.meta.put('service', record(nowMs));
      store.meta.put(SPACE_KEY, space.record(nowMs));
    },
  });
  // A loop that was blocked says so: the watchdog kills a service blocked for WatchdogSec without a word
  // from it, and a shorter block is SIP left unanswered for that long.
  let beat: NodeJS.Timeout | null = null;
  let beatAtMs = 0;
  const onBeat = (): void => {
    const nowMs = Date.now();
    const blockedMs = nowMs - beatAtMs - serviceLimits.loopBeatMs;
    beatAtMs = nowMs;
    if (blockedMs >= serviceLimits.loopBlockedWarnMs) ctx.log.warn({ blockedMs }, `event loop blocked for ${(blockedMs / 1000).toFixed(1)} s`);
  };
  return {
    name: 'housekeeping',
    async start() {
      beatAtMs = Date.now();
      beat = boundedInterval(onBeat, serviceLimits.loopBeatMs);
      beat.unref();
      await space.start();
      // The first beat and the store's figures at once: the console and `sipreg stats` see this run
      // (its memory, its budget) from its start, not nothing or an earlier run's record until the
      // first flush.
      const nowMs = Date.now();
      await Promise.all([ctx.store.meta.put('service', record(nowMs)), ctx.store.meta.put(SPACE_KEY, space.record(nowMs))]);
    },
    reload() { space.reload(); /* the next flush writes the record with the new config file and interval */ },
    async stop() {
      if (beat !== null) clearInterval(beat);
      stopped = true; // the final flush writes the record with heartbeat 0: stopped
      await space.stop();
    },
  };
}
