/**
 * Anomaly alerts on the per-minute samples (REFERENCE.md: "a sudden drop means network trouble, a
 * spike may be a flood"). The rule, compared with the baseline of the previous minutes:
 *
 * - baseline: the samples of the BASELINE_MINUTES minutes before the one just ended; at least
 *   BASELINE_SAMPLES_MIN of them, or no judgement (a service that just started knows no normal);
 * - registration count drop: below DROP_RATIO of the baseline median and DROP_MIN bindings fewer;
 * - registration count spike: above SPIKE_RATIO of the median and SPIKE_MIN bindings more;
 * - auth failure spike: at least AUTH_SPIKE_MIN failures in the minute and more than AUTH_SPIKE_FACTOR
 *   times the baseline mean per minute.
 * The absolute floors keep a small office (5 phones, one rebooting) from raising alarms. The same kind
 * is raised at most once per REPEAT_MS, so a lasting condition is one alert, not one a minute.
 */
import type { SampleRecord } from '../store/index.js';

export const BASELINE_MINUTES = 15;
export const BASELINE_SAMPLES_MIN = 5;
export const DROP_RATIO = 0.8;
export const DROP_MIN = 10;
export const SPIKE_RATIO = 1.5;
export const SPIKE_MIN = 20;
export const AUTH_SPIKE_MIN = 20;
export const AUTH_SPIKE_FACTOR = 5;
export const REPEAT_MS = 15 * 60_000;

export type AlertKind = 'registrations_drop' | 'registrations_spike' | 'auth_failures_spike';

/** What the console's status line shows; kept in `meta` under ALERT_META_KEY. */
export interface AlertRecord {
  atMs: number;
  kind: AlertKind;
  detail: string;
}

export const ALERT_META_KEY = 'alert';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Alerts raised by `current` against the samples before it (any order, any age: filtered here). */
export function detectAlerts(history: readonly SampleRecord[], current: SampleRecord): AlertRecord[] {
  const base = history.filter((s) => s.atMs < current.atMs && s.atMs >= current.atMs - BASELINE_MINUTES * 60_000);
  if (base.length < BASELINE_SAMPLES_MIN) return [];
  const out: AlertRecord[] = [];
  const m = median(base.map((s) => s.registered));
  const r = current.registered;
  if (r < m * DROP_RATIO && m - r >= DROP_MIN) {
    out.push({ atMs: current.atMs, kind: 'registrations_drop',
      detail: `registrations dropped ${Math.round((1 - r / m) * 100)}% in a minute (${Math.round(m)} -> ${r}): network trouble upstream of the phones?` });
  } else if (r > m * SPIKE_RATIO && r - m >= SPIKE_MIN) {
    out.push({ atMs: current.atMs, kind: 'registrations_spike',
      detail: `registrations rose ${Math.round((r / m - 1) * 100)}% in a minute (${Math.round(m)} -> ${r}): a flood, or phones back after an outage?` });
  }
  const meanAuth = base.reduce((a, s) => a + s.authFailures, 0) / base.length;
  if (current.authFailures >= AUTH_SPIKE_MIN && current.authFailures > meanAuth * AUTH_SPIKE_FACTOR) {
    out.push({ atMs: current.atMs, kind: 'auth_failures_spike',
      detail: `${current.authFailures} authentication failures in a minute (usual ${meanAuth.toFixed(1)}): password guessing, or a changed password?` });
  }
  return out;
}

/** Keeps the alerts whose kind was not raised within REPEAT_MS; remembers the ones let through. */
export function suppressRepeats(alerts: readonly AlertRecord[], lastRaisedMs: Map<AlertKind, number>): AlertRecord[] {
  return alerts.filter((a) => {
    const last = lastRaisedMs.get(a.kind);
    if (last !== undefined && a.atMs - last < REPEAT_MS) return false;
    lastRaisedMs.set(a.kind, a.atMs);
    return true;
  });
}
