// RFC 3261 §10.3 steps 6-8 over the bindings the store holds for one AOR: wildcard, expiry per
// contact, the Call-ID/CSeq rule, refresh/reboot of the same contact or +sip.instance, and
// SERVER_REGISTRAR_MAX_BINDINGS with SS_ENDPOINT_REGISTER_REPLACE. Pure: the caller reads `existing`
// from the store (never a heap copy kept between requests) and applies the decision in one commit.
// It works on bytes: the request's strings are ranges of one buffer, the stored bindings are records
// (store/binding-codec.ts), and the new records and the events' details are written as bytes into the
// decision. An accepted REGISTER makes no string here.
import type { Account, Params } from '../config/types.js';
import type { EventType } from '../store/index.js';
import { AOR_RECORDS_MAX, ByteText, RecordList, Scratch, copyInto, type StoredBindings } from '../store/index.js';
import { limits } from '../limits.js';
import * as codec from '../store/binding-codec.js';
import { ExpiryOutcome, ExpiryResult, computeExpiry, describeExpiry } from './expiry.js';

const { Str } = codec;

/** Changes (and current bindings) one decision can hold: every stored binding plus every contact. */
const CHANGES_MAX = AOR_RECORDS_MAX + limits.contactsPerRequestMax;

/** A Contact of the request. Its strings are ranges of RegisterAsk.buf, indexed by Str.key/contact/instance. */
export class ContactAsk {
  readonly start = new Int32Array(3);
  readonly length = new Int32Array(3);
  hasInstance = false;
  expiresParamS = -1;      // contact `expires` param, -1 when absent
  qPermille = -1;          // q × 1000, -1 when absent
  nat = false;             // this contact looks NATed (addr.looksNatted over Contact and Via)
}

/**
 * The REGISTER as the policy sees it. Its strings are ranges of `buf`, indexed by Str (aor, source,
 * sourceAddress, localAddress, userAgent, account, callId); the contacts' own strings are theirs.
 */
export class RegisterAsk {
  buf: Buffer = Buffer.alloc(0);
  readonly start = new Int32Array(codec.STRING_COUNT);
  readonly length = new Int32Array(codec.STRING_COUNT);
  number = '';
  cseq = 0;
  star = false;
  expiresHeaderS = -1;     // -1 when absent
  /** contacts[0, contactCount) are this request's (the objects are reused). */
  readonly contacts: ContactAsk[] = Array.from({ length: limits.contactsPerRequestMax }, () => new ContactAsk());
  contactCount = 0;
  sourcePort = 0;
  account!: Account;
  nowMs = 0;
  random = 0;              // [0, 1): jitter draw (one per request: its contacts spread together)
  /** Until when a refresh may be answered from memory (write-back.ts horizonFor); -Infinity: never. */
  horizonMs = Number.NEGATIVE_INFINITY;

  text(field: number): string { return this.buf.toString('utf8', this.start[field]!, this.start[field]! + this.length[field]!); }
}

export interface Reject {
  readonly kind: 'reject'; readonly code: number; readonly reason: string; readonly detail: string; readonly minExpiresS: number;
}

/**
 * What an accepted REGISTER changes, as bytes: the records to put and copies of the records to remove
 * (all in `buf`), each change with its event and detail text. Reusable: the registrar keeps one per
 * pending reply; decide() empties it first.
 */
export class Apply {
  readonly kind = 'apply' as const;
  private readonly scratch = new Scratch(1024);
  /** Where the next record or text goes in buf. */
  used = 0;
  /** Changes in the order decided (a request's contacts in order, then bindings replaced to make room): record offset in buf, event, detail range. */
  changeCount = 0;
  changeRec = new Int32Array(CHANGES_MAX);
  changePut = new Uint8Array(CHANGES_MAX);
  /** 1: a refresh that may be answered from memory (write-back.ts): the same binding, only later times. */
  changeQuiet = new Uint8Array(CHANGES_MAX);
  readonly changeEvent: EventType[] = [];
  detailStart = new Int32Array(CHANGES_MAX);
  detailLength = new Int32Array(CHANGES_MAX);
  /** The AOR's live bindings after the change, for the 200 OK: record offsets in `existing` or in buf. */
  currentCount = 0;
  currentRec = new Int32Array(CHANGES_MAX);
  currentOwn = new Uint8Array(CHANGES_MAX);
  get buf(): Buffer { return this.scratch.buf; }

