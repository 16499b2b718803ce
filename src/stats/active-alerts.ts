/**
 * Active alerts: conditions that hold now, derived from the store (trunk states, the
 * counters snapshot, lockouts, the latest anomaly alert) and the data_dir's file system each time someone
 * looks. The console's status line, `sipreg stats` and `stats --json` all read this one function, so they
 * show the same running truth, and an alert clears by itself when its condition ends. (alerts.ts raises
 * the one-off anomaly alerts; the latest of those is shown here for ANOMALY_SHOWN_MS.)
 *
 * Bounds, each with its reason:
 * - TRUNK_DOWN_ALERT_MS: an enabled trunk not registered for this long is down, not blinking: at the
 *   default SS_SIP_USER_AGENT_RETRY_DELAY (60 s) that is several failed attempts, and calls are failing.
 * - STORE_FAILURE_ALERT_MS: a failed store write (a REGISTER answered 500, a lost event) stays an alert
 *   this long after the last one, so an operator who looks a little later still learns of it.
 * - STORE_FREE_MIN_RATIO / STORE_FREE_MIN_BYTES: below 5 % free (the usual "disk 95 % full") or 32 MiB
 *   (a few thousand bindings' worth of pages plus LMDB's growth step) the next growth of the store may fail.
 * - LOCKOUT_STORM_MIN in LOCKOUT_STORM_WINDOW_MS: one guessed phone is a lockout or two; ten suspensions
 *   within ten minutes is an attack from many addresses, or a change that broke many phones at once.
 */
import { statfsSync } from 'node:fs';
import type { Config } from '../config/types.js';
import { activeLockouts, allTrunkStates, type Store, type TrunkStateRecord } from '../store/index.js';
import { CREDENTIAL_ALERT_COUNT } from '../trunk/timing.js';
import type { AlertKind } from './alerts.js';
import { readCountersSnapshot, readLatestAlert } from './sampler.js';

export const TRUNK_DOWN_ALERT_MS = 5 * 60_000;
export const STORE_FAILURE_ALERT_MS = 15 * 60_000;
export const STORE_FREE_MIN_RATIO = 0.05;
export const STORE_FREE_MIN_BYTES = 32 * 1024 * 1024;
export const LOCKOUT_STORM_WINDOW_MS = 10 * 60_000;
export const LOCKOUT_STORM_MIN = 10;
/** An anomaly alert (alerts.ts) shows this long after it was raised (it stays in the event log). */
export const ANOMALY_SHOWN_MS = 3_600_000;

export type ActiveAlertKind =
  | 'store_write_failures' | 'store_full' | 'store_nearly_full' | 'trunk_credentials' | 'trunk_down' | 'lockout_storm' | AlertKind;

export interface ActiveAlert {
  readonly kind: ActiveAlertKind;
  /** What it is about: a trunk's name, the data_dir, '' for the whole registrar. */
  readonly subject: string;
  /** Since when the condition holds (or when it was last seen, for store write failures). */
  readonly sinceMs: number;
  /** One sentence: what is wrong and where to look. */
  readonly detail: string;
}

/** Free space of the file system holding the store, or null when it cannot be read. */
export interface DiskSpace {
  readonly totalBytes: number;
  readonly freeBytes: number;
}

export function diskSpace(path: string): DiskSpace | null {
  try {
    const s = statfsSync(path);
    return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
  } catch {
    return null;
  }
}

