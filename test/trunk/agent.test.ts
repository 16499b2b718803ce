// The trunk state machine on a fake clock and a fake endpoint: every transition, the retry spacing,
// challenges, 423, 503, refresh timing, Privacy bytes, un-REGISTER on stop and reload, NAT.
import t from 'tap';
import { trunks as makeTrunks, literalTarget, type Resolver } from '../../src/trunk/index.js';
import type { Component } from '../../src/component.js';
import type { Params, Trunk } from '../../src/config/types.js';
import { queryEvents, type TrunkStateRecord } from '../../src/store/index.js';
import { DigestParams, parseDigest, verifyDigest, computeHa1, DigestAlgorithm } from '../../src/sip/index.js';
import { FakeClock } from './clock.js';
import { FakeEndpoint, config, context, closeStores, trunk, header, headers, cseqOf, branchOf, type TestContext } from './fakes.js';

t.teardown(closeStores);

const CHALLENGE = 'WWW-Authenticate: Digest realm="upstream.example", nonce="n1", algorithm=MD5, qop="auth"';

interface Harness {
  clock: FakeClock;
  endpoint: FakeEndpoint;
  ctx: TestContext;
  records: TrunkStateRecord[];
  component: Component;
  states(name?: string): string[];
  lastRecord(name?: string): TrunkStateRecord;
}

const names: Record<string, string> = { 'sip.upstream.example': '127.0.0.1' };
const resolver: Resolver = {
  async resolve(host, port) {
    const literal = literalTarget(host, port);
    if (literal !== null) return { target: literal, error: null };
    const address = names[host];
    if (address === undefined) return { target: null, error: `DNS failure: ${host} not resolved (ENOTFOUND)` };
    return { target: { address, port: port ?? 5060, family: 4 }, error: null };
  },
};

async function harness(ts: Trunk[], params: Partial<Params> = {}, random = (): number => 0): Promise<Harness> {
  const clock = new FakeClock();
  const endpoint = new FakeEndpoint(clock);
  const ctx = context(config(ts, params));
  const records: TrunkStateRecord[] = [];
  const component = makeTrunks(ctx, endpoint, {
    clock, random, resolver, routeSource: async () => '192.0.2.10', onRecord: (r) => records.push(r),
  });
  await component.start();
  await clock.advance(0);
  return {
    clock, endpoint, ctx, records, component,
    states: (name = 'carrier-a') => records.filter((r) => r.name === name).map((r) => r.state),
    lastRecord: (name = 'carrier-a') => records.filter((r) => r.name === name).at(-1)!,
  };
}

/** Answers the pending REGISTER with 401, then its credentials with 200 granting `grantS`. */
async function registerWithChallenge(h: Harness, grantS: number): Promise<void> {
  h.endpoint.respond(401, 'Unauthorized', [CHALLENGE]);
  await h.clock.advance(0);
  h.endpoint.respond(200, 'OK', [`Contact: <${contactOf(h.endpoint.last().text)}>;expires=${grantS}`]);
  await h.clock.advance(0);
}

/** stop() with the clock moving, so a pending un-REGISTER can time out. */
async function stop(h: { component: Component; clock: FakeClock }): Promise<void> {
  const p = h.component.stop();
  await h.clock.advance(6_000);
  await p;
}

function contactOf(text: string): string {
  return /<([^>]+)>/.exec(header(text, 'Contact') ?? '')?.[1] ?? '';
}

function eventsOf(ctx: TestContext, type: string): string[] {
  return queryEvents(ctx.store, {}).filter((e) => e.type === type).map((e) => e.detail);
}

async function committed(ctx: TestContext): Promise<void> {
  await ctx.store.trunks.committed;
  await ctx.store.events.committed;
}