  /** Detail texts are written here, at `used`. */
  readonly text = new ByteText(this.scratch);

  reset(): this {
    this.used = 0;
    this.changeCount = 0;
    this.currentCount = 0;
    return this;
  }

  /** Room for `n` changes and as many current bindings (a number holding many lapsed bindings). */
  changeRoom(n: number): void {
    if (n <= this.changeRec.length) return;
    const size = Math.max(n, 2 * this.changeRec.length);
    const grow = <T extends Int32Array | Uint8Array>(a: T, make: (k: number) => T): T => { const b = make(size); b.set(a); return b; };
    this.changeRec = grow(this.changeRec, (k) => new Int32Array(k));
    this.changePut = grow(this.changePut, (k) => new Uint8Array(k));
    this.changeQuiet = grow(this.changeQuiet, (k) => new Uint8Array(k));
    this.detailStart = grow(this.detailStart, (k) => new Int32Array(k));
    this.detailLength = grow(this.detailLength, (k) => new Int32Array(k));
    this.currentRec = grow(this.currentRec, (k) => new Int32Array(k));
    this.currentOwn = grow(this.currentOwn, (k) => new Uint8Array(k));
  }
  get putCount(): number { let n = 0; for (let i = 0; i < this.changeCount; i++) n += this.changePut[i]!; return n; }
  /** Every change is a quiet refresh: nothing in it needs a commit before the answer. */
  get quiet(): boolean {
    if (this.changeCount === 0) return false;
    for (let i = 0; i < this.changeCount; i++) if (this.changeQuiet[i] === 0) return false;
    return true;
  }
  get removeCount(): number { return this.changeCount - this.putCount; }
  /** How many puts are new registrations (not refreshes). */
  get registeredCount(): number {
    let n = 0;
    for (let i = 0; i < this.changeCount; i++) if (this.changeEvent[i] === 'registered') n++;
    return n;
  }

  /** The changes as merge lists for the store (store/bindings.ts AorMerge). */
  toLists(puts: RecordList, drops: RecordList): void {
    puts.clear();
    drops.clear();
    for (let i = 0; i < this.changeCount; i++) (this.changePut[i] === 1 ? puts : drops).push(this.buf, this.changeRec[i]!);
  }

  /** A removal: copies the stored record; returns the text to write its detail into, then endChange(). */
  remove(existing: StoredBindings, index: number, event: EventType): ByteText {
    const src = existing.buf;
    const rec = existing.recs[index]!;
    const len = codec.recordLength(src, rec);
    const at = this.used;
    copyInto(src, rec, rec + len, this.room(len), at);
    return this.begin(at, at + len, false, event);
  }

  /** A put of the record the caller wrote at buf[at, end) (room() first); returns the detail's text. */
  put(at: number, end: number, event: EventType): ByteText {
    return this.begin(at, end, true, event);
  }

  /** Ends the change begun by remove() or put(): its detail is what was written since. */
  endChange(): void {
    const i = this.changeCount - 1;
    this.used = this.text.p;
    this.detailLength[i] = this.used - this.detailStart[i]!;
  }

  current(rec: number, own: boolean): void {
    const i = this.currentCount++;
    this.currentRec[i] = rec;
    this.currentOwn[i] = own ? 1 : 0;
  }

  /** Room for `n` more bytes at `used` (what is before `used` is kept when the buffer grows). */
  room(n: number): Buffer { return this.scratch.ensure(this.used + n, this.used); }

