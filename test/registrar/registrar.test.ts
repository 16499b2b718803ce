// The REGISTER path end to end in-process: real sockets on loopback, the real store, a SIP client.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { bindingsOf, queryEvents, removeBinding } from '../../src/store/index.js';
import { counters } from '../../src/stats/counters.js';
import { SipClient, answerChallenge } from './sipclient.js';
import { startHarness, type Harness } from './harness.js';
import type { Guard } from '../../src/registrar/guard-types.js';

const accounts = `
accounts:
  - { number: "1001", password: "secret", account: "A" }
  - { number: "1002", password: "other" }
  - { number: "1003", password: "secret", expire: 900 }
  - { number: "2001", auth_mode: ip, allow: ["127.0.0.0/8"] }
  - { number: "2002", auth_mode: ip_port, allow: ["127.0.0.1:1"] }
  - { number: "2003", auth_mode: ip, allow: ["127.0.0.0/8"] }
  - { number: "2004", auth_mode: ip, allow: ["127.0.0.0/8"] }
  - { number: "3001", password: "secret", allow: ["10.0.0.0/8"] }
`;
const params = `
params:
  SS_ENDPOINT_EXPIRE_JITTER: 0
  SERVER_REGISTRAR_MAX_BINDINGS: 2
`;

let h: Harness;
let c: SipClient;
t.before(async () => {
  h = await startHarness(params + accounts);
  c = await SipClient.open(h.port);
});
t.teardown(async () => { c.close(); await h.close(); });

