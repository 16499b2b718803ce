/** Outbound trunk state as operators see it: the config's trunks joined with the trunk module's records. */
import type { Config } from '../config/types.js';
import { allTrunkStates, type Store, type TrunkStateName, type TrunkStateRecord } from '../store/index.js';
import { configuredRegistrar } from '../trunk/agent.js';
import { formatDateTime, formatDuration, isoOrNull, table, wrap } from './format.js';
import { trunkHint, trunkWords } from './words.js';

export interface TrunkView {
  readonly name: string;
  readonly enabled: boolean;
  readonly state: TrunkStateName;
  readonly record: TrunkStateRecord | null;
}

/** A trunk as `trunks --json` prints it: the documented fields first, then ours. */
export interface TrunkJson {
  name: string;
  state: TrunkStateName;
  last_status: number | null;
  last_reason: string;
  granted_expires_s: number | null;
  next_action_at: string | null;
  // ours
  enabled: boolean;
  registrar: string;
  contact: string;
  last_success_at: string | null;
  failure_count: number;
  updated_at: string | null;
}

/** Config order. A trunk with no record yet is `unregistered` (or `disabled` when switched off). */
export function trunkViews(store: Store, config: Config): TrunkView[] {
  const records = allTrunkStates(store);
  return config.trunks.map((t) => {
    const record = records.get(t.name) ?? null;
    const state: TrunkStateName = !t.enabled ? 'disabled' : record === null ? 'unregistered' : record.state;
    return { name: t.name, enabled: t.enabled, state, record };
  });
}

export function trunkJson(v: TrunkView, config: Config): TrunkJson {
  const r = v.record;
  const t = config.trunks.find((x) => x.name === v.name);
  return {
    name: v.name,
    state: v.state,
    last_status: r?.lastStatus ?? null,
    last_reason: r?.lastReason ?? '',
    granted_expires_s: r?.grantedExpiresS ?? null,
    next_action_at: isoOrNull(r?.nextActionAtMs ?? null),
    enabled: v.enabled,
    registrar: r?.registrar || (t === undefined ? '' : configuredRegistrar(t)),
    contact: r?.contact ?? '',
    last_success_at: isoOrNull(r?.lastSuccessAtMs ?? null),
    failure_count: r?.failureCount ?? 0,
    updated_at: isoOrNull(r?.updatedAtMs ?? null),
  };
}

/** `in 4m10s`, `now`, or `-`. */
export function nextActionText(atMs: number | null, nowMs: number): string {
  if (atMs === null) return '-';
  return atMs <= nowMs ? 'now' : `in ${formatDuration((atMs - nowMs) / 1000)}`;
}

export function trunksTable(views: readonly TrunkView[], nowMs: number, widthCols = 80): string[] {
  return table([
    { title: 'TRUNK', minCols: 8 },
    { title: 'STATE' },
    { title: 'LAST RESPONSE', minCols: 10 },
    { title: 'GRANTED', align: 'right' },
    { title: 'NEXT ACTION' },
    { title: 'FAILS', align: 'right' },
  ], views.map((v) => {
    const r = v.record;
    return [
      v.name, v.state,
      trunkWords(r),
      r?.grantedExpiresS == null ? '-' : `${r.grantedExpiresS}s`,
      nextActionText(r?.nextActionAtMs ?? null, nowMs),
      String(r?.failureCount ?? 0),
    ];
  }), widthCols);
}

/**
 * Everything about one trunk, long values wrapped under their label (the table cuts them): settings
 * (never the password), the last reason in full, the last response, the next action, and for a failing
 * trunk what to check.
 */
export function trunkDetails(v: TrunkView, config: Config, nowMs: number, widthCols = 80): string[] {
  const r = v.record;
  const t = config.trunks.find((x) => x.name === v.name);
  const j = trunkJson(v, config);
  const ago = (atMs: number | null | undefined): string =>
    (atMs == null ? 'never' : `${formatDateTime(atMs)} (${formatDuration((nowMs - atMs) / 1000)} ago)`);
  const rows: [string, string][] = [
    ['Trunk', `${v.name} (${v.enabled ? 'enabled' : 'disabled in the config'})`],
    ['State', `${v.state}${r === null ? ' (no record yet)' : `, ${r.failureCount} failure(s) in a row`}` +
      `${r?.downSinceMs != null ? `, down for ${formatDuration((nowMs - r.downSinceMs) / 1000)}` : ''}`],
    ['Registrar', j.registrar || '-'],
    ['User', t === undefined ? '-' : `${t.username}@${t.domain}${t.authUser !== '' && t.authUser !== t.username ? `, auth_user ${t.authUser}` : ''}`],
    ['Contact', j.contact || '-'],
    ['Last answer', trunkWords(r)],
    ['Last reason', r?.lastReason || '-'],
    ['Granted', r?.grantedExpiresS == null ? '-' : `${r.grantedExpiresS} s`],
    ['Last success', ago(r?.lastSuccessAtMs)],
    ['Next action', r?.nextActionAtMs == null ? '-' : `${nextActionText(r.nextActionAtMs, nowMs)} (${formatDateTime(r.nextActionAtMs)})`],
    ['Updated', ago(r?.updatedAtMs)],
  ];
  const hint = trunkHint(r, t);
  if (hint !== null) rows.push(['Check', hint]);
  return rows.flatMap(([k, val]) => wrap(`${k.padEnd(13)} ${val}`, widthCols, ' '.repeat(14)));
}