  private begin(rec: number, end: number, put: boolean, event: EventType): ByteText {
    const i = this.changeCount++;
    this.changeRec[i] = rec;
    this.changePut[i] = put ? 1 : 0;
    this.changeQuiet[i] = 0;
    this.changeEvent[i] = event;
    this.detailStart[i] = end;
    this.used = end;
    return this.text.at(end);
  }
}

export type Decision = Reject | Apply;

function reject(code: number, reason: string, detail: string, minExpiresS = -1): Reject {
  return { kind: 'reject', code, reason, detail, minExpiresS };
}

/** Responses the policy can give, named once: README and the tests list these. */
export const PolicyReject = {
  wildcardNotZero: [400, 'Invalid Wildcard'] as const,
  wildcardNotAlone: [400, 'Invalid Wildcard'] as const,
  // No header name in the phrase: naive parsers (SIPp among them) find "CSeq" in the status line.
  cseqOrder: [400, 'Out of Order'] as const,
  tooBrief: [423, 'Interval Too Brief'] as const,
  tooMany: [403, 'Too Many Registrations'] as const,
};

// Scratch of decide() (synchronous, never re-entered).
const expiry = new ExpiryResult();
const writer = new codec.RecordWriter();
let kept = new Int32Array(CHANGES_MAX);

/**
 * Decides one REGISTER against the AOR's current bindings. `existing` is what the store holds now,
 * lapsed bindings included (the sweep may not have removed them yet: they are treated as gone).
 */
export function decide(ask: RegisterAsk, existing: StoredBindings, params: Params, out: Apply): Decision {
  const now = ask.nowMs;
  let askBytes = codec.R_HEADER;
  for (let f = 0; f < codec.STRING_COUNT; f++) askBytes += ask.length[f]!;
  out.reset();
  out.changeRoom(existing.count + ask.contactCount + 1);
  if (kept.length < existing.count) kept = new Int32Array(2 * existing.count);

  if (ask.star) {
    // RFC 3261 §10.3 step 6: "*" only with Expires: 0 and as the only Contact.
    if (ask.contactCount > 0) return reject(...PolicyReject.wildcardNotAlone, `${PolicyReject.wildcardNotAlone.join(' ')}: Contact * must be the only contact (RFC 3261 §10.3 step 6)`);
    if (ask.expiresHeaderS !== 0) {
      return reject(...PolicyReject.wildcardNotZero, `${PolicyReject.wildcardNotZero.join(' ')}: Contact * needs Expires: 0, got ${ask.expiresHeaderS < 0 ? 'none' : ask.expiresHeaderS} (RFC 3261 §10.3 step 6)`);
    }
    return removeAll(ask, existing, out);
  }

  // A query (no Contact): the bindings as they are (RFC 3261 §10.3 step 8).
  if (ask.contactCount === 0) {
    for (let i = 0; i < existing.count; i++) if (live(existing, i, now)) out.current(existing.recs[i]!, false);
    return out;
  }

  const refused = checkContacts(ask, existing, params);
  if (refused !== null) return refused;
  for (let ci = 0; ci < ask.contactCount; ci++) {
    const c = ask.contacts[ci]!;
    if (namedBefore(ask, ci, ask.buf, c.start[Str.key]!, c.length[Str.key]!)) continue; // the same contact twice: the first counts
    putContact(ask, c, existing, params, askBytes, out);
  }
  return keepWithinMax(ask, existing, params, out);
}

/** Contact: * with Expires: 0 (checked): every binding goes, unless a live one has a newer CSeq. */
function removeAll(ask: RegisterAsk, existing: StoredBindings, out: Apply): Decision {
  const now = ask.nowMs;
  const eb = existing.buf;
  for (let i = 0; i < existing.count; i++) {
    if (live(existing, i, now) && sameCallId(ask, existing, i) && ask.cseq <= codec.cseq(eb, existing.recs[i]!)) return cseqReject(ask, existing, i);
  }
  for (let i = 0; i < existing.count; i++) {
    const rec = existing.recs[i]!;
    out.remove(existing, i, 'unregistered')
      .text('200 OK: unregistered ').bytes(eb, codec.strStart(eb, rec, Str.contact), codec.strLength(eb, rec, Str.contact))
      .text(' (Contact: *, Expires: 0)');
    out.endChange();
  }
  return out;
}