t.test('registers with digest: request shape, credentials, state and events', async (t) => {
  const h = await harness([trunk()]);
  t.same(h.states(), ['registering', 'registering'], 'start (next action set), then the attempt');
  const first = h.endpoint.last();
  t.match(first.text, /^REGISTER sip:127\.0\.0\.1:25060 SIP\/2\.0\r\n/, 'Request-URI names the registrar');
  t.equal(first.address, '127.0.0.1');
  t.equal(first.port, 25060);
  t.match(header(first.text, 'Via')!, /^SIP\/2\.0\/UDP 127\.0\.0\.1:5070;branch=z9hG4bK\w+;rport$/);
  t.equal(header(first.text, 'From'), `<sip:4420000000@upstream.example>;tag=${/tag=(\w+)/.exec(header(first.text, 'From')!)![1]}`);
  t.equal(header(first.text, 'To'), '<sip:4420000000@upstream.example>');
  t.equal(header(first.text, 'Contact'), '<sip:4420000000@127.0.0.1:5070>');
  t.equal(header(first.text, 'Expires'), '3600', 'Auto asks SS_SIP_USER_AGENT_AUTO_EXPIRE');
  t.equal(header(first.text, 'Authorization'), null);
  t.equal(header(first.text, 'Privacy'), null, 'Ignore: no Privacy header');

  h.endpoint.respond(401, 'Unauthorized', [CHALLENGE]);
  await h.clock.advance(0);
  const second = h.endpoint.last();
  t.equal(header(second.text, 'Call-ID'), header(first.text, 'Call-ID'), 'one Call-ID');
  t.equal(cseqOf(second.text), cseqOf(first.text) + 1, 'CSeq increases');
  t.not(branchOf(second.text), branchOf(first.text), 'a new transaction');
  t.equal(header(second.text, 'Contact'), header(first.text, 'Contact'), 'stable Contact');
  const auth = header(second.text, 'Authorization')!;
  t.match(auth, /qop=auth, nc=00000001/);
  t.match(auth, /cnonce="[0-9a-f]{16}"/);
  const params = new DigestParams();
  const buf = Buffer.from(auth);
  t.equal(parseDigest(params, buf, 0, buf.length), null);
  t.equal(params.uri(), 'sip:127.0.0.1:25060');
  t.ok(verifyDigest(params, 'REGISTER', computeHa1(DigestAlgorithm.MD5, '4420000000', 'upstream.example', 'secret')), 'the digest is right');

  h.endpoint.respond(200, 'OK', ['Contact: <sip:4420000000@127.0.0.1:5070>;expires=120', 'Contact: <sip:other@10.0.0.9:5060>;expires=999']);
  await h.clock.advance(0);
  const rec = h.lastRecord();
  t.equal(rec.state, 'registered');
  t.equal(rec.grantedExpiresS, 120, 'our Contact\'s expires');
  t.equal(rec.lastStatus, 200);
  t.equal(rec.failureCount, 0);
  t.equal(rec.registrar, '127.0.0.1:25060');
  t.equal(rec.contact, 'sip:4420000000@127.0.0.1:5070');
  t.equal(rec.nextActionAtMs! - h.clock.nowMs(), 108_000, 'Auto refresh at granted - max(5 s, 10 %)');
  t.equal(h.endpoint.expecting, 0, 'branches released');
  await committed(h.ctx);
  t.equal(h.ctx.store.trunks.get('carrier-a')?.state, 'registered', 'persisted');
  t.same(eventsOf(h.ctx, 'trunk_registered'), ['trunk carrier-a: registered to 127.0.0.1:25060 as sip:4420000000@127.0.0.1:5070, expires 120 s']);

  // Refresh: credentials for the known nonce go with the first request (nc counts on).
  await h.clock.advance(108_000);
  const refresh = h.endpoint.last();
  t.equal(refresh.atMs - h.records.at(-1)!.updatedAtMs, 108_000);
  t.match(header(refresh.text, 'Authorization')!, /nc=00000002/);
  t.equal(header(refresh.text, 'Call-ID'), header(first.text, 'Call-ID'));
  t.equal(cseqOf(refresh.text), cseqOf(second.text) + 1);
  h.endpoint.respond(200, 'OK', [], {});
  await h.clock.advance(0);
  t.equal(h.lastRecord().grantedExpiresS, 3600, 'no Contact in the 200: the Expires header, else what we asked');
  t.same(h.states().slice(-2), ['registered', 'registered'], 'a refresh stays registered');
  t.equal(eventsOf(h.ctx, 'trunk_registered').length, 1, 'a refresh is not a new registration event');
  await stop(h);
});

t.test('refresh timing: Auto before expiry, fixed at about half, short grants at half', async (t) => {
  const cases: [string, Partial<Trunk>, number, number][] = [
    // name, trunk, granted, expected refresh delay (ms)
    ['Auto 3600', {}, 3600, 3_240_000],
    ['Auto 60', {}, 60, 54_000],
    ['Auto 20', {}, 20, 15_000],
    ['Auto 8: half', {}, 8, 4_000],
    ['Auto 1: half', {}, 1, 500],
    ['fixed 60', { expiresS: 60 }, 60, 30_000],
    ['fixed 600, server grants 600', { expiresS: 600 }, 600, 300_000],
    ['fixed 60, server grants 20', { expiresS: 60 }, 20, 15_000],
    ['fixed 60, server grants 4', { expiresS: 60 }, 4, 2_000],
  ];
  for (const [name, over, granted, expected] of cases) {
    const h = await harness([trunk(over)]);
    const asked = header(h.endpoint.last().text, 'Expires');
    t.equal(asked, String(over.expiresS ?? 3600), `${name}: asks ${asked}`);
    h.endpoint.respond(200, 'OK', [`Expires: ${granted}`]);
    await h.clock.advance(0);
    const at = h.clock.nowMs();
    t.equal(h.lastRecord().nextActionAtMs! - at, expected, `${name}: refresh after ${expected} ms`);
    const before = h.endpoint.registers().length;
    await h.clock.advance(expected - 1);
    t.equal(h.endpoint.registers().length, before, `${name}: nothing before`);
    await h.clock.advance(1);
    t.equal(h.endpoint.registers().length, before + 1, `${name}: the refresh goes out on time`);
    t.ok(expected < granted * 1000, `${name}: before the grant lapses`);
    await stop(h);
  }
});

t.test('SS_SIP_USER_AGENT_EXPIRE fixed applies when the trunk says nothing', async (t) => {
  const h = await harness([trunk()], { uaExpiresS: 300 });
  t.equal(header(h.endpoint.last().text, 'Expires'), '300');
  await stop(h);
  const h2 = await harness([trunk({ expiresS: 'auto' })], { uaExpiresS: 300, uaDefaultExpiresS: 900 });
  t.equal(header(h2.endpoint.last().text, 'Expires'), '900', 'the trunk\'s Auto overrides the global fixed value');
  await stop(h2);
});

