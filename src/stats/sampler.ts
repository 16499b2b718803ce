/**
 * The service's statistics component: every minute a SampleRecord (registration count and the minute's
 * counter deltas) for the Analysis charts, alert detection on it, and every few seconds the Prometheus
 * textfile when `metrics_textfile` is set. What goes to the store (sample, alert, the counters snapshot
 * for `sipreg stats`, taken by the flush itself) waits for the service's periodic flush (store/flush.ts):
 * at most SS_STORE_FLUSH_INTERVAL behind, and current when `sipreg stats` or the console asks for a flush.
 */
import { boundedInterval, boundedTimeout } from '../timers.js';
import type { Component, ServiceContext } from '../component.js';
import {
  activeLockouts, allTrunkStates, bindingCount, countBindings, minuteOf, pruneSamples, readService, samplesSince, storeReport,
  type SampleRecord, type Store, type StoreReport,
} from '../store/index.js';
import { counters, type Counters } from './counters.js';
import { ALERT_META_KEY, BASELINE_MINUTES, detectAlerts, suppressRepeats, type AlertKind, type AlertRecord } from './alerts.js';
import { renderTextfile, writeTextfile } from './prometheus.js';

export const SAMPLE_INTERVAL_MS = 60_000;
/** How often the counters snapshot and the textfile are written; node_exporter scrapes every 15 s or so. */
export const METRICS_INTERVAL_MS = 5_000;
/** Samples kept: the week chart needs 7 days; a day more for the edge. 11,520 small rows at most. */
export const SAMPLE_RETENTION_MS = 8 * 86_400_000;

/** A counters snapshot and the service record belong to one run when their starts are this close (and the pid is the same). */
const SAME_RUN_START_MS = 60_000;

/** `meta` key of the counters snapshot, for `sipreg stats` (counters live in the service's heap). */
export const COUNTERS_META_KEY = 'counters';

export interface CountersSnapshot {
  atMs: number;
  startedAtMs: number;
  pid: number;
  values: Counters;
  /** When the service last saw storeWriteFailures grow (to METRICS_INTERVAL_MS), null if never; absent in older snapshots. */
  storeWriteFailedAtMs?: number | null;
}

/**
 * The counters of the service's current run (or of its last one, when it is stopped); null before a
 * run's first snapshot, so a restarted service never shows its previous run's counters as its own.
 */
export function readCountersSnapshot(store: Store): CountersSnapshot | null {
  const snapshot = (store.meta.get(COUNTERS_META_KEY) as CountersSnapshot | undefined) ?? null;
  const service = readService(store);
  // The run is known by its pid and start (the sampler's start is the service's, within start-up).
  const sameRun = snapshot !== null && service !== null && snapshot.pid === service.pid &&
    Math.abs(snapshot.startedAtMs - service.startedAtMs) < SAME_RUN_START_MS;
  return snapshot !== null && (service === null || sameRun) ? snapshot : null;
}

export function readLatestAlert(store: Store): AlertRecord | null {
  return (store.meta.get(ALERT_META_KEY) as AlertRecord | undefined) ?? null;
}

/** The minute's sample from two counter snapshots and the store's current binding count. */
export function makeSample(atMs: number, now: { total: number; nat: number }, cur: Counters, prev: Counters): SampleRecord {
  const d = (k: keyof Counters): number => Math.max(0, cur[k] - prev[k]);
  return {
    atMs: minuteOf(atMs),
    registered: now.total,
    nat: now.nat,
    registers: d('registersReceived'),
    accepted: d('registersAccepted'),
    authFailures: d('authFailures'),
    rejected: d('registersRejected'),
    processingUsTotal: d('processingUsTotal'),
    processed: d('processed'),
  };
}

/** The textfile's gauges beside the counters: what the store and the process hold now. */
function gauges(ctx: ServiceContext, up: boolean, startedAtMs: number, bindingsNat: number, nowMs: number): Parameters<typeof renderTextfile>[1] {
  const trunks = allTrunkStates(ctx.store);
  let trunksRegistered = 0;
  for (const t of trunks.values()) if (t.state === 'registered') trunksRegistered++;
  let store: StoreReport | undefined;
  try { store = storeReport(ctx.store, ctx.config().params.storeMaxMiB, true); } catch { /* left out of this textfile */ }
  const mem = process.memoryUsage();
  return {
    up, startTimeS: Math.floor(startedAtMs / 1000), bindings: bindingCount(ctx.store), bindingsNat,
    lockoutsActive: activeLockouts(ctx.store, nowMs).length, trunksRegistered, trunksConfigured: ctx.config().trunks.length,
    ...(store === undefined ? {} : { store }), memory: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed },
  };
}