/** Step 7, first pass: check every contact before changing anything (a failed request changes nothing). */
function checkContacts(ask: RegisterAsk, existing: StoredBindings, params: Params): Reject | null {
  const now = ask.nowMs;
  const eb = existing.buf;
  for (let ci = 0; ci < ask.contactCount; ci++) {
    const c = ask.contacts[ci]!;
    computeExpiry(expiry, c.expiresParamS, ask.expiresHeaderS, ask.account.expiresS, params, c.nat, 0);
    if (expiry.outcome === ExpiryOutcome.TooBrief) {
      return reject(...PolicyReject.tooBrief,
        `423 Interval Too Brief: asked ${expiry.askedS} s < SS_ENDPOINT_MIN_EXPIRE ${params.endpointMinExpiresS} for ${contactText(ask, c)}`,
        params.endpointMinExpiresS);
    }
    const i = existing.find(ask.buf, c.start[Str.key]!, c.length[Str.key]!);
    if (i >= 0 && live(existing, i, now) && sameCallId(ask, existing, i) && ask.cseq <= codec.cseq(eb, existing.recs[i]!)) return cseqReject(ask, existing, i);
  }
  return null;
}

/** One contact of the request put: its binding record written into `out`, with its history line. */
function putContact(ask: RegisterAsk, c: ContactAsk, existing: StoredBindings, params: Params, askBytes: number, out: Apply): void {
  const now = ask.nowMs;
  const eb = existing.buf;
  const ab = ask.buf;
  computeExpiry(expiry, c.expiresParamS, ask.expiresHeaderS, ask.account.expiresS, params, c.nat, ask.random);
  const pi = existing.find(ab, c.start[Str.key]!, c.length[Str.key]!);
  const prev = pi >= 0 ? existing.recs[pi]! : -1;
  const previousLive = pi >= 0 && live(existing, pi, now);
  if (expiry.outcome === ExpiryOutcome.Remove) {
    if (pi >= 0) {
      out.remove(existing, pi, 'unregistered')
        .text('200 OK: unregistered ').bytes(eb, codec.strStart(eb, prev, Str.contact), codec.strLength(eb, prev, Str.contact))
        .text(' (expires 0 by ').text(expirySourceText(c, ask)).text(')');
      out.endChange();
    }
    return;
  }
  // A refresh may be answered from memory only with an expiry in the window write-back.ts can stand for.
  const fits = previousLive && now <= ask.horizonMs && fitRefresh(expiry, now, existing.storedExpiresAtMs(pi), eb, prev, ask.horizonMs, params);
  const at = out.used;
  const w = writer.begin(out.room(askBytes + c.length[0]! + c.length[1]! + c.length[2]!), at);
  const sameSource = previousLive && codec.strEquals(eb, prev, Str.source, ab, ask.start[Str.source]!, ask.length[Str.source]!);
  const keepKeepalive = previousLive && sameSource && (codec.flags(eb, prev) & codec.FLAG_KEEPALIVE) !== 0;
  w.setFlags((c.nat ? codec.FLAG_NAT : 0) | (c.hasInstance ? codec.FLAG_INSTANCE : 0) | (c.qPermille >= 0 ? codec.FLAG_Q : 0) |
    (keepKeepalive ? codec.flags(eb, prev) & (codec.FLAG_KEEPALIVE | codec.FLAG_UNREACHABLE) : 0))
    .setTimes(now + expiry.grantedS * 1000, previousLive ? codec.registeredAtMs(eb, prev) : now, now)
    .setNumbers(expiry.grantedS, ask.cseq, ask.sourcePort, c.qPermille);
  if (keepKeepalive) {
    w.setKeepalive(eb.readDoubleLE(prev + codec.R_KA_SENT), eb.readDoubleLE(prev + codec.R_KA_ANSWERED), eb.readUInt16LE(prev + codec.R_KA_MISSED));
  }
  for (let f = 0; f < codec.STRING_COUNT; f++) {
    if (f <= Str.instance) w.strBytes(ab, c.start[f]!, c.length[f]!);
    else w.strBytes(ab, ask.start[f]!, ask.length[f]!);
  }
  const end = w.end();
  const uriStart = c.start[Str.contact]!;
  const uriLength = c.length[Str.contact]!;
  if (previousLive) {
    const d = out.put(at, end, 'refreshed');
    // Quiet: the same binding in the same state (contact, instance, source, local socket, NAT and
    // keepalive marks, Call-ID, User-Agent ...), only its times moved. Anything else is a change.
    if (fits && codec.sameExceptTimes(eb, prev, out.buf, at)) out.changeQuiet[out.changeCount - 1] = 1;
    describeExpiry(d.text('200 OK: refreshed ').bytes(ab, uriStart, uriLength).text(' for '), expiry, params);
    if (!sameCallId(ask, existing, pi)) d.text('; new Call-ID: the device restarted, its own binding replaced');
    if (!sameSource) {
      d.text('; source moved ').bytes(eb, codec.strStart(eb, prev, Str.source), codec.strLength(eb, prev, Str.source))
        .text(' -> ').bytes(ab, ask.start[Str.source]!, ask.length[Str.source]!);
    }
    if (c.nat) d.text('; NAT');
  } else {
    const d = out.put(at, end, 'registered');
    describeExpiry(d.text('200 OK: registered ').bytes(ab, uriStart, uriLength).text(' for '), expiry, params);
    if (c.nat) d.text('; NAT');
  }
  out.endChange();
}

