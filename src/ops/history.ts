/** Events (registration history) and lockouts as operators see them: JSON records and text lines. */
import { EVENT_TYPES, type EventRecord, type EventType, type LockoutRecord } from '../store/index.js';
import { formatDateTime, formatDuration, table, wrap } from './format.js';
import { eventHint, lockoutHint, lockoutWords } from './words.js';

/** Every event type the store knows (its codes' table), for option checks and the console's type filter. */
export { EVENT_TYPES };

/** The failed registration log: what the registrar refused. */
export const FAILED_TYPES: readonly EventType[] = ['auth_failed', 'rejected', 'locked_out'];

/** The REGISTER decisions the Why screen explains, plus what ended a binding. */
export const DECISION_TYPES: readonly EventType[] = [
  'registered', 'refreshed', 'unregistered', 'rejected', 'auth_failed', 'locked_out',
  'expired', 'force_unregistered', 'replaced', 'unreachable', 'unlocked',
];

export function isEventType(text: string): text is EventType {
  return (EVENT_TYPES as readonly string[]).includes(text);
}

export interface EventJson {
  at: string;
  type: EventType;
  number: string;
  source: string;
  user_agent: string;
  detail: string;
}

export function eventJson(e: EventRecord): EventJson {
  return { at: new Date(e.atMs).toISOString(), type: e.type, number: e.number, source: e.source, user_agent: e.userAgent, detail: e.detail };
}

/**
 * One event as text: `YYYY-MM-DD HH:MM:SS TYPE NUMBER SOURCE`, then the detail, wrapped under it so
 * nothing is lost and no line passes widthCols, then what to do when the refusal has a usual cause
 * (`=> digest username \`1003@\` is not an account; sipsak needs -u 1003`).
 */
export function eventLines(e: EventRecord, widthCols = 80): string[] {
  const head = `${formatDateTime(e.atMs)} ${e.type.padEnd(18)} ${(e.number || '-').padEnd(8)} ${e.source || ''}`.trimEnd();
  const lines = wrap(head, widthCols, '    ');
  const detail = [e.detail, e.userAgent === '' ? '' : `UA: ${e.userAgent}`].filter((x) => x !== '').join('  ');
  if (detail !== '') lines.push(...wrap(`    ${detail}`, widthCols, '    '));
  const hint = e.type === 'auth_failed' || e.type === 'rejected' ? eventHint(e) : null;
  if (hint !== null) lines.push(...wrap(`    => ${hint}`, widthCols, '       '));
  return lines;
}

export interface LockoutJson {
  key: string;
  kind: LockoutRecord['kind'];
  number: string;
  address: string;
  until: string;
  left_s: number;
  created_at: string;
  failures: number;
  reason: string;
}

export function lockoutJson(l: LockoutRecord, nowMs: number): LockoutJson {
  return {
    key: l.key, kind: l.kind, number: l.number, address: l.address, until: new Date(l.untilMs).toISOString(),
    left_s: Math.max(0, Math.ceil((l.untilMs - nowMs) / 1000)), created_at: new Date(l.createdAtMs).toISOString(),
    failures: l.failures, reason: l.reason,
  };
}

/** What a suspension refuses, in words: `1001`, `203.0.113.9`, `1001 from 203.0.113.9`. */
export function lockoutTarget(l: LockoutRecord): string {
  if (l.kind === 'number') return l.number;
  if (l.kind === 'address') return l.address;
  return `${l.number} from ${l.address}`;
}

export function lockoutsTable(lockouts: readonly LockoutRecord[], nowMs: number, widthCols = 80, numbered = false): string[] {
  return table([
    ...(numbered ? [{ title: '#', align: 'right' as const }] : []),
    { title: 'KIND' },
    { title: 'SUSPENDED', minCols: 12 },
    { title: 'LEFT', align: 'right' },
    { title: 'FAILS', align: 'right' },
    { title: 'WHY', minCols: 6 },
  ], lockouts.map((l, i) => [
    ...(numbered ? [String(i + 1)] : []),
    l.kind, lockoutTarget(l), formatDuration((l.untilMs - nowMs) / 1000), String(l.failures), lockoutWords(l),
  ]), widthCols);
}

/** Every field of one suspension, long values wrapped under their label: nothing cut. */
export function lockoutDetails(l: LockoutRecord, nowMs: number, widthCols = 80): string[] {
  const rows: [string, string][] = [
    ['Suspended', `${lockoutTarget(l)} (${l.kind})`],
    ['Why', lockoutWords(l)],
    ['Reason', l.reason],
    ['Failures', String(l.failures)],
    ['Since', formatDateTime(l.createdAtMs)],
    ['Until', `${formatDateTime(l.untilMs)}, ${formatDuration((l.untilMs - nowMs) / 1000)} left`],
    ['Means', lockoutHint(l)],
    ['Lift it', `sipreg unlock ${l.kind === 'address' ? l.address : l.number}  (or 1 on the Lockouts screen)`],
    ['Key', l.key],
  ];
  return rows.flatMap(([k, v]) => wrap(`${k.padEnd(10)} ${v}`, widthCols, ' '.repeat(11)));
}
