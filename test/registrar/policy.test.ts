import t from 'tap';
import { Apply, RegisterAsk, decide as decideBytes } from '../../src/registrar/policy.js';
import { ByteText, StoredBindings, type BindingRecord, type EventType } from '../../src/store/index.js';
import * as codec from '../../src/store/binding-codec.js';
import type { Account, Params } from '../../src/config/types.js';
import { account, binding, params } from './helpers.js';

const NOW = 2_000_000;

// The policy works on bytes; these tests speak in objects: a request and stored bindings are encoded
// as the registrar and the store would, and the decision read back.
interface ContactIn { uri: string; key: string; instance: string | null; expiresParamS: number; q: number | null; nat: boolean }
interface AskIn {
  number: string; aor: string; callId: string; cseq: number; star: boolean; expiresHeaderS: number; contacts: ContactIn[];
  source: string; sourceAddress: string; sourcePort: number; localAddress: string; userAgent: string; account: Account; nowMs: number; random: number;
}
interface Change { record: BindingRecord; event: EventType; detail: string }
type Outcome = { kind: 'reject'; code: number; reason: string; detail: string; minExpiresS: number }
  | { kind: 'apply'; puts: Change[]; removes: Change[]; current: BindingRecord[] };

function contact(uri: string, over: Partial<ContactIn> = {}): ContactIn {
  return { uri, key: uri, instance: null, expiresParamS: -1, q: null, nat: false, ...over };
}
function ask(contacts: ContactIn[], over: Partial<AskIn> = {}): AskIn {
  return {
    number: '1001', aor: 'sip:1001@example.com', callId: 'call-1', cseq: 2, star: false, expiresHeaderS: 3600, contacts,
    source: '127.0.0.1:5062', sourceAddress: '127.0.0.1', sourcePort: 5062, localAddress: '127.0.0.1:5060',
    userAgent: 'ua', account: account('1001'), nowMs: NOW, random: 0, ...over,
  };
}

function storedOf(list: BindingRecord[]): StoredBindings {
  const buf = Buffer.alloc(64 * 1024);
  buf[0] = codec.AOR_FORMAT;
  let p = 1;
  const w = new codec.RecordWriter();
  for (const b of list) p = codec.encodeBinding(w, b, buf, p);
  return new StoredBindings().set(buf, p);
}

function toAsk(a: AskIn): RegisterAsk {
  const t = new ByteText();
  const r = new RegisterAsk();
  const put = (starts: Int32Array, lengths: Int32Array, f: number, s: string): void => { starts[f] = t.p; t.text(s); lengths[f] = t.p - starts[f]!; };
  const S = codec.Str;
  r.contactCount = a.contacts.length;
  a.contacts.forEach((c, i) => {
    const ca = r.contacts[i]!;
    put(ca.start, ca.length, S.key, c.key);
    put(ca.start, ca.length, S.contact, c.uri);
    put(ca.start, ca.length, S.instance, c.instance ?? '');
    ca.hasInstance = c.instance !== null;
    ca.expiresParamS = c.expiresParamS;
    ca.qPermille = c.q === null ? -1 : Math.round(c.q * 1000);
    ca.nat = c.nat;
  });
  put(r.start, r.length, S.aor, a.aor);
  put(r.start, r.length, S.source, a.source);
  put(r.start, r.length, S.sourceAddress, a.sourceAddress);
  put(r.start, r.length, S.localAddress, a.localAddress);
  put(r.start, r.length, S.userAgent, a.userAgent);
  put(r.start, r.length, S.account, a.account.account);
  put(r.start, r.length, S.callId, a.callId);
  r.buf = t.buf;
  Object.assign(r, { number: a.number, cseq: a.cseq, star: a.star, expiresHeaderS: a.expiresHeaderS, sourcePort: a.sourcePort, account: a.account, nowMs: a.nowMs, random: a.random });
  return r;
}