t.test('digest: 401 with qop=auth, then 200 with the contact, its expires and Date', async (t) => {
  const { first, final } = await c.registerWithAuth({ user: '1001', password: 'secret', expires: 600 });
  t.equal(first.status, 401);
  t.match(first.header('www-authenticate'), /^Digest realm="sipreg", nonce="[A-Za-z0-9_-]{30}", algorithm=MD5, qop="auth"$/);
  t.equal(final.status, 200, final.text);
  t.match(final.header('contact'), new RegExp(`^<sip:1001@127\\.0\\.0\\.1:${c.port}>;expires=600$`));
  t.match(final.header('date'), /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
  t.match(final.header('via'), /rport=\d+;received=127\.0\.0\.1/);
  const b = bindingsOf(h.store, '1001');
  t.equal(b.length, 1, 'the binding is in the store when the 200 arrives');
  t.equal(b[0]!.expiresS, 600);
  t.equal(b[0]!.account, 'A');
  t.equal(b[0]!.nat, false);
  t.equal(b[0]!.userAgent, 'sipreg-test');
  await h.ctx.writes.flushNow();   // a change's history rows join the next flush
  const ev = queryEvents(h.store, { number: '1001', type: 'registered' });
  t.equal(ev.length, 1);
  t.match(ev[0]!.detail, /^200 OK: registered sip:1001@127\.0\.0\.1:\d+ for 600 s \(asked 600 s by Expires header\)$/);
});

t.test('refresh with the same nonce and a higher nc, then unregister', async (t) => {
  const first = await c.register({ user: '1003', expires: null });
  const auth1 = answerChallenge(first, '1003', 'secret', 'sip:127.0.0.1', 1);
  const ok = await c.register({ user: '1003', expires: null, authorization: auth1 });
  t.equal(ok.status, 200);
  t.match(ok.header('contact'), /;expires=900$/, 'the account expire applies when the phone asks for none');
  const replay = await c.register({ user: '1003', expires: null, authorization: auth1 });
  t.equal(replay.status, 401, 'the same nc again is refused with a fresh challenge');
  const auth2 = answerChallenge(first, '1003', 'secret', 'sip:127.0.0.1', 2);
  const refresh = await c.register({ user: '1003', expires: 0, authorization: auth2 });
  t.equal(refresh.status, 200, 'a higher nc on the same nonce works (the un-REGISTER)');
  t.equal(refresh.header('contact'), undefined, 'no contact left');
  t.equal(bindingsOf(h.store, '1003').length, 0);
  await h.ctx.writes.flushNow();   // a change's history rows join the next flush
  t.equal(queryEvents(h.store, { number: '1003', type: 'unregistered' }).length, 1);
});

t.test('unknown numbers and wrong passwords get the same answers', async (t) => {
  const known = await c.registerWithAuth({ user: '1002', password: 'wrong' });
  const unknown = await c.registerWithAuth({ user: '9999', password: 'wrong' });
  t.equal(known.first.status, 401);
  t.equal(unknown.first.status, 401);
  const shape = (v: string | undefined): string => (v ?? '').replace(/nonce="[^"]+"/, 'nonce=N');
  t.equal(shape(known.first.header('www-authenticate')), shape(unknown.first.header('www-authenticate')));
  await h.store.events.committed;
  t.equal(known.final.status, 403);
  t.equal(unknown.final.status, 403);
  t.equal(known.final.reason, unknown.final.reason);
  t.same([...known.final.headers.keys()], [...unknown.final.headers.keys()]);
  t.equal(queryEvents(h.store, { number: '1002', type: 'auth_failed' }).length, 1);
  t.equal(queryEvents(h.store, { number: '9999', type: 'auth_failed' }).length, 1);
  t.equal(bindingsOf(h.store, '9999').length, 0);
});

t.test('a user must own the To AOR: refused before verifying, like a wrong password', async (t) => {
  const first = await c.register({ user: '1002', toUser: '1001' });
  const authorization = answerChallenge(first, '1002', 'other', 'sip:127.0.0.1');
  const r = await c.register({ user: '1002', toUser: '1001', authorization });
  t.equal(r.status, 403);
  t.equal((await c.register({ user: '1002', toUser: '1001', authorization })).status, 403, 'its nonce-count was not spent: 403 again, not 401');
  await h.store.events.committed; // rejections are answered at once; their history row follows
  t.match(queryEvents(h.store, { number: '1001', type: 'auth_failed' }).at(-1)?.detail, /digest user 1002 does not own AOR 1001/);
});

t.test('auth_mode ip, ip_port and allow', async (t) => {
  const ip = await c.register({ user: '2001', expires: 120 });
  t.equal(ip.status, 200, 'ip: no challenge from an allowed source');
  const ipPort = await c.registerWithAuth({ user: '2002', password: 'any' });
  t.same([ipPort.first.status, ipPort.final.status], [401, 403], 'ip_port: the port must match too; refused after a challenge, like any number');
  await h.store.events.committed;
  t.match(queryEvents(h.store, { number: '2002', type: 'auth_failed' })[0]?.detail, /not in allow \(auth_mode ip_port\)/);
  const allow = await c.registerWithAuth({ user: '3001', password: 'secret' });
  t.same([allow.first.status, allow.final.status], [401, 403], 'password mode with allow: a source outside is challenged, then refused with the right password too');
  await h.store.events.committed;
  t.match(queryEvents(h.store, { number: '3001', type: 'rejected' })[0]?.detail, /not in allow \(auth_mode password\)/);
});

t.test('423, 420, wildcard, CSeq order, query', async (t) => {
  const brief = await c.register({ user: '2001', expires: 30 });
  t.equal(brief.status, 423);
  t.equal(brief.header('min-expires'), '60');
  await h.store.events.committed;
  t.match(queryEvents(h.store, { number: '2001', type: 'rejected' }).at(-1)?.detail, /423 Interval Too Brief: asked 30 s < SS_ENDPOINT_MIN_EXPIRE 60/);
  const req = await c.register({ user: '2001', extra: ['Require: foo, bar'] });
  t.equal(req.status, 420);
  t.equal(req.header('unsupported'), 'foo, bar');
  const oldCseq = await c.register({ user: '2001', cseq: 1, expires: 120 });
  t.equal(oldCseq.status, 400, 'same Call-ID, CSeq not higher');
  t.equal(oldCseq.reason, 'Out of Order');
  const query = await c.register({ user: '2001', contacts: [] });
  t.equal(query.status, 200);
  t.equal(query.all('contact').length, 1);
  const badStar = await c.register({ user: '2001', contacts: ['*'], expires: 60 });
  t.equal(badStar.status, 400);
  const star = await c.register({ user: '2001', contacts: ['*'], expires: 0 });
  t.equal(star.status, 200);
  t.equal(bindingsOf(h.store, '2001').length, 0);
});

t.test('several contacts; max bindings with replace On', async (t) => {
  const two = await c.register({ user: '2003', contacts: ['<sip:a@127.0.0.1:5001>;expires=100', '<sip:b@127.0.0.1:5002>'], expires: 200 });
  t.equal(two.status, 200);
  t.same(two.all('contact').sort(), ['<sip:a@127.0.0.1:5001>;expires=100', '<sip:b@127.0.0.1:5002>;expires=200']);
  const third = await c.register({ user: '2003', contacts: ['<sip:c@127.0.0.1:5003>'], expires: 200, callId: 'other-device' });
  t.equal(third.status, 200);
  t.equal(third.all('contact').length, 2);
  await h.ctx.writes.flushNow();   // a change's history rows join the next flush
  t.equal(queryEvents(h.store, { number: '2003', type: 'replaced' }).length, 1);
  t.match(queryEvents(h.store, { number: '2003', type: 'replaced' })[0]!.detail, /replaced by sip:c@127\.0\.0\.1:5003/);
  const nat = await c.register({ user: '2003', contacts: ['<sip:c@192.168.1.20:5060>'], expires: 3600, callId: 'other-device' });
  t.equal(nat.status, 200);
  t.ok(nat.all('contact').includes('<sip:c@192.168.1.20:5060>;expires=300'), 'NAT: SS_ENDPOINT_NAT_EXPIRE in the 200');
  t.equal(bindingsOf(h.store, '2003').find((b) => b.contact.includes('192.168'))?.nat, true);
});

t.test('REGISTERs for one number in one turn are serialised, none lost', async (t) => {
  const clients = await Promise.all([0, 1, 2, 3, 4].map(() => SipClient.open(h.port)));
  const answers = await Promise.all(clients.map((k) => k.register({ user: '2004', expires: 300 })));
  t.same(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
  // max 2, replace On: each newcomer replaced the oldest; the store holds the last two.
  const stored = bindingsOf(h.store, '2004').map((b) => b.sourcePort).sort();
  t.same(stored, clients.slice(3).map((k) => k.port).sort());
  await h.ctx.writes.flushNow();   // a change's history rows join the next flush
  t.equal(queryEvents(h.store, { number: '2004', type: 'registered' }).length, 5);
  t.equal(queryEvents(h.store, { number: '2004', type: 'replaced' }).length, 3);
  for (const k of clients) k.close();
});

t.test('a retransmission gets the same answer and is processed once', async (t) => {
  const { text, branch } = c.registerText({ user: '2001', expires: 300, cseq: 1000 });
  const a = await c.request(text, branch);
  const before = counters.registersReceived;
  const b = await c.request(text, branch);
  t.equal(a.status, 200);
  t.equal(b.text, a.text);
  t.equal(counters.registersReceived, before, 'not processed again');
});

t.test('a force-unregister by another process shows at once', async (t) => {
  const r = await c.register({ user: '2001', expires: 300, cseq: 2000 });
  t.equal(r.status, 200);
  // Another process (the console) removes the binding straight from LMDB, opening the database as
  // openStore does (store schema 3: all bindings of a number in one value of "aors").
  const script = `import { open } from 'lmdb';
    const root = open({ path: ${JSON.stringify(h.dataDir)}, maxDbs: 16, compression: false });
    const db = root.openDB({ name: 'aors', encoding: 'binary' });
    if (!(await db.remove('2001'))) process.exit(3);
    await root.close();`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8' });
  t.equal(child.status, 0, child.stderr);
  const query = await c.register({ user: '2001', contacts: [], cseq: 2001 });
  t.equal(query.status, 200);
  t.equal(query.all('contact').length, 0, 'the next query no longer lists it');
});

t.test('a Contact that is not valid UTF-8 is stored as its decoded text, so it can be found and removed', async (t) => {
  const { text, branch } = c.registerText({ user: '2001', expires: 300, cseq: 3000, contacts: [`<sip:2001@127.0.0.1:${c.port};x=\u00ff>`] });
  const r = await c.request(Buffer.from(text, 'latin1'), branch); // one 0xff byte: not UTF-8
  t.equal(r.status, 200);
  const b = bindingsOf(h.store, '2001').find((x) => x.contact.includes(';x='));
  t.ok(b !== undefined, 'stored');
  t.equal(b!.contact, `sip:2001@127.0.0.1:${c.port};x=\ufffd`, 'as a decoder reads it');
  t.equal(await removeBinding(h.store, b!), true, 'an operator can remove it');
});

t.test('a REGISTER deferred while the sweep holds its number is answered when the sweep lets go', async (t) => {
  const locks = h.sip.registrar!.locks;
  locks.lock('2001'); // as sweepOnce does while its transaction commits
  const pending = c.register({ user: '2001', contacts: [], cseq: 5000 });
  await new Promise((r) => setTimeout(r, 200));
  locks.unlock('2001');
  locks.released();
  t.equal((await pending).status, 200, 'not left waiting for a registrar commit that may never come');
});

t.test('other methods and malformed input', async (t) => {
  const base = (method: string, branch: string): string => [`${method} sip:127.0.0.1 SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${c.port};branch=${branch};rport`,
    'From: <sip:x@127.0.0.1>;tag=1', 'To: <sip:x@127.0.0.1>', 'Call-ID: m1', `CSeq: 1 ${method}`, 'Max-Forwards: 70', 'Content-Length: 0', '', ''].join('\r\n');
  const options = await c.request(base('OPTIONS', 'z9hG4bKopt'), 'z9hG4bKopt');
  t.equal(options.status, 200);
  t.equal(options.header('allow'), 'REGISTER, OPTIONS');
  t.ok(options.headers.has('accept') && options.headers.has('supported'));
  const invite = await c.request(base('INVITE', 'z9hG4bKinv'), 'z9hG4bKinv');
  t.equal(invite.status, 405);
  t.equal(invite.header('allow'), 'REGISTER, OPTIONS');
  const cancel = await c.request(base('CANCEL', 'z9hG4bKcan'), 'z9hG4bKcan');
  t.equal(cancel.status, 481);
  const bad = await c.request(base('REGISTER', 'z9hG4bKbad').replace('CSeq: 1 REGISTER', 'CSeq: x REGISTER'), 'z9hG4bKbad');
  t.equal(bad.status, 400);
  t.equal(bad.reason, 'Bad Request - Bad CSeq');
  const failuresBefore = counters.parseFailures;
  c.sendRaw('garbage\r\n\r\n');
  c.sendRaw(base('ACK', 'z9hG4bKack'));
  const after = await c.request(base('OPTIONS', 'z9hG4bKopt2'), 'z9hG4bKopt2');
  t.equal(after.status, 200, 'still answering');
  t.equal(counters.parseFailures, failuresBefore + 1, 'garbage counted and dropped');
});

t.test('domains and Require are checked before anything else', async (t) => {
  h.setConfig(params + accounts, '  domains: ["voip.example.com"]\n');
  t.teardown(() => h.setConfig(params + accounts));
  const other = await c.register({ user: '2001', domain: '127.0.0.1', cseq: 3000 });
  t.equal(other.status, 404);
  t.equal(other.reason, 'Domain Not Served');
  const served = await c.register({ user: '2001', domain: 'VOIP.example.com', cseq: 3001, expires: 300 });
  t.equal(served.status, 200, 'domains compare case-insensitively');
});

t.test('a failed commit answers 500 and claims nothing', async (t) => {
  // The registrar writes each group commit in one root.transaction(); a failed commit (a full disk:
  // test/e2e/disk-full.test.ts does it for real) rejects the promise it returned, without running it here.
  const transaction = h.store.root.transaction;
  const rejected = Promise.reject(new Error('ENOSPC'));
  rejected.catch(() => {});
  h.store.root.transaction = (() => rejected) as unknown as typeof transaction;
  t.teardown(() => { h.store.root.transaction = transaction; });
  const r = await c.register({ user: '2004', contacts: ['<sip:z@127.0.0.1:5999>'], expires: 300, callId: 'disk-full' });
  t.equal(r.status, 500);
  t.match(r.header('retry-after'), /^\d+$/);
  t.notOk(bindingsOf(h.store, '2004').some((b) => b.contact.includes('5999')), 'not stored, not claimed');
});

t.test('overload: 503 with a randomised Retry-After', async (t) => {
  const overloaded: Guard = { checkSource: () => 'overloaded', checkNumber: () => 'ok', authFailed: () => false, authSucceeded: () => {}, reload: () => {} };
  const o = await startHarness(params + accounts, overloaded);
  const k = await SipClient.open(o.port);
  t.teardown(async () => { k.close(); await o.close(); });
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const r = await k.register({ user: '2001' });
    t.equal(r.status, 503);
    const after = Number(r.header('retry-after'));
    t.ok(after >= 10 && after < 20, `Retry-After ${after} within SS_OVERLOAD_RETRY_AFTER .. 2x`);
    seen.add(String(after));
  }
  t.ok(seen.size > 1, 'spread');
});

// A REGISTER that cannot be answered (every response slot held, e.g. by 200s waiting for a slow commit)
// is dropped before its credentials are used: the phone's retransmission, same nonce and nc, succeeds.
t.test('no response slot free: dropped untouched, its retransmission is accepted', async (t) => {
  const client = await SipClient.open(h.port);
  try {
    const first = await client.register({ user: '1002' });
    t.equal(first.status, 401);
    const authorization = answerChallenge(first, '1002', 'other', 'sip:127.0.0.1', 1);
    const { text, branch } = client.registerText({ user: '1002', authorization });
    const transport = h.sip.transport!;
    const held = [];
    for (let s = transport.acquire(); s !== null; s = transport.acquire()) held.push(s);
    const drops = transport.counters.sendDropsNoSlot;
    await t.rejects(client.request(text, branch, 300), /no response/, 'nothing is answered while no slot is free');
    t.ok(transport.counters.sendDropsNoSlot > drops, 'counted as a drop for want of a slot');
    for (const s of held) transport.releaseUnsent(s);
    const retransmitted = await client.request(text, branch);
    t.equal(retransmitted.status, 200, 'the same request (same nonce, same nc) is accepted once slots are back');
    t.equal(bindingsOf(h.store, '1002').length, 1);
  } finally {
    client.close();
  }
});
