/**
 * The registrations as operators see them: filters (number, IP or CIDR, account, status), the JSON/CSV
 * record (`list --json`), and the 80-column table. Shared by `sipreg list/show/unregister` and the console.
 */
import {
  allBindings, bindingStatus, bindingsOf, expiresInS, type BindingRecord, type BindingStatus, type Store,
} from '../store/index.js';
import { addressBytes, inRange, parseRange, type Range } from '../stats/address.js';
import { formatDuration, formatShortTime, isoOrNull, table, toCsv, wrap } from './format.js';

export const BINDING_STATUSES: readonly BindingStatus[] = ['registered', 'expiring', 'expired'];

export interface BindingFilter {
  /** Exact number, or a prefix when it ends in `*` (`10*`). */
  readonly number?: string;
  readonly range?: Range;
  /** Owning account, any case. */
  readonly account?: string;
  readonly status?: BindingStatus;
}

export type FilterProblem = { readonly field: string; readonly message: string };

/** Builds a filter from operator text; returns the problem instead when a value is not usable. */
export function makeFilter(input: { number?: string | undefined; ip?: string | undefined; account?: string | undefined; status?: string | undefined }): BindingFilter | FilterProblem {
  const out: { number?: string; range?: Range; account?: string; status?: BindingStatus } = {};
  if (input.number !== undefined && input.number !== '') out.number = input.number;
  if (input.ip !== undefined && input.ip !== '') {
    const range = parseRange(input.ip);
    if (range === null) return { field: 'ip', message: `must be an address or range like 203.0.113.7 or 203.0.113.0/24. Received '${input.ip}'` };
    out.range = range;
  }
  if (input.account !== undefined && input.account !== '') out.account = input.account;
  if (input.status !== undefined && input.status !== '') {
    const status = BINDING_STATUSES.find((s) => s === input.status!.toLowerCase());
    if (status === undefined) return { field: 'status', message: `must be one of ${BINDING_STATUSES.join(', ')}. Received '${input.status}'` };
    out.status = status;
  }
  return out;
}

export function isFilterProblem(f: BindingFilter | FilterProblem): f is FilterProblem {
  return 'message' in f;
}

/** `number 10*, ip 10.0.0.0/8, status expiring`, or '' when none. */
export function describeFilter(f: BindingFilter): string {
  const parts: string[] = [];
  if (f.number !== undefined) parts.push(`number ${f.number}`);
  if (f.range !== undefined) parts.push(`ip ${f.range.text}`);
  if (f.account !== undefined) parts.push(`account ${f.account}`);
  if (f.status !== undefined) parts.push(`status ${f.status}`);
  return parts.join(', ');
}

export function matches(b: BindingRecord, f: BindingFilter, nowMs: number): boolean {
  if (f.number !== undefined) {
    if (f.number.endsWith('*') ? !b.number.startsWith(f.number.slice(0, -1)) : b.number !== f.number) return false;
  }
  if (f.range !== undefined) {
    const bytes = addressBytes(b.sourceAddress);
    if (bytes === null || !inRange(bytes, f.range)) return false;
  }
  if (f.account !== undefined && b.account.toLowerCase() !== f.account.toLowerCase()) return false;
  if (f.status !== undefined && bindingStatus(b, nowMs) !== f.status) return false;
  return true;
}

/** Matching bindings, by number then contact. An exact number reads only that number's range. */
export function findBindings(store: Store, f: BindingFilter, nowMs: number): BindingRecord[] {
  const source = f.number !== undefined && !f.number.endsWith('*') ? bindingsOf(store, f.number) : allBindings(store);
  const out: BindingRecord[] = [];
  for (const b of source) if (matches(b, f, nowMs)) out.push(b);
  return out;
}

/** A binding as `list --json` and `show --json` print it: the documented fields first, then ours. */
export interface BindingJson {
  number: string;
  aor: string;
  contact: string;
  source: string;
  expires_in_s: number;
  expires_at: string;
  registered_at: string;
  user_agent: string;
  account: string;
  nat: boolean;
  status: BindingStatus;
  call_id: string;
  cseq: number;
  // ours
  expires_s: number;
  refreshed_at: string;
  local: string;
  instance: string | null;
  q: number | null;
  keepalive: { last_sent_at: string | null; last_answered_at: string | null; missed: number; unreachable: boolean } | null;
}