export function statsSampler(ctx: ServiceContext): Component {
  const startedAtMs = Date.now();
  let prev: Counters = { ...counters };
  let lastNat = 0;
  // The NAT count reads every binding. Only the metrics textfile needs it before the first sample, so
  // it is taken there when first needed: without a textfile, start-up neither waits for that walk nor
  // maps every page of the store into the process (RSS).
  let natKnown = false;
  let sampleTimer: NodeJS.Timeout | null = null;
  let metricsTimer: NodeJS.Timeout | null = null;
  const lastRaised = new Map<AlertKind, number>();
  // Waiting for the next flush: samples (a few at most), the latest alert; the counters are taken by it.
  let samples: SampleRecord[] = [];
  let alert: AlertRecord | null = null;
  let pruneDue = false;
  ctx.writes.join({
    write(store: Store, nowMs: number) {
      for (const s of samples) store.samples.put(minuteOf(s.atMs), s);
      samples = [];
      if (alert !== null) store.meta.put(ALERT_META_KEY, alert);
      alert = null;
      // The counters as they are now: a flush asked for by `sipreg stats` shows what was just counted.
      store.meta.put(COUNTERS_META_KEY, snapshotNow(nowMs));
      if (pruneDue) pruneSamples(store, nowMs - SAMPLE_RETENTION_MS, 100);
      pruneDue = false;
    },
  });
  // Store write failures as an active alert (active-alerts.ts) need when they happened, not only how many.
  let failuresSeen = counters.storeWriteFailures;
  let storeWriteFailedAtMs: number | null = null;

  const sample = (): void => {
    const nowMs = Date.now();
    try {
      const cur: Counters = { ...counters };
      const counts = countBindings(ctx.store);
      lastNat = counts.nat;
      natKnown = true;
      // The sample describes the minute that just ended.
      const s = makeSample(nowMs - SAMPLE_INTERVAL_MS / 2, counts, cur, prev);
      prev = cur;
      // The baseline: the samples stored, and those still waiting for the flush.
      const history = samplesSince(ctx.store, s.atMs - BASELINE_MINUTES * 60_000).concat(samples);
      if (samples.length < 16) samples.push(s);
      for (const a of suppressRepeats(detectAlerts(history, s), lastRaised)) {
        ctx.log.warn({ alert: a.kind }, a.detail);
        alert = a;
        ctx.writes.eventOf(nowMs, 'alert', '', '', '', a.detail);
      }
      pruneDue = true;
    } catch (err) {
      ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'stats sample failed');
    }
  };

  const snapshotNow = (nowMs: number): CountersSnapshot => {
    const values: Counters = { ...counters };
    if (values.storeWriteFailures > failuresSeen) {
      failuresSeen = values.storeWriteFailures;
      storeWriteFailedAtMs = nowMs;
    }
    return { atMs: nowMs, startedAtMs, pid: process.pid, values, storeWriteFailedAtMs };
  };

  const writeMetrics = (up: boolean): void => {
    const nowMs = Date.now();
    const { values } = snapshotNow(nowMs);
    const path = ctx.config().metricsTextfile;
    if (path === null) return;
    try {
      if (!natKnown) { lastNat = countBindings(ctx.store).nat; natKnown = true; }
      writeTextfile(path, renderTextfile(values, gauges(ctx, up, startedAtMs, lastNat, nowMs)));
    } catch (err) {
      ctx.log.warn({ err: err instanceof Error ? err.message : String(err), path }, 'metrics textfile not written');
    }
  };

  return {
    name: 'stats',
    async start() {
      writeMetrics(true);
      metricsTimer = boundedInterval(() => writeMetrics(true), METRICS_INTERVAL_MS);
      metricsTimer.unref();
      // First sample at the next minute boundary, so samples line up with their keys.
      const nowMs = Date.now();
      sampleTimer = boundedTimeout(() => {
        sample();
        sampleTimer = boundedInterval(sample, SAMPLE_INTERVAL_MS);
        sampleTimer.unref();
      }, minuteOf(nowMs) + SAMPLE_INTERVAL_MS - nowMs + 50);
      sampleTimer.unref();
    },
    reload() { writeMetrics(true); },
    async stop() {
      if (sampleTimer !== null) clearTimeout(sampleTimer);
      if (metricsTimer !== null) clearInterval(metricsTimer);
      writeMetrics(false);
    },
  };
}
