// RFC 3261 §10.3 steps 6-8 over the bindings the store holds for one AOR: wildcard, expiry per
// contact, the Call-ID/CSeq rule, refresh/reboot of the same contact or +sip.instance, and
// SERVER_REGISTRAR_MAX_BINDINGS with SS_ENDPOINT_REGISTER_REPLACE. Pure: the caller reads `existing`
// from the store (never a heap copy kept between requests) and applies the decision in one commit.
import type { Account, Params } from '../config/types.js';
import type { BindingRecord, EventType } from '../store/index.js';
import { ExpiryOutcome, ExpiryResult, computeExpiry, describeExpiry } from './expiry.js';

export interface ContactAsk {
  uri: string;             // Contact URI as sent (no <>, no header params)
  key: string;             // binding identity: +sip.instance (with reg-id) when given, else the URI
  instance: string | null;
  expiresParamS: number;   // contact `expires` param, -1 when absent
  q: number | null;        // 0..1
  nat: boolean;            // this contact looks NATed (addr.looksNatted over Contact and Via)
}

export interface RegisterAsk {
  number: string;
  aor: string;
  callId: string;
  cseq: number;
  star: boolean;
  expiresHeaderS: number;  // -1 when absent
  contacts: readonly ContactAsk[];
  source: string;          // "ip:port"
  sourceAddress: string;
  sourcePort: number;
  localAddress: string;
  userAgent: string;
  account: Account;
  nowMs: number;
  random: number;          // [0, 1): jitter draw (one per request: its contacts spread together)
}

export interface BindingChange {
  record: BindingRecord;
  previous: BindingRecord | undefined; // for a put: the record it overwrites (same key)
  event: EventType;                    // registered | refreshed | unregistered | replaced
  detail: string;
}

export interface Reject {
  readonly kind: 'reject'; readonly code: number; readonly reason: string; readonly detail: string; readonly minExpiresS: number;
}

/**
 * What an accepted REGISTER changes. Reusable: the registrar hands decide() one per pending reply and
 * the next decision made into it reuses its arrays, change objects and new records (a refresh then
 * allocates only its strings). Whoever holds it must be done with the previous decision first.
 */
export class Apply {
  readonly kind = 'apply' as const;
  readonly puts: BindingChange[] = [];
  readonly removes: BindingChange[] = [];
  /** The AOR's live bindings after the change: the 200 OK lists these. */
  readonly current: BindingRecord[] = [];
  private readonly changes: BindingChange[] = [];
  private changeCount = 0;
  private readonly records: BindingRecord[] = [];
  private recordCount = 0;

  /** Empties it for a new decision. */
  reset(): this {
    this.puts.length = 0;
    this.removes.length = 0;
    this.current.length = 0;
    this.changeCount = 0;
    this.recordCount = 0;
    return this;
  }

  /** Empties it and drops its references to records, so a pooled one holds nothing alive. */
  release(): void {
    this.reset();
    for (const c of this.changes) { c.record = blank; c.previous = undefined; c.detail = ''; }
    for (const r of this.records) { r.keepalive = null; }
  }

  change(record: BindingRecord, previous: BindingRecord | undefined, event: EventType, detail: string): BindingChange {
    let c = this.changes[this.changeCount];
    if (c === undefined) {
      c = { record, previous, event, detail };
      this.changes.push(c);
    } else {
      c.record = record;
      c.previous = previous;
      c.event = event;
      c.detail = detail;
    }
    this.changeCount++;
    return c;
  }

  /** A record object to fill (every field is set by decide). */
  record(): BindingRecord {
    let r = this.records[this.recordCount];
    if (r === undefined) {
      r = { ...blank };
      this.records.push(r);
    }
    this.recordCount++;
    return r;
  }
}

export type Decision = Reject | Apply;

const blank: BindingRecord = {
  number: '', aor: '', contactKey: '', contact: '', instance: null, source: '', sourceAddress: '', sourcePort: 0, localAddress: '',
  expiresS: 0, expiresAtMs: 0, registeredAtMs: 0, refreshedAtMs: 0, userAgent: '', account: '', nat: false, callId: '', cseq: 0, q: null,
  keepalive: null,
};

