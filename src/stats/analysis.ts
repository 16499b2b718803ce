/**
 * The "Analysis" of REFERENCE.md, computed from the store: registration count over time (per-minute
 * samples), rates, average REGISTER processing time, device types by User-Agent, areas by source
 * address, and the failed registration log. Read-only and synchronous; the console, `sipreg stats`
 * and the sampler share it.
 */
import type { Area, Config } from '../config/types.js';
import {
  allBindings, queryEvents, samplesSince, type BindingRecord, type EventRecord, type SampleRecord, type Store,
} from '../store/index.js';
import { addressBytes, defaultPrefix, inRange, rangeOfCidr } from './address.js';

export const MINUTE_MS = 60_000;

/**
 * A User-Agent reduced to the device model: version tokens, `/version` suffixes and (comments) go.
 * `Yealink SIP-T46S 66.86.0.15` → `Yealink SIP-T46S`; `Linphone/4.4.0 (belle-sip/4.4.0)` → `Linphone`;
 * `Cisco/SPA504G-7.6.2` → `Cisco/SPA504G`; `Grandstream GXP2170 1.0.11.3` → `Grandstream GXP2170`.
 */
export function normalizeUserAgent(ua: string): string {
  const text = ua.replace(/\([^)]*\)/g, ' ').trim();
  const kept: string[] = [];
  for (const token of text.split(/\s+/)) {
    if (token === '') continue;
    if (/^[vVrR]?\d+([._-][0-9A-Za-z]+)*$/.test(token)) break;        // a bare version ends the model
    const slash = token.indexOf('/');
    if (slash > 0) {
      const product = token.slice(0, slash);
      const after = token.slice(slash + 1);
      if (after === '' || /^[vV]?\d/.test(after)) { kept.push(product); break; } // product/version
      kept.push(`${product}/${after.replace(/[-_ ]?[vV]?\d+(\.\d+)+.*$/, '')}`);
      continue;
    }
    kept.push(token.replace(/[-_][vV]?\d+(\.\d+){1,}$/, ''));
  }
  const model = kept.join(' ').trim();
  if (model === '') return ua.trim() === '' ? '(no User-Agent)' : ua.trim().slice(0, 40);
  return model.slice(0, 40);
}

export interface Count {
  readonly name: string;
  readonly count: number;
}

function sortedCounts(m: Map<string, number>): Count[] {
  return [...m].map(([name, count]) => ({ name, count })).sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
}