export interface AlertInput {
  readonly store: Store;
  /** The config in force (the trunks that should be registered). */
  readonly config: Config;
  readonly nowMs: number;
  /** Whether the service is running: trunk states of a stopped service are history, not alerts. */
  readonly running: boolean;
  /** Defaults to the store's file system now. */
  readonly disk?: DiskSpace | null;
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

function minutes(ms: number): string {
  const m = Math.floor(ms / 60_000);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** `no answer` out of `no answer: 127.0.0.1:5060 did not answer within 32 s`: the reason's operator words. */
export function reasonWords(reason: string): string {
  const colon = reason.indexOf(':');
  return (colon > 0 && colon <= 40 ? reason.slice(0, colon) : reason).trim();
}

/** Every alert that holds now, the most pressing first. */
export function activeAlerts(input: AlertInput): ActiveAlert[] {
  const { store, config, nowMs, running } = input;
  const out: ActiveAlert[] = [];

  const snapshot = readCountersSnapshot(store);
  const failedAt = snapshot?.storeWriteFailedAtMs ?? null;
  if (snapshot !== null && failedAt !== null && nowMs - failedAt < STORE_FAILURE_ALERT_MS) {
    out.push({
      kind: 'store_write_failures', subject: store.dataDir, sinceMs: failedAt,
      detail: `store writes failing: ${snapshot.values.storeWriteFailures} since the service started, the last ` +
        `${minutes(nowMs - failedAt)} ago (disk full? REGISTERs get 500)`,
    });
  }

  const disk = input.disk === undefined ? diskSpace(store.dataDir) : input.disk;
  if (disk !== null && disk.totalBytes > 0 && disk.freeBytes < Math.max(STORE_FREE_MIN_BYTES, disk.totalBytes * STORE_FREE_MIN_RATIO)) {
    out.push({
      kind: 'store_nearly_full', subject: store.dataDir, sinceMs: nowMs,
      detail: `store nearly full: ${mib(disk.freeBytes)} free of ${mib(disk.totalBytes)} on the data_dir's file system`,
    });
  }

  if (running) {
    const records = allTrunkStates(store);
    for (const t of config.trunks) {
      const r = records.get(t.name);
      if (!t.enabled || r === undefined || r.state === 'registered' || r.state === 'disabled') continue;
      const credential = trunkCredentialAlert(r);
      if (credential !== null) { out.push(credential); continue; }
      if (r.downSinceMs != null && nowMs - r.downSinceMs >= TRUNK_DOWN_ALERT_MS) {
        out.push({
          kind: 'trunk_down', subject: t.name, sinceMs: r.downSinceMs,
          detail: `trunk ${t.name} down for ${minutes(nowMs - r.downSinceMs)}` +
            `${r.lastReason === '' ? '' : ` (${reasonWords(r.lastReason)})`}: see Trunks`,
        });
      }
    }
  }

  const recent = activeLockouts(store, nowMs).filter((l) => l.kind !== 'number' && nowMs - l.createdAtMs < LOCKOUT_STORM_WINDOW_MS);
  if (recent.length >= LOCKOUT_STORM_MIN) {
    const addresses = new Set(recent.map((l) => l.address)).size;
    out.push({
      kind: 'lockout_storm', subject: '', sinceMs: Math.min(...recent.map((l) => l.createdAtMs)),
      detail: `lockout storm: ${recent.length} suspensions in ${minutes(LOCKOUT_STORM_WINDOW_MS)} from ${addresses} ` +
        `address${addresses === 1 ? '' : 'es'} (guessing, or a change that broke phones?)`,
    });
  }

  const anomaly = readLatestAlert(store);
  if (anomaly !== null && nowMs - anomaly.atMs < ANOMALY_SHOWN_MS) {
    out.push({ kind: anomaly.kind, subject: '', sinceMs: anomaly.atMs, detail: anomaly.detail });
  }
  return out;
}

function trunkCredentialAlert(r: TrunkStateRecord): ActiveAlert | null {
  const streak = r.credentialFailures ?? 0;
  if (streak < CREDENTIAL_ALERT_COUNT) return null;
  return {
    kind: 'trunk_credentials', subject: r.name, sinceMs: r.downSinceMs ?? r.updatedAtMs,
    detail: `trunk ${r.name}: credentials refused ${streak}x in a row (auth_user/password?)`,
  };
}