function decide(a: AskIn, existing: BindingRecord[], p: Params): Outcome {
  const stored = storedOf(existing);
  const d = decideBytes(toAsk(a), stored, p, new Apply());
  if (d.kind === 'reject') return d;
  const puts: Change[] = [];
  const removes: Change[] = [];
  for (let i = 0; i < d.changeCount; i++) {
    const c = { record: codec.decodeBinding(d.buf, d.changeRec[i]!, a.number), event: d.changeEvent[i]!, detail: d.buf.toString('utf8', d.detailStart[i]!, d.detailStart[i]! + d.detailLength[i]!) };
    (d.changePut[i] === 1 ? puts : removes).push(c);
  }
  const current: BindingRecord[] = [];
  for (let i = 0; i < d.currentCount; i++) current.push(codec.decodeBinding(d.currentOwn[i] === 1 ? d.buf : stored.buf, d.currentRec[i]!, a.number));
  return { kind: 'apply', puts, removes, current };
}

function summary(existing: BindingRecord[], a: AskIn, p: Params = params({ bindingsPerAorMax: 2 })): string {
  const d = decide(a, existing, p);
  if (d.kind === 'reject') return `${d.code} ${d.reason}${d.minExpiresS >= 0 ? ` Min-Expires ${d.minExpiresS}` : ''}`;
  const parts = [
    ...d.removes.map((c) => `${c.event} ${c.record.contact}`),
    ...d.puts.map((c) => `${c.event} ${c.record.contact} ${c.record.expiresS}`),
    `current ${d.current.map((b) => b.contact).sort().join(',') || '-'}`,
  ];
  return parts.join('; ');
}

const A = 'sip:1001@127.0.0.1:5062';
const B = 'sip:1001@127.0.0.1:5064';
const C = 'sip:1001@127.0.0.1:5066';
const live = (contact: string, over: Partial<BindingRecord> = {}): BindingRecord => binding('1001', contact, { expiresAtMs: NOW + 100_000, ...over });