function reject(code: number, reason: string, detail: string, minExpiresS = -1): Reject {
  return { kind: 'reject', code, reason, detail, minExpiresS };
}

const expiry = new ExpiryResult();

/** Responses the policy can give, named once: README and the tests list these. */
export const PolicyReject = {
  wildcardNotZero: [400, 'Invalid Wildcard'] as const,
  wildcardNotAlone: [400, 'Invalid Wildcard'] as const,
  // No header name in the phrase: naive parsers (SIPp among them) find "CSeq" in the status line.
  cseqOrder: [400, 'Out of Order'] as const,
  tooBrief: [423, 'Interval Too Brief'] as const,
  tooMany: [403, 'Too Many Registrations'] as const,
};

/**
 * Decides one REGISTER against the AOR's current bindings. `existing` is what the store holds now,
 * lapsed bindings included (the sweep may not have removed them yet: they are treated as gone).
 */
export function decide(ask: RegisterAsk, existing: readonly BindingRecord[], params: Params, out: Apply = new Apply()): Decision {
  const now = ask.nowMs;
  out.reset();

  if (ask.star) {
    // RFC 3261 §10.3 step 6: "*" only with Expires: 0 and as the only Contact.
    if (ask.contacts.length > 0) return reject(...PolicyReject.wildcardNotAlone, `${PolicyReject.wildcardNotAlone.join(' ')}: Contact * must be the only contact (RFC 3261 §10.3 step 6)`);
    if (ask.expiresHeaderS !== 0) {
      return reject(...PolicyReject.wildcardNotZero, `${PolicyReject.wildcardNotZero.join(' ')}: Contact * needs Expires: 0, got ${ask.expiresHeaderS < 0 ? 'none' : ask.expiresHeaderS} (RFC 3261 §10.3 step 6)`);
    }
    for (const b of existing) {
      if (b.expiresAtMs > now && b.callId === ask.callId && ask.cseq <= b.cseq) return cseqReject(ask, b);
    }
    for (const b of existing) {
      out.removes.push(out.change(b, b, 'unregistered', `200 OK: unregistered ${b.contact} (Contact: *, Expires: 0)`));
    }
    return out;
  }

  // A query (no Contact): the bindings as they are (RFC 3261 §10.3 step 8).
  if (ask.contacts.length === 0) {
    for (const b of existing) if (b.expiresAtMs > now) out.current.push(b);
    return out;
  }

  // Step 7, first pass: check everything before changing anything (a failed request changes nothing).
  for (const c of ask.contacts) {
    computeExpiry(expiry, c.expiresParamS, ask.expiresHeaderS, ask.account.expiresS, params, c.nat, 0);
    if (expiry.outcome === ExpiryOutcome.TooBrief) {
      return reject(...PolicyReject.tooBrief,
        `423 Interval Too Brief: asked ${expiry.askedS} s < SS_ENDPOINT_MIN_EXPIRE ${params.endpointMinExpiresS} for ${c.uri}`,
        params.endpointMinExpiresS);
    }
    const b = findByKey(existing, c.key);
    if (b !== undefined && b.expiresAtMs > now && b.callId === ask.callId && ask.cseq <= b.cseq) return cseqReject(ask, b);
  }

  const puts = out.puts;
  const removes = out.removes;
  const contacts = ask.contacts;
  for (let ci = 0; ci < contacts.length; ci++) {
    const c = contacts[ci]!;
    if (namedBefore(contacts, ci, c.key)) continue; // the same contact twice in one request: the first counts
    computeExpiry(expiry, c.expiresParamS, ask.expiresHeaderS, ask.account.expiresS, params, c.nat, ask.random);
    const previous = findByKey(existing, c.key);
    const previousLive = previous !== undefined && previous.expiresAtMs > now;
    if (expiry.outcome === ExpiryOutcome.Remove) {
      if (previous !== undefined) {
        removes.push(out.change(previous, previous, 'unregistered', `200 OK: unregistered ${previous.contact} (expires 0 by ${expirySourceText(c, ask)})`));
      }
      continue;
    }
    const record = out.record();
    record.number = ask.number;
    record.aor = ask.aor;
    record.contactKey = c.key;
    record.contact = c.uri;
    record.instance = c.instance;
    record.source = ask.source;
    record.sourceAddress = ask.sourceAddress;
    record.sourcePort = ask.sourcePort;
    record.localAddress = ask.localAddress;
    record.expiresS = expiry.grantedS;
    record.expiresAtMs = now + expiry.grantedS * 1000;
    record.registeredAtMs = previousLive ? previous.registeredAtMs : now;
    record.refreshedAtMs = now;
    record.userAgent = ask.userAgent;
    record.account = ask.account.account;
    record.nat = c.nat;
    record.callId = ask.callId;
    record.cseq = ask.cseq;
    record.q = c.q;
    record.keepalive = previousLive && previous.keepalive !== null && previous.source === ask.source ? previous.keepalive : null;
    let detail: string;
    if (previousLive) {
      detail = `200 OK: refreshed ${c.uri} for ${describeExpiry(expiry, params)}`;
      if (previous.callId !== ask.callId) detail += `; new Call-ID: the device restarted, its own binding replaced`;
      if (previous.source !== ask.source) detail += `; source moved ${previous.source} -> ${ask.source}`;
      if (c.nat) detail += '; NAT';
      puts.push(out.change(record, previous, 'refreshed', detail));
    } else {
      detail = `200 OK: registered ${c.uri} for ${describeExpiry(expiry, params)}${c.nat ? '; NAT' : ''}`;
      puts.push(out.change(record, previous, 'registered', detail));
    }
  }

  // The AOR after this request: live bindings not named by it, plus what it puts.
  const kept = out.current;
  for (const b of existing) if (b.expiresAtMs > now && !named(contacts, b.contactKey)) kept.push(b);
  // Lapsed bindings not named here are gone as far as the phone is concerned; the sweep records `expired`.
  const max = params.bindingsPerAorMax;
  const total = kept.length + puts.length;
  if (total > max) {
    const newcomers = puts.filter((p) => p.event === 'registered').map((p) => p.record.contact).join(', ');
    if (!params.registerReplace || puts.length > max) {
      const why = puts.length > max
        ? `the request alone names ${puts.length} contacts`
        : `SS_ENDPOINT_REGISTER_REPLACE Off; kept ${kept.map((b) => b.contact).join(', ')}`;
      return reject(...PolicyReject.tooMany,
        `403 Too Many Registrations: SERVER_REGISTRAR_MAX_BINDINGS ${max} reached, ${why}; refused ${newcomers}`);
    }
    // Replace On: the oldest registrations make room (the kicked device learns on its next refresh).
    kept.sort((a, b) => a.registeredAtMs - b.registeredAtMs);
    const excess = total - max;
    for (let i = 0; i < excess; i++) {
      const b = kept[i]!;
      removes.push(out.change(b, b, 'replaced',
        `replaced by ${newcomers} from ${ask.source}: SERVER_REGISTRAR_MAX_BINDINGS ${max} reached, SS_ENDPOINT_REGISTER_REPLACE On`));
    }
    kept.splice(0, excess);
  }
  for (const p of puts) kept.push(p.record);
  return out;
}

/** Whether contacts[0..end) has this key (requests carry at most limits.contactsPerRequestMax). */
function namedBefore(contacts: readonly ContactAsk[], end: number, key: string): boolean {
  for (let i = 0; i < end; i++) if (contacts[i]!.key === key) return true;
  return false;
}

function named(contacts: readonly ContactAsk[], key: string): boolean {
  return namedBefore(contacts, contacts.length, key);
}

function findByKey(list: readonly BindingRecord[], key: string): BindingRecord | undefined {
  for (const b of list) if (b.contactKey === key) return b;
  return undefined;
}

function cseqReject(ask: RegisterAsk, b: BindingRecord): Reject {
  return reject(...PolicyReject.cseqOrder,
    `400 Out of Order: CSeq ${ask.cseq} not above ${b.cseq} of the binding ${b.contact} with the same Call-ID (RFC 3261 §10.3 step 7); nothing changed`);
}

function expirySourceText(c: ContactAsk, ask: RegisterAsk): string {
  return c.expiresParamS >= 0 ? 'contact expires param' : ask.expiresHeaderS >= 0 ? 'Expires header' : 'account expire';
}