/**
 * The AOR after this request: live bindings not named by it, plus what it puts, within
 * SERVER_REGISTRAR_MAX_BINDINGS (refused, or the oldest replaced with SS_ENDPOINT_REGISTER_REPLACE On).
 */
function keepWithinMax(ask: RegisterAsk, existing: StoredBindings, params: Params, out: Apply): Decision {
  const now = ask.nowMs;
  const eb = existing.buf;
  const ab = ask.buf;
  const contactCount = ask.contactCount;
  let keptCount = 0;
  for (let i = 0; i < existing.count; i++) {
    const rec = existing.recs[i]!;
    if (live(existing, i, now) && !namedBefore(ask, contactCount, eb, codec.strStart(eb, rec, Str.key), codec.strLength(eb, rec, Str.key))) kept[keptCount++] = i;
  }
  // Lapsed bindings not named here are gone as far as the phone is concerned; the sweep records `expired`.
  const max = params.bindingsPerAorMax;
  const puts = out.putCount;
  const total = keptCount + puts;
  if (total > max) {
    const newcomers = newcomerText(out);
    if (!params.registerReplace || puts > max) {
      const why = puts > max
        ? `the request alone names ${puts} contacts`
        : `SS_ENDPOINT_REGISTER_REPLACE Off; kept ${Array.from(kept.subarray(0, keptCount), (i) => codec.str(eb, existing.recs[i]!, Str.contact)).join(', ')}`;
      return reject(...PolicyReject.tooMany,
        `403 Too Many Registrations: SERVER_REGISTRAR_MAX_BINDINGS ${max} reached, ${why}; refused ${newcomers}`);
    }
    // Replace On: the oldest registrations make room (the kicked device learns on its next refresh).
    const order = Array.from(kept.subarray(0, keptCount)).sort((a, b) => codec.registeredAtMs(eb, existing.recs[a]!) - codec.registeredAtMs(eb, existing.recs[b]!));
    const excess = total - max;
    for (let k = 0; k < excess; k++) {
      out.remove(existing, order[k]!, 'replaced')
        .text(`replaced by ${newcomers} from `).bytes(ab, ask.start[Str.source]!, ask.length[Str.source]!)
        .text(`: SERVER_REGISTRAR_MAX_BINDINGS ${max} reached, SS_ENDPOINT_REGISTER_REPLACE On`);
      out.endChange();
    }
    for (let k = excess; k < order.length; k++) out.current(existing.recs[order[k]!]!, false);
  } else {
    for (let k = 0; k < keptCount; k++) out.current(existing.recs[kept[k]!]!, false);
  }
  for (let i = 0; i < out.changeCount; i++) if (out.changePut[i] === 1) out.current(out.changeRec[i]!, true);
  return out;
}