t.test('wrong password: retry_wait, attempts exactly RETRY_DELAY apart, alert after 3, recovery on reload', async (t) => {
  const h = await harness([trunk({ password: 'wrong' })], { uaRetryDelayS: 45 });
  const firstSends: number[] = [];
  const failures: number[] = [];
  for (let i = 0; i < 4; i++) {
    firstSends.push(h.endpoint.last().atMs);
    h.endpoint.respond(401, 'Unauthorized', [CHALLENGE]);
    await h.clock.advance(0);
    t.ok(header(h.endpoint.last().text, 'Authorization') !== null, 'answers the challenge');
    h.endpoint.respond(401, 'Unauthorized', [CHALLENGE.replace('n1', `n${i + 2}`)]);
    await h.clock.advance(0);
    failures.push(h.clock.nowMs());
    const rec = h.lastRecord();
    t.equal(rec.state, 'retry_wait', `attempt ${i + 1}: retry_wait, no loop`);
    t.equal(rec.failureCount, i + 1);
    t.equal(rec.lastStatus, 401);
    t.match(rec.lastReason, /^bad credentials: 401 Unauthorized again after our credentials for user "4420000000"/);
    t.equal(rec.lastReason.includes('[ALERT: '), i >= 2, 'the alert shows in last_reason from the third failure on');
    t.equal(rec.nextActionAtMs! - h.clock.nowMs(), 45_000, 'next action exactly RETRY_DELAY later');
    const before = h.endpoint.registers().length;
    await h.clock.advance(44_999);
    t.equal(h.endpoint.registers().length, before, 'silent during the wait');
    await h.clock.advance(1);
    t.equal(h.endpoint.registers().length, before + 1, 'next attempt');
  }
  const gaps = firstSends.slice(1).map((at, i) => at - failures[i]!);
  t.same(gaps, [45_000, 45_000, 45_000], 'failure to next attempt: exactly RETRY_DELAY, no backoff');
  t.ok(h.states().includes('failed'), 'failed is a recorded state');
  const alerts = eventsOf(h.ctx, 'trunk_alert');
  await committed(h.ctx);
  t.equal(eventsOf(h.ctx, 'trunk_alert').length, 1, 'one alert at the third consecutive credential failure');
  t.match(eventsOf(h.ctx, 'trunk_alert')[0]!, /3 credential failures in a row/);
  t.notMatch(eventsOf(h.ctx, 'trunk_alert')[0]!, /trunk carrier-a: trunk carrier-a/, 'the alert names its trunk once');
  t.equal(h.lastRecord().credentialFailures, 4, 'the streak is in the record (active alerts read it)');
  t.ok(h.lastRecord().downSinceMs != null, 'down since its first failure');
  t.ok(alerts.length <= 1);
  t.equal(eventsOf(h.ctx, 'trunk_failed').length, 4);
  t.ok(h.ctx.lines.some((l) => l.level === 50 && /credential failures/.test(l.msg)), 'alert logged at error');

  // Fixing the password by reload registers at once.
  const fixed = config([trunk({ password: 'secret' })], { uaRetryDelayS: 45 });
  const previous = h.ctx.config();
  h.ctx.setConfig(fixed);
  await h.component.reload(fixed, previous);
  await h.clock.advance(0);
  const sentAt = h.endpoint.last().atMs;
  t.equal(sentAt, h.clock.nowMs(), 'reload with a new password registers now');
  await registerWithChallenge(h, 600);
  t.equal(h.lastRecord().state, 'registered');
  t.equal(h.lastRecord().failureCount, 0, 'success clears the failure count');
  t.equal(h.lastRecord().credentialFailures, 0, 'and the credential streak');
  t.equal(h.lastRecord().downSinceMs, null, 'and it is no longer down');
  await stop(h);
});

t.test('timeout: Timer E retransmissions, Timer F, then RETRY_DELAY; recovery', async (t) => {
  const h = await harness([trunk()], { uaRetryDelayS: 30 });
  const start = h.clock.nowMs();
  await h.clock.advance(32_000);
  const sends = h.endpoint.registers().map((s) => s.atMs - start);
  t.same(sends, [0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500], 'T1 doubling to T2, then every T2');
  const rec = h.lastRecord();
  t.equal(rec.state, 'retry_wait');
  t.equal(rec.lastStatus, null);
  t.equal(rec.lastReason, 'no answer: 127.0.0.1:25060 did not answer within 32 s');
  t.equal(rec.nextActionAtMs! - h.clock.nowMs(), 30_000);
  await h.clock.advance(30_000);
  t.equal(h.endpoint.last().atMs - start, 62_000, 'next attempt at Timer F + RETRY_DELAY');
  h.endpoint.respond(200, 'OK', ['Expires: 600']);
  await h.clock.advance(0);
  t.equal(h.lastRecord().state, 'registered', 'recovers by itself');
  await stop(h);
});

t.test('a provisional response slows retransmissions to T2', async (t) => {
  const h = await harness([trunk()]);
  const start = h.clock.nowMs();
  await h.clock.advance(600);
  h.endpoint.respond(100, 'Trying');
  await h.clock.advance(10_000);
  t.same(h.endpoint.registers().map((s) => s.atMs - start), [0, 500, 4600, 8600]);
  await stop(h);
});