t.test('RFC 3261 §10.3 rules as a table', async (t) => {
  const rows: [string, BindingRecord[], AskIn, string, Params?][] = [
    ['new contact', [], ask([contact(A)]), `registered ${A} 3600; current ${A}`],
    ['query lists live bindings', [live(A), live(B, { expiresAtMs: NOW - 1 })], ask([]), `current ${A}`],
    ['refresh: same contact, same Call-ID, higher CSeq', [live(A)], ask([contact(A)]), `refreshed ${A} 3600; current ${A}`],
    ['same Call-ID, CSeq not higher: refused', [live(A, { cseq: 2 })], ask([contact(A)]), '400 Out of Order'],
    ['same Call-ID, lower CSeq: refused', [live(A, { cseq: 5 })], ask([contact(A)]), '400 Out of Order'],
    ['reboot: new Call-ID, lower CSeq, same contact', [live(A, { cseq: 50 })], ask([contact(A)], { callId: 'new' }), `refreshed ${A} 3600; current ${A}`],
    ['same +sip.instance, new contact URI', [live(A, { contactKey: '<urn:uuid:1>' })], ask([contact(B, { key: '<urn:uuid:1>', instance: '<urn:uuid:1>' })]),
      `refreshed ${B} 3600; current ${B}`],
    ['expires 0 removes', [live(A), live(B)], ask([contact(A, { expiresParamS: 0 })]), `unregistered ${A}; current ${B}`],
    ['Expires: 0 header removes every named contact', [live(A), live(B)], ask([contact(A), contact(B)], { expiresHeaderS: 0 }), `unregistered ${A}; unregistered ${B}; current -`],
    ['removing what is not there is fine', [], ask([contact(A)], { expiresHeaderS: 0 }), 'current -'],
    ['wildcard removes all', [live(A), live(B)], ask([], { star: true, expiresHeaderS: 0 }), `unregistered ${A}; unregistered ${B}; current -`],
    ['wildcard needs Expires: 0', [live(A)], ask([], { star: true, expiresHeaderS: 60 }), '400 Invalid Wildcard'],
    ['wildcard needs to be alone', [live(A)], ask([contact(A)], { star: true, expiresHeaderS: 0 }), '400 Invalid Wildcard'],
    ['wildcard obeys the CSeq rule', [live(A, { cseq: 9 })], ask([], { star: true, expiresHeaderS: 0 }), '400 Out of Order'],
    ['too brief: 423 with Min-Expires', [], ask([contact(A)], { expiresHeaderS: 30 }), '423 Interval Too Brief Min-Expires 60'],
    ['too brief changes nothing even for other contacts', [live(B)], ask([contact(B, { expiresParamS: 0 }), contact(A, { expiresParamS: 10 })]), '423 Interval Too Brief Min-Expires 60'],
    ['several contacts, several expiries', [], ask([contact(A, { expiresParamS: 120 }), contact(B)]), `registered ${A} 120; registered ${B} 3600; current ${A},${B}`],
    ['NAT gets SS_ENDPOINT_NAT_EXPIRE', [], ask([contact(A, { nat: true })]), `registered ${A} 300; current ${A}`],
    ['max reached, replace On: the oldest goes', [live(A, { registeredAtMs: 1 }), live(B, { registeredAtMs: 2 })], ask([contact(C)], { callId: 'x' }),
      `replaced ${A}; registered ${C} 3600; current ${B},${C}`],
    ['max reached, replace Off: refused, nothing changed', [live(A), live(B)], ask([contact(C)], { callId: 'x' }), '403 Too Many Registrations',
      params({ bindingsPerAorMax: 2, registerReplace: false })],
    ['a refresh never counts as a newcomer', [live(A), live(B)], ask([contact(A)]), `refreshed ${A} 3600; current ${A},${B}`,
      params({ bindingsPerAorMax: 2, registerReplace: false })],
    ['a lapsed binding does not hold a place', [live(A), live(B, { expiresAtMs: NOW - 1 })], ask([contact(C)], { callId: 'x' }), `registered ${C} 3600; current ${A},${C}`,
      params({ bindingsPerAorMax: 2, registerReplace: false })],
    ['more new contacts than the maximum: refused even with replace', [], ask([contact(A), contact(B), contact(C)]), '403 Too Many Registrations'],
    ['max 1, replace On: the new device kicks the old', [live(A)], ask([contact(B)], { callId: 'other' }), `replaced ${A}; registered ${B} 3600; current ${B}`,
      params({ bindingsPerAorMax: 1 })],
    ['the same contact twice counts once', [], ask([contact(A), contact(A)]), `registered ${A} 3600; current ${A}`],
  ];
  for (const [name, existing, a, expected, p] of rows) t.equal(summary(existing, a, p), expected, name);
});

t.test('a refresh keeps the first registration time and updates where NAT moved it', async (t) => {
  const before = live(A, { registeredAtMs: 123, source: '127.0.0.1:4000', sourcePort: 4000 });
  const d = decide(ask([contact(A)]), [before], params());
  if (d.kind !== 'apply') throw new Error('expected apply');
  const put = d.puts[0]!;
  t.equal(put.record.registeredAtMs, 123);
  t.equal(put.record.refreshedAtMs, NOW);
  t.equal(put.record.source, '127.0.0.1:5062');
  t.equal(put.record.expiresAtMs, NOW + 3_600_000);
  t.match(put.detail, /source moved 127\.0\.0\.1:4000 -> 127\.0\.0\.1:5062/);
});

t.test('rejections name the rule in their detail', async (t) => {
  const d = decide(ask([contact(A)], { expiresHeaderS: 30 }), [], params());
  t.equal(d.kind === 'reject' ? d.detail : '', `423 Interval Too Brief: asked 30 s < SS_ENDPOINT_MIN_EXPIRE 60 for ${A}`);
  const off = decide(ask([contact(C)], { callId: 'x' }), [live(A)], params({ bindingsPerAorMax: 1, registerReplace: false }));
  t.match(off.kind === 'reject' ? off.detail : '', /SERVER_REGISTRAR_MAX_BINDINGS 1 reached, SS_ENDPOINT_REGISTER_REPLACE Off; kept sip:1001@127.0.0.1:5062/);
});