/**
 * Whether a refresh's expiry can be answered from memory (write-back.ts): no earlier than the binding's
 * stored expiry (the flush only moves an expiry later), and no later than the horizon plus its durable
 * expiresS, the bound the recovery rule keeps after a crash. (Earlier than a refresh since the last
 * flush gave is fine: the phone's last 200 is what counts.) With SS_ENDPOINT_EXPIRE_JITTER on, the
 * jitter's cut (any of 0..N %) is moved into that window when the random one falls outside it, so
 * refreshes stay quiet; `r` then holds the cut taken.
 */
function fitRefresh(r: ExpiryResult, nowMs: number, storedExpiresAtMs: number, eb: Buffer, prev: number, horizonMs: number, params: Params): boolean {
  const lowS = Math.ceil((storedExpiresAtMs - nowMs) / 1000);
  const highS = Math.floor((horizonMs + codec.expiresS(eb, prev) * 1000 - nowMs) / 1000);
  if (r.grantedS >= lowS && r.grantedS <= highS) return true;
  if (params.expiresJitterPercent === 0) return false;
  const full = r.grantedS + r.jitterS;
  const minS = params.endpointMinExpiresS;
  const lo = Math.max(lowS, full - Math.floor((full * params.expiresJitterPercent) / 100), full < minS ? full : minS);
  const hi = Math.min(highS, full);
  if (lo > hi) return false;
  const granted = r.grantedS < lo ? lo : hi;
  r.jitterS = full - granted;
  r.grantedS = granted;
  return true;
}

function live(existing: StoredBindings, i: number, nowMs: number): boolean {
  return codec.expiresAtMs(existing.buf, existing.recs[i]!) > nowMs;
}

/** Whether contacts[0..end) of the request has the key src[start, start + length). */
function namedBefore(ask: RegisterAsk, end: number, src: Buffer, start: number, length: number): boolean {
  const ab = ask.buf;
  for (let i = 0; i < end; i++) {
    const c = ask.contacts[i]!;
    if (c.length[Str.key] === length && bytesEqual(ab, c.start[Str.key]!, src, start, length)) return true;
  }
  return false;
}

function bytesEqual(a: Buffer, aStart: number, b: Buffer, bStart: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}

function sameCallId(ask: RegisterAsk, existing: StoredBindings, i: number): boolean {
  return codec.strEquals(existing.buf, existing.recs[i]!, Str.callId, ask.buf, ask.start[Str.callId]!, ask.length[Str.callId]!);
}

function contactText(ask: RegisterAsk, c: ContactAsk): string {
  return ask.buf.toString('utf8', c.start[Str.contact]!, c.start[Str.contact]! + c.length[Str.contact]!);
}

function newcomerText(out: Apply): string {
  const list: string[] = [];
  for (let i = 0; i < out.changeCount; i++) if (out.changeEvent[i] === 'registered') list.push(codec.str(out.buf, out.changeRec[i]!, Str.contact));
  return list.join(', ');
}

function cseqReject(ask: RegisterAsk, existing: StoredBindings, i: number): Reject {
  const rec = existing.recs[i]!;
  return reject(...PolicyReject.cseqOrder,
    `400 Out of Order: CSeq ${ask.cseq} not above ${codec.cseq(existing.buf, rec)} of the binding ${codec.str(existing.buf, rec, Str.contact)} with the same Call-ID (RFC 3261 §10.3 step 7); nothing changed`);
}

function expirySourceText(c: ContactAsk, ask: RegisterAsk): string {
  return c.expiresParamS >= 0 ? 'contact expires param' : ask.expiresHeaderS >= 0 ? 'Expires header' : 'account expire';
}