t.test('503 Retry-After: honoured when longer than RETRY_DELAY', async (t) => {
  for (const [retryAfter, expectedMs] of [[120, 120_000], [10, 30_000]] as const) {
    const h = await harness([trunk()], { uaRetryDelayS: 30 });
    h.endpoint.respond(503, 'Service Unavailable', [`Retry-After: ${retryAfter}`]);
    await h.clock.advance(0);
    const rec = h.lastRecord();
    t.equal(rec.state, 'retry_wait');
    t.equal(rec.lastReason, `server error: 503 Service Unavailable (Retry-After ${retryAfter} s)`);
    t.equal(rec.nextActionAtMs! - h.clock.nowMs(), expectedMs, `Retry-After ${retryAfter}: wait ${expectedMs} ms`);
    await stop(h);
  }
});

t.test('failure reasons in operator words', async (t) => {
  const cases: [number, string, string[], RegExp][] = [
    [403, 'Forbidden', [], /^forbidden: 403 Forbidden/],
    [404, 'Not Found', [], /^unknown user or domain: 404 Not Found/],
    [500, 'Internal Server Error', [], /^server error: 500 Internal Server Error$/],
    [480, 'Temporarily Unavailable', [], /^rejected: 480 Temporarily Unavailable$/],
    [603, 'Decline', [], /^refused by the upstream: 603 Decline$/],
    [401, 'Unauthorized', ['WWW-Authenticate: Basic realm="x"'], /^cannot answer the challenge: not a Digest challenge/],
    [401, 'Unauthorized', ['WWW-Authenticate: Digest realm="x", nonce="y", algorithm=SHA-999'], /^cannot answer the challenge: unsupported digest algorithm/],
    [401, 'Unauthorized', ['WWW-Authenticate: Digest realm="x", nonce="y", algorithm=MD5'], /^cannot answer the challenge: MD5 digest without qop is refused .*allow_md5_without_qop: true/],
    [401, 'Unauthorized', ['WWW-Authenticate: Digest realm="x", nonce="y"'], /^cannot answer the challenge: MD5 digest without qop is refused/],
    [407, 'Proxy Authentication Required', ['Proxy-Authenticate: Digest realm="x", nonce="y", algorithm=MD5'], /^cannot answer the challenge: MD5 digest without qop/],
    [401, 'Unauthorized', ['WWW-Authenticate: Digest realm="x", nonce="y", algorithm=SHA-256'], /^cannot answer the challenge: SHA-256 digest without qop is refused \(RFC 7616/],
  ];
  for (const [status, phrase, extra, reason] of cases) {
    const h = await harness([trunk()]);
    h.endpoint.respond(status, phrase, extra);
    await h.clock.advance(0);
    t.equal(h.lastRecord().state, 'retry_wait', `${status}`);
    t.match(h.lastRecord().lastReason, reason);
    await stop(h);
  }
  const dns = await harness([trunk({ registrar: 'nowhere.invalid', port: null })]);
  t.equal(dns.lastRecord().state, 'retry_wait');
  t.equal(dns.lastRecord().lastReason, 'DNS failure: nowhere.invalid not resolved (ENOTFOUND)');
  t.equal(dns.endpoint.sent.length, 0);
  await stop(dns);
});

t.test('digest without qop: only MD5, only with allow_md5_without_qop; a challenge with qop is preferred', async (t) => {
  const noQop = 'WWW-Authenticate: Digest realm="upstream.example", nonce="old", algorithm=MD5';
  const h = await harness([trunk()]);
  h.endpoint.respond(401, 'Unauthorized', [noQop, CHALLENGE]);
  await h.clock.advance(0);
  const answered = header(h.endpoint.last().text, 'Authorization')!;
  t.match(answered, /nonce="n1".*qop=auth, nc=00000001/, 'the offer with qop is answered, though listed second');
  await stop(h);

  const allowed = await harness([trunk({ allowMd5WithoutQop: true })]);
  allowed.endpoint.respond(401, 'Unauthorized', [noQop]);
  await allowed.clock.advance(0);
  const auth = header(allowed.endpoint.last().text, 'Authorization')!;
  t.notMatch(auth, /qop|nc=|cnonce/, 'RFC 2069 form');
  const params = new DigestParams();
  const buf = Buffer.from(auth);
  t.equal(parseDigest(params, buf, 0, buf.length), null);
  t.ok(verifyDigest(params, 'REGISTER', computeHa1(DigestAlgorithm.MD5, '4420000000', 'upstream.example', 'secret')), 'the digest is right');
  allowed.endpoint.respond(200, 'OK', ['Expires: 120']);
  await allowed.clock.advance(0);
  t.equal(allowed.lastRecord().state, 'registered');

  // Allowed no more: the remembered challenge is dropped, the reload registers at once without it.
  const sentBefore = allowed.endpoint.requests().length;
  const next = config([trunk()]);
  allowed.ctx.setConfig(next);
  await allowed.component.reload(next, config([trunk({ allowMd5WithoutQop: true })]));
  await allowed.clock.advance(0);
  t.equal(allowed.endpoint.requests().length, sentBefore + 1, 'registers again at once');
  t.equal(header(allowed.endpoint.last().text, 'Authorization'), null, 'no RFC 2069 answer reused');
  allowed.endpoint.respond(401, 'Unauthorized', [noQop]);
  await allowed.clock.advance(0);
  t.match(allowed.lastRecord().lastReason, /MD5 digest without qop is refused/);
  await stop(allowed);
});

t.test('a grant longer than a day is refreshed within a day (issue 13)', async (t) => {
  const h = await harness([trunk()]);
  h.endpoint.respond(200, 'OK', ['Expires: 3000000']);
  await h.clock.advance(0);
  const rec = h.lastRecord();
  t.equal(rec.state, 'registered');
  t.equal(rec.grantedExpiresS, 3_000_000, 'the grant as given');
  t.equal(rec.nextActionAtMs! - h.clock.nowMs(), 77_760_000, 'refresh planned on GRANTED_EXPIRES_MAX_S: 86,400 s less 10 %');
  t.match(rec.lastReason, /granted 3000000 s, refreshed as if 86400 s/);
  t.equal(h.clock.nextDueInMs(), 77_760_000, 'the armed timer agrees');
  await stop(h);
});

t.test('423: REGISTER again at once with Min-Expires, remembered; a second 423 fails', async (t) => {
  const h = await harness([trunk({ expiresS: 60 })]);
  h.endpoint.respond(423, 'Interval Too Brief', ['Min-Expires: 300']);
  await h.clock.advance(0);
  t.equal(header(h.endpoint.last().text, 'Expires'), '300', 'asks Min-Expires');
  t.equal(h.endpoint.last().atMs, h.clock.nowMs(), 'at once');
  t.same(h.states(), ['registering', 'registering'], 'no failure recorded');
  h.endpoint.respond(200, 'OK', ['Expires: 300']);
  await h.clock.advance(0);
  t.equal(h.lastRecord().state, 'registered');
  t.equal(h.lastRecord().nextActionAtMs! - h.clock.nowMs(), 30_000, 'fixed 60 refreshes at 30 s (half of what was configured)');
  await h.clock.advance(30_000);
  t.equal(header(h.endpoint.last().text, 'Expires'), '300', 'the refresh still asks Min-Expires');
  h.endpoint.respond(423, 'Interval Too Brief', ['Min-Expires: 300']);
  await h.clock.advance(0);
  t.equal(h.lastRecord().state, 'retry_wait');
  t.match(h.lastRecord().lastReason, /^expiry refused: 423 Interval Too Brief, again after asking 300 s \(Min-Expires 300 s\)/);
  await stop(h);
});

t.test('stale nonce is answered again without a failure; 407 uses Proxy-Authorization', async (t) => {
  const h = await harness([trunk()]);
  h.endpoint.respond(401, 'Unauthorized', [CHALLENGE]);
  await h.clock.advance(0);
  h.endpoint.respond(401, 'Unauthorized', ['WWW-Authenticate: Digest realm="upstream.example", nonce="n2", algorithm=MD5, qop="auth", stale=true']);
  await h.clock.advance(0);
  const auth = header(h.endpoint.last().text, 'Authorization')!;
  t.match(auth, /nonce="n2"/);
  t.match(auth, /nc=00000001/, 'a new nonce counts from 1');
  t.notOk(h.states().includes('failed'));
  h.endpoint.respond(200, 'OK', ['Expires: 600']);
  await h.clock.advance(0);
  t.equal(h.lastRecord().state, 'registered');
  t.equal(h.lastRecord().failureCount, 0);
  await stop(h);

  const p = await harness([trunk()]);
  p.endpoint.respond(407, 'Proxy Authentication Required', ['Proxy-Authenticate: Digest realm="proxy.example", nonce="p1", algorithm=SHA-256, qop="auth"']);
  await p.clock.advance(0);
  const pa = header(p.endpoint.last().text, 'Proxy-Authorization')!;
  t.match(pa, /algorithm=SHA-256/);
  const params = new DigestParams();
  const buf = Buffer.from(pa);
  t.equal(parseDigest(params, buf, 0, buf.length), null);
  t.ok(verifyDigest(params, 'REGISTER', computeHa1(DigestAlgorithm.SHA256, '4420000000', 'proxy.example', 'secret')), 'SHA-256 digest is right');
  t.equal(header(p.endpoint.last().text, 'Authorization'), null);
  p.endpoint.respond(407, 'Proxy Authentication Required', ['Proxy-Authenticate: Digest realm="proxy.example", nonce="p2", algorithm=SHA-256, qop="auth"']);
  await p.clock.advance(0);
  t.equal(p.lastRecord().state, 'retry_wait', 'a second 407 after credentials is a failure');
  t.match(p.lastRecord().lastReason, /^bad credentials: 407/);
  await stop(p);
});

t.test('auth_user is the digest username; proxy gets the datagrams, the Request-URI names the registrar', async (t) => {
  const h = await harness([trunk({ authUser: 'digestuser', registrar: 'sip.upstream.example', port: null, proxy: { host: '127.0.0.5', port: 5080 } })]);
  const req = h.endpoint.last();
  t.equal(req.address, '127.0.0.5');
  t.equal(req.port, 5080);
  t.match(req.text, /^REGISTER sip:sip\.upstream\.example SIP\/2\.0/);
  h.endpoint.respond(401, 'Unauthorized', [CHALLENGE]);
  await h.clock.advance(0);
  t.match(header(h.endpoint.last().text, 'Authorization')!, /username="digestuser"/);
  t.match(header(h.endpoint.last().text, 'Authorization')!, /uri="sip:sip\.upstream\.example"/);
  h.endpoint.respond(200, 'OK', ['Expires: 600']);
  await h.clock.advance(0);
  t.equal(h.lastRecord().registrar, 'sip.upstream.example via proxy 127.0.0.5:5080');
  await stop(h);
});

t.test('Privacy header bytes per SS_SIP_USER_AGENT_PRIVACY', async (t) => {
  for (const [privacy, line] of [['ignore', null], ['id', 'Privacy: id\r\n'], ['none', 'Privacy: none\r\n']] as const) {
    const h = await harness([trunk()], { uaPrivacy: privacy });
    const text = h.endpoint.last().text;
    if (line === null) t.notMatch(text, /privacy/i, 'Ignore: no header at all');
    else t.ok(text.includes(`\r\n${line}`), `${privacy}: ${JSON.stringify(line)}`);
    await stop(h);
  }
});

t.test('SEND_UNREGISTER On: stop sends Expires 0, answers a challenge, waits for the answer', async (t) => {
  const h = await harness([trunk()], { uaSendUnregister: true });
  await registerWithChallenge(h, 600);
  const contact = header(h.endpoint.last().text, 'Contact');
  let stopped = false;
  const stopping = h.component.stop().then(() => { stopped = true; });
  await h.clock.advance(0);
  const un = h.endpoint.last();
  t.equal(header(un.text, 'Expires'), '0');
  t.equal(header(un.text, 'Contact'), contact, 'only our Contact, not *');
  t.match(header(un.text, 'Authorization')!, /nc=00000002/, 'credentials for the known nonce go along');
  h.endpoint.respond(401, 'Unauthorized', [CHALLENGE.replace('n1', 'n9')]);
  await h.clock.advance(0);
  t.match(header(h.endpoint.last().text, 'Authorization')!, /nonce="n9"/, 'authenticates if challenged');
  t.equal(header(h.endpoint.last().text, 'Expires'), '0');
  t.notOk(stopped, 'waits for the answer');
  h.endpoint.respond(200, 'OK');
  await h.clock.advance(0);
  await stopping;
  t.ok(stopped);
  t.equal(h.lastRecord().state, 'unregistered');
  t.match(h.lastRecord().lastReason, /un-REGISTER accepted/);
  await committed(h.ctx);
  t.equal(eventsOf(h.ctx, 'trunk_unregistered').length, 1);
});

t.test('SEND_UNREGISTER On: an unanswered un-REGISTER ends after 5 s', async (t) => {
  const h = await harness([trunk(), trunk({ name: 'carrier-b', port: 25061 })], { uaSendUnregister: true });
  for (const s of h.endpoint.requests()) h.endpoint.respond(200, 'OK', ['Expires: 600'], { to: s });
  await h.clock.advance(0);
  let stopped = false;
  const start = h.clock.nowMs();
  const stopping = h.component.stop().then(() => { stopped = true; });
  await h.clock.advance(4_999);
  t.equal(h.endpoint.registers().filter((s) => header(s.text, 'Expires') === '0' && s.atMs === start).length, 2, 'both trunks in parallel');
  t.notOk(stopped);
  await h.clock.advance(1);
  await stopping;
  t.ok(stopped, 'bounded at 5 s for all trunks together');
  t.equal(h.lastRecord().state, 'unregistered');
  t.match(h.lastRecord().lastReason, /un-REGISTER not confirmed/);
});

t.test('SEND_UNREGISTER Off: stop sends nothing', async (t) => {
  const h = await harness([trunk()], { uaSendUnregister: false });
  h.endpoint.respond(200, 'OK', ['Expires: 600']);
  await h.clock.advance(0);
  const before = h.endpoint.sent.length;
  await stop(h);
  t.equal(h.endpoint.sent.length, before);
  t.equal(h.lastRecord().state, 'unregistered');
  t.match(h.lastRecord().lastReason, /left to lapse/);
});

t.test('reload: unchanged untouched, changed re-registers, new starts, removed and disabled unregister', async (t) => {
  const a = trunk();
  const b = trunk({ name: 'carrier-b', port: 25061 });
  const c = trunk({ name: 'carrier-c', port: 25062 });
  const h = await harness([a, b, c], { uaSendUnregister: true });
  for (const s of h.endpoint.requests()) h.endpoint.respond(200, 'OK', ['Expires: 600'], { to: s });
  await h.clock.advance(0);
  t.same([h.lastRecord('carrier-a').state, h.lastRecord('carrier-b').state, h.lastRecord('carrier-c').state], ['registered', 'registered', 'registered']);
  const sentBefore = h.endpoint.sent.length;
  const recordsBefore = h.records.length;

  // a unchanged; b gets a new expiry; c removed; d new; then e disabled.
  const d = trunk({ name: 'carrier-d', port: 25063 });
  const next = config([a, { ...b, expiresS: 120 }, d], { uaSendUnregister: true });
  const previous = h.ctx.config();
  h.ctx.setConfig(next);
  await h.component.reload(next, previous);
  await h.clock.advance(0);
  const newSends = h.endpoint.sent.slice(sentBefore);
  t.equal(newSends.filter((s) => s.port === 25060).length, 0, 'unchanged trunk: no traffic');
  t.equal(h.records.slice(recordsBefore).filter((r) => r.name === 'carrier-a').length, 0, 'unchanged trunk: no state change');
  const bSend = newSends.find((s) => s.port === 25061)!;
  t.equal(header(bSend.text, 'Expires'), '120', 'changed trunk registers again with its new settings');
  const cSend = newSends.find((s) => s.port === 25062)!;
  t.equal(header(cSend.text, 'Expires'), '0', 'removed trunk: un-REGISTER');
  t.equal(h.lastRecord('carrier-d').state, 'registering', 'new trunk starts');
  h.endpoint.respond(200, 'OK', [], { to: cSend });
  await h.clock.advance(0);
  await h.ctx.store.trunks.committed;
  await h.clock.advance(10);
  await h.ctx.store.trunks.committed;
  t.equal(h.ctx.store.trunks.get('carrier-c'), undefined, 'removed trunk: its record goes');

  const next2 = config([{ ...a, enabled: false }, { ...b, expiresS: 120 }, d], { uaSendUnregister: false });
  h.ctx.setConfig(next2);
  const before2 = h.endpoint.sent.length;
  await h.component.reload(next2, next);
  await h.clock.advance(0);
  t.equal(h.endpoint.sent.slice(before2).filter((s) => s.port === 25060).length, 0, 'disabled with SEND_UNREGISTER Off: nothing sent');
  t.equal(h.lastRecord('carrier-a').state, 'disabled');

  // Changing the registrar: un-REGISTER the old binding, then register at the new place.
  const next3 = config([{ ...a, enabled: false }, { ...b, expiresS: 120, port: 25071 }, d], { uaSendUnregister: true });
  h.ctx.setConfig(next3);
  const before3 = h.endpoint.sent.length;
  await h.component.reload(next3, next2);
  await h.clock.advance(0);
  const s3 = h.endpoint.sent.slice(before3);
  t.ok(s3.some((s) => s.port === 25061 && header(s.text, 'Expires') === '0'), 'old registrar: un-REGISTER');
  t.notOk(s3.some((s) => s.port === 25071), 'new registrar waits for the old one to go');
  h.endpoint.respond(200, 'OK', [], { to: s3.find((s) => s.port === 25061)! });
  await h.clock.advance(0);
  t.ok(h.endpoint.sent.slice(before3).some((s) => s.port === 25071 && header(s.text, 'Expires') === '120'), 'then registers at the new one');
  await h.clock.advance(6_000);
  await stop(h);
});

t.test('disabled trunks send nothing and show as disabled', async (t) => {
  const h = await harness([trunk({ enabled: false })]);
  await h.clock.advance(10_000);
  t.equal(h.endpoint.sent.length, 0);
  t.same(h.states(), ['disabled']);
  t.equal(h.lastRecord().registrar, '127.0.0.1:25060', 'shows the registrar it is configured with');
  t.equal(h.lastRecord().downSinceMs, null, 'off on purpose is not down');
  t.notOk(h.ctx.lines.some((l) => /trunk registrations starting/.test(l.msg)), 'not announced as starting');
  await stop(h);
});

t.test('start-up spread and the operator re-register command', async (t) => {
  let n = 0;
  const randoms = [0.1, 0.9];
  const h = await harness([trunk(), trunk({ name: 'carrier-b', port: 25061 })], {}, () => randoms[n++]!);
  t.equal(h.endpoint.sent.length, 0, 'nothing at once');
  const start = h.clock.nowMs();
  await h.clock.advance(2_000);
  t.same(h.endpoint.requests().map((s) => s.atMs - start), [200, 1_800], 'spread over 0..2 s');
  for (const s of h.endpoint.requests()) h.endpoint.respond(200, 'OK', ['Expires: 600'], { to: s });
  await h.clock.advance(0);
  const before = h.endpoint.requests().length;
  t.ok(await h.component.command!({ atMs: 0, type: 'trunk_reregister', arg: 'carrier-b' }));
  await h.clock.advance(0);
  t.equal(h.endpoint.requests().length, before + 1);
  t.equal(h.endpoint.last().port, 25061, 'that trunk, now');
  t.notOk(await h.component.command!({ atMs: 0, type: 'trunk_reregister', arg: 'nope' }), 'unknown trunk: not handled');
  await stop(h);
});

t.test('NAT: a 200 showing another address re-registers at once with it, removing the stale Contact', async (t) => {
  const h = await harness([trunk()], { uaKeepaliveIntervalS: 0 });
  h.endpoint.respond(200, 'OK', ['Contact: <sip:4420000000@127.0.0.1:5070>;expires=3600'], { via: ';received=203.0.113.9;rport=40000' });
  await h.clock.advance(0);
  const fix = h.endpoint.last();
  t.equal(fix.atMs, h.clock.nowMs(), 'at once');
  t.equal(header(fix.text, 'Contact'), '<sip:4420000000@203.0.113.9:40000>, <sip:4420000000@127.0.0.1:5070>;expires=0');
  t.match(header(fix.text, 'Via')!, /^SIP\/2\.0\/UDP 127\.0\.0\.1:5070;/, 'Via keeps our own address');
  t.same(h.states(), ['registering', 'registering'], 'still registering');
  h.endpoint.respond(200, 'OK', ['Contact: <sip:4420000000@203.0.113.9:40000>;expires=3600'], { via: ';received=203.0.113.9;rport=40000' });
  await h.clock.advance(0);
  const rec = h.lastRecord();
  t.equal(rec.state, 'registered');
  t.equal(rec.contact, 'sip:4420000000@203.0.113.9:40000');
  t.equal(rec.grantedExpiresS, 3600);
  await committed(h.ctx);
  const ev = eventsOf(h.ctx, 'trunk_registered');
  t.equal(ev.length, 1);
  t.match(ev[0]!, /WARNING behind NAT with a 3600 s expiry and no keepalive/);
  t.ok(h.ctx.lines.some((l) => l.level === 40 && /NAT pinhole/.test(l.msg)), 'warned in the log');
  // The refresh keeps the corrected Contact and does not re-fix.
  await h.clock.advance(rec.nextActionAtMs! - h.clock.nowMs());
  t.equal(header(h.endpoint.last().text, 'Contact'), '<sip:4420000000@203.0.113.9:40000>');
  h.endpoint.respond(200, 'OK', ['Expires: 3600'], { via: ';received=203.0.113.9;rport=40000' });
  await h.clock.advance(0);
  t.equal(h.endpoint.requests().length, 3, 'no loop');
  await stop(h);
});

t.test('no NAT: received equal to our address changes nothing; short grants behind NAT do not warn', async (t) => {
  const h = await harness([trunk()]);
  h.endpoint.respond(200, 'OK', ['Expires: 600'], { via: ';received=127.0.0.1;rport=5070' });
  await h.clock.advance(0);
  t.equal(h.endpoint.requests().length, 1);
  t.equal(h.lastRecord().state, 'registered');
  await stop(h);
  const n = await harness([trunk()]);
  n.endpoint.respond(200, 'OK', ['Expires: 60'], { via: ';received=203.0.113.9;rport=40000' });
  await n.clock.advance(0);
  n.endpoint.respond(200, 'OK', ['Expires: 60'], { via: ';received=203.0.113.9;rport=40000' });
  await n.clock.advance(0);
  await committed(n.ctx);
  t.notMatch(eventsOf(n.ctx, 'trunk_registered')[0]!, /WARNING/);
  await stop(n);
});

t.test('keepalive: CRLF CRLF toward the upstream every SS_SIP_USER_AGENT_KEEPALIVE while registered', async (t) => {
  const h = await harness([trunk()], { uaKeepaliveIntervalS: 25 });
  h.endpoint.respond(200, 'OK', ['Expires: 600']);
  await h.clock.advance(0);
  const at = h.clock.nowMs();
  await h.clock.advance(100_000);
  const pings = h.endpoint.sent.filter((s) => s.text === '\r\n\r\n');
  t.same(pings.map((p) => p.atMs - at), [25_000, 50_000, 75_000, 100_000]);
  t.same(pings.map((p) => `${p.address}:${p.port}`), Array(4).fill('127.0.0.1:25060'));
  await stop(h);
  const off = await harness([trunk()], { uaKeepaliveIntervalS: 0 });
  off.endpoint.respond(200, 'OK', ['Expires: 600']);
  await off.clock.advance(100_000);
  t.equal(off.endpoint.sent.filter((s) => s.text === '\r\n\r\n').length, 0, '0 = off');
  await stop(off);
});

t.test('wildcard listen socket: the Contact names the address toward the registrar', async (t) => {
  const clock = new FakeClock();
  const endpoint = new FakeEndpoint(clock, [{ index: 0, address: '0.0.0.0', port: 5060, family: 4 }]);
  const ctx = context(config([trunk()]));
  const c = makeTrunks(ctx, endpoint, { clock, random: () => 0, resolver, routeSource: async () => '192.0.2.10' });
  await c.start();
  await clock.advance(0);
  t.equal(header(endpoint.last().text, 'Contact'), '<sip:4420000000@192.0.2.10:5060>');
  t.match(header(endpoint.last().text, 'Via')!, /^SIP\/2\.0\/UDP 192\.0\.2\.10:5060;/);
  await stop({ component: c, clock });
});

t.test('responses with another Call-ID or CSeq are ignored', async (t) => {
  const h = await harness([trunk()]);
  const req = h.endpoint.last();
  const bad = req.text.replace(/^Call-ID: .*$/m, 'Call-ID: someone-else');
  h.endpoint.respond(200, 'OK', ['Expires: 600'], { to: { ...req, text: bad } });
  await h.clock.advance(0);
  t.equal(h.lastRecord().state, 'registering');
  const bad2 = req.text.replace(/^CSeq: (\d+)/m, (_m, n: string) => `CSeq: ${Number(n) + 7}`);
  h.endpoint.respond(200, 'OK', ['Expires: 600'], { to: { ...req, text: bad2 } });
  await h.clock.advance(0);
  t.equal(h.lastRecord().state, 'registering');
  h.endpoint.respond(200, 'OK', ['Expires: 600']);
  await h.clock.advance(0);
  t.equal(h.lastRecord().state, 'registered');
  void headers;
  await stop(h);
});