export function bindingJson(b: BindingRecord, nowMs: number): BindingJson {
  return {
    number: b.number,
    aor: b.aor,
    contact: b.contact,
    source: b.source,
    expires_in_s: expiresInS(b, nowMs),
    expires_at: new Date(b.expiresAtMs).toISOString(),
    registered_at: new Date(b.registeredAtMs).toISOString(),
    user_agent: b.userAgent,
    account: b.account,
    nat: b.nat,
    status: bindingStatus(b, nowMs),
    call_id: b.callId,
    cseq: b.cseq,
    expires_s: b.expiresS,
    refreshed_at: new Date(b.refreshedAtMs).toISOString(),
    local: b.localAddress,
    instance: b.instance,
    q: b.q,
    keepalive: b.keepalive === null ? null : {
      last_sent_at: b.keepalive.lastSentAtMs > 0 ? isoOrNull(b.keepalive.lastSentAtMs) : null,
      last_answered_at: b.keepalive.lastAnsweredAtMs > 0 ? isoOrNull(b.keepalive.lastAnsweredAtMs) : null,
      missed: b.keepalive.missed,
      unreachable: b.keepalive.unreachable,
    },
  };
}

/** CSV columns: the contract's fields, then ours (keepalive is left to JSON: it is a structure). */
export const CSV_FIELDS = [
  'number', 'aor', 'contact', 'source', 'expires_in_s', 'expires_at', 'registered_at', 'user_agent', 'account',
  'nat', 'status', 'call_id', 'cseq', 'expires_s', 'refreshed_at', 'local', 'instance', 'q',
] as const;

export function bindingsCsv(bindings: readonly BindingRecord[], nowMs: number): string {
  return toCsv(CSV_FIELDS, bindings.map((b) => bindingJson(b, nowMs) as unknown as Record<string, unknown>));
}

/** The manual's words for the status column. */
export function statusWord(s: BindingStatus): string {
  return s === 'registered' ? 'Registered' : s === 'expiring' ? 'Expiring' : 'Expired';
}

/**
 * `sip:1001@192.168.1.10:5060;transport=udp` → `192.168.1.10:5060`: where the phone says it is. The
 * first `@` ends the user part (RFC 3261 §25.1: userinfo holds no `@`), so an `@` a phone puts in a
 * parameter (`;x=a@elsewhere`) cannot make the table show another host.
 */
export function contactHost(contact: string): string {
  let s = contact.replace(/^<|>$/g, '').replace(/^sips?:/i, '');
  const at = s.indexOf('@');
  if (at >= 0) s = s.slice(at + 1);
  const semi = s.search(/[;?]/);
  return semi >= 0 ? s.slice(0, semi) : s;
}

/** The real-time table: number, contact, source, expiry left, account, registered at, status. */
export function bindingsTable(bindings: readonly BindingRecord[], nowMs: number, widthCols = 80): string[] {
  return table([
    { title: 'NUMBER', minCols: 6, cutOrder: 2 },
    { title: 'CONTACT', minCols: 9, cutOrder: 0 },
    { title: 'SOURCE', minCols: 11, cutOrder: 3 },
    { title: 'LEFT', align: 'right' },
    { title: 'ACCOUNT', minCols: 7, cutOrder: 1 },
    { title: 'REGISTERED' },
    { title: 'STATUS' },
  ], bindings.map((b) => [
    b.number, contactHost(b.contact), b.source, formatDuration(expiresInS(b, nowMs)), b.account,
    formatShortTime(b.registeredAtMs), statusWord(bindingStatus(b, nowMs)),
  ]), widthCols);
}

/**
 * Every stored field of one binding, `label value` lines within widthCols; a long value (a Contact
 * with many parameters, a padded User-Agent) wraps under its label rather than being cut, so nothing
 * the phone sent is hidden. Values are shown with displayText (by wrap).
 */
export function bindingDetails(b: BindingRecord, nowMs: number, widthCols = 80): string[] {
  const j = bindingJson(b, nowMs);
  const ka = b.keepalive;
  const lines: [string, string][] = [
    ['Number', b.number],
    ['AOR', b.aor],
    ['Contact', b.contact],
    ['Instance', b.instance ?? '-'],
    ['Source', `${b.source}${b.nat ? '  (behind NAT)' : ''}`],
    ['Received on', b.localAddress],
    ['Status', `${statusWord(j.status)}, ${formatDuration(j.expires_in_s)} left of ${b.expiresS}s`],
    ['Expires at', j.expires_at],
    ['Registered at', j.registered_at],
    ['Refreshed at', j.refreshed_at],
    ['Account', b.account === '' ? '-' : b.account],
    ['User-Agent', b.userAgent === '' ? '-' : b.userAgent],
    ['Call-ID / CSeq', `${b.callId} / ${b.cseq}`],
    ['q', b.q === null ? '-' : String(b.q)],
    ['NAT keepalive', ka === null ? (b.nat ? 'not started' : 'not needed')
      : `${ka.unreachable ? 'UNREACHABLE' : 'ok'}, ${ka.missed} missed` +
        `${ka.lastAnsweredAtMs > 0 ? `, answered ${formatDuration((nowMs - ka.lastAnsweredAtMs) / 1000)} ago` : ''}`],
  ];
  return lines.flatMap(([k, v]) => wrap(`${k.padEnd(15)} ${v}`, widthCols, ' '.repeat(16)));
}