export function deviceTypes(bindings: Iterable<BindingRecord>): Count[] {
  const m = new Map<string, number>();
  for (const b of bindings) {
    const k = normalizeUserAgent(b.userAgent);
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return sortedCounts(m);
}

export interface AreaCount extends Count {
  /** true: a configured `areas` entry; false: a /24 or /64 prefix of the rest. */
  readonly configured: boolean;
}

/** Bindings per configured area (first match wins, in config order), the rest by /24 or /64 prefix. */
export function areaCounts(bindings: Iterable<BindingRecord>, areas: readonly Area[]): AreaCount[] {
  const ranges = areas.map((a) => ({ name: a.name, ranges: a.prefixes.map(rangeOfCidr) }));
  const configured = new Map<string, number>(areas.map((a) => [a.name, 0]));
  const rest = new Map<string, number>();
  for (const b of bindings) {
    const bytes = addressBytes(b.sourceAddress);
    const area = bytes === null ? undefined : ranges.find((a) => a.ranges.some((r) => inRange(bytes, r)));
    if (area !== undefined) configured.set(area.name, configured.get(area.name)! + 1);
    else {
      const p = defaultPrefix(b.sourceAddress);
      rest.set(p, (rest.get(p) ?? 0) + 1);
    }
  }
  return [
    ...sortedCounts(configured).map((c) => ({ ...c, configured: true })),
    ...sortedCounts(rest).map((c) => ({ ...c, configured: false })),
  ];
}

export type TrendWindow = 'hour' | 'day' | 'week';

/** Buckets per window: each fits one text column of a chart 60 columns wide or less. */
export const TREND_WINDOWS: Readonly<Record<TrendWindow, { spanMs: number; bucketMs: number }>> = {
  hour: { spanMs: 3_600_000, bucketMs: MINUTE_MS },              // 60 points of 1 min
  day: { spanMs: 86_400_000, bucketMs: 30 * MINUTE_MS },         // 48 points of 30 min
  week: { spanMs: 7 * 86_400_000, bucketMs: 3 * 3_600_000 },     // 56 points of 3 h
};

export interface TrendPoint {
  readonly atMs: number;             // bucket start
  readonly registered: number | null; // mean of the bucket's samples; null when none (service down)
  readonly min: number | null;
  readonly max: number | null;
}

/** Registration count over the window ending at nowMs, one point per bucket, oldest first. */
export function trend(samples: readonly SampleRecord[], nowMs: number, window: TrendWindow): TrendPoint[] {
  const { spanMs, bucketMs } = TREND_WINDOWS[window];
  const endMs = nowMs - (nowMs % bucketMs) + bucketMs;
  const startMs = endMs - spanMs;
  const count = spanMs / bucketMs;
  const sums = new Array<number>(count).fill(0);
  const ns = new Array<number>(count).fill(0);
  const mins = new Array<number>(count).fill(Infinity);
  const maxs = new Array<number>(count).fill(-Infinity);
  for (const s of samples) {
    if (s.atMs < startMs || s.atMs >= endMs) continue;
    const i = Math.floor((s.atMs - startMs) / bucketMs);
    sums[i]! += s.registered;
    ns[i]!++;
    mins[i] = Math.min(mins[i]!, s.registered);
    maxs[i] = Math.max(maxs[i]!, s.registered);
  }
  return sums.map((sum, i) => ({
    atMs: startMs + i * bucketMs,
    registered: ns[i] === 0 ? null : Math.round(sum / ns[i]!),
    min: ns[i] === 0 ? null : mins[i]!,
    max: ns[i] === 0 ? null : maxs[i]!,
  }));
}

export interface Rates {
  readonly minutes: number;            // samples the figures are computed over
  readonly registersPerS: number;
  readonly acceptedPerS: number;
  readonly authFailuresPerS: number;
  readonly rejectedPerS: number;
  /** auth failures / REGISTERs received; 0 when none received. */
  readonly authFailureRatio: number;
  /** mean REGISTER processing time (receive → response sent), ms; null when none processed. */
  readonly avgProcessingMs: number | null;
}

/** Rates over the samples of the last `minutes` minutes. */
export function rates(samples: readonly SampleRecord[], nowMs: number, minutes: number): Rates {
  // A sample is keyed by the start of the minute it covers; the current minute has none yet.
  const sinceMs = nowMs - (nowMs % MINUTE_MS) - minutes * MINUTE_MS;
  let n = 0, registers = 0, accepted = 0, authFailures = 0, rejected = 0, us = 0, processed = 0;
  for (const s of samples) {
    if (s.atMs < sinceMs) continue;
    n++;
    registers += s.registers;
    accepted += s.accepted;
    authFailures += s.authFailures;
    rejected += s.rejected;
    us += s.processingUsTotal;
    processed += s.processed;
  }
  const seconds = Math.max(1, n) * 60;
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    minutes: n,
    registersPerS: round(registers / seconds),
    acceptedPerS: round(accepted / seconds),
    authFailuresPerS: round(authFailures / seconds),
    rejectedPerS: round(rejected / seconds),
    authFailureRatio: registers === 0 ? 0 : round(authFailures / registers),
    avgProcessingMs: processed === 0 ? null : round(us / processed / 1000),
  };
}

/** The failed registration log, newest first. */
export function failedLog(store: Store, limit: number, sinceMs?: number): EventRecord[] {
  return queryEvents(store, { type: ['auth_failed', 'rejected', 'locked_out'], newestFirst: true, limit, ...(sinceMs === undefined ? {} : { sinceMs }) });
}

export interface Analysis {
  readonly nowMs: number;
  readonly registered: number;
  readonly nat: number;
  readonly samples: readonly SampleRecord[];  // the last week
  readonly deviceTypes: Count[];
  readonly areas: AreaCount[];
  readonly last5min: Rates;
  readonly lastHour: Rates;
  readonly lastDay: Rates;
}

/** Everything the Analysis screen and `sipreg stats` show, in one pass over the bindings. */
export function analyse(store: Store, config: Config, nowMs: number): Analysis {
  const bindings: BindingRecord[] = [];
  let nat = 0;
  for (const b of allBindings(store)) {
    if (b.expiresAtMs <= nowMs) continue;
    bindings.push(b);
    if (b.nat) nat++;
  }
  const samples = samplesSince(store, nowMs - TREND_WINDOWS.week.spanMs);
  return {
    nowMs,
    registered: bindings.length,
    nat,
    samples,
    deviceTypes: deviceTypes(bindings),
    areas: areaCounts(bindings, config.areas),
    last5min: rates(samples, nowMs, 5),
    lastHour: rates(samples, nowMs, 60),
    lastDay: rates(samples, nowMs, 1440),
  };
}
