/** Outbound trunk state as operators see it: the config's trunks joined with the trunk module's records. */
import type { Config } from '../config/types.js';
import { allTrunkStates, type Store, type TrunkStateName, type TrunkStateRecord } from '../store/index.js';
import { formatDuration, isoOrNull, table } from './format.js';

export interface TrunkView {
  readonly name: string;
  readonly enabled: boolean;
  readonly state: TrunkStateName;
  readonly record: TrunkStateRecord | null;
}

/** CONTRACT.md's trunk object, then ours. */
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
    registrar: r?.registrar ?? (t === undefined ? '' : `${t.registrar}:${t.port ?? 5060}`),
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
      r === null || r.lastStatus === null ? (r?.lastReason || '-') : `${r.lastStatus} ${r.lastReason}`,
      r?.grantedExpiresS == null ? '-' : `${r.grantedExpiresS}s`,
      nextActionText(r?.nextActionAtMs ?? null, nowMs),
      String(r?.failureCount ?? 0),
    ];
  }), widthCols);
}
