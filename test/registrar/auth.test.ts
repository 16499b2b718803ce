// Digest details against the running SIP side: SHA-256 offered before MD5 (RFC 8760), stale nonces,
// kick-and-hold, and responses routed to expect()ed branches for the parts that send requests.
import t from 'tap';
import { createHash } from 'node:crypto';
import { bindingsOf, queryEvents } from '../../src/store/index.js';
import { NonceIssuer, loadNonceSecret } from '../../src/registrar/nonce.js';
import type { Guard } from '../../src/registrar/guard-types.js';
import { SipClient, answerChallenge } from './sipclient.js';
import { permissiveGuard, startHarness } from './harness.js';

const body = `
params:
  SS_AUTH_ALGORITHMS: "SHA-256,MD5"
  SS_ENDPOINT_EXPIRE_JITTER: 0
accounts:
  - { number: "1001", password: "secret" }
  - { number: "1002", ha1: "${createHash('md5').update('1002:sipreg:secret').digest('hex')}" }
  - { number: "1003", auth_mode: ip, allow: ["127.0.0.0/8"] }
`;

t.test('SHA-256 and MD5 challenges; either answer works; an HA1-only account answers MD5 only', async (t) => {
  const h = await startHarness(body);
  const c = await SipClient.open(h.port);
  t.teardown(async () => { c.close(); await h.close(); });
  const first = await c.register({ user: '1001' });
  const challenges = first.all('www-authenticate');
  t.equal(challenges.length, 2);
  t.match(challenges[0], /algorithm=SHA-256/, 'SHA-256 first, as configured');
  t.match(challenges[1], /algorithm=MD5/);
  const sha = await c.register({ user: '1001', authorization: answerChallenge(first, '1001', 'secret', 'sip:127.0.0.1', 1, 'SHA-256') });
  t.equal(sha.status, 200, 'SHA-256 answer');
  const second = await c.register({ user: '1001' });
  const md5 = await c.register({ user: '1001', authorization: answerChallenge(second, '1001', 'secret', 'sip:127.0.0.1', 1, 'MD5') });
  t.equal(md5.status, 200, 'MD5 answer');
  const third = await c.register({ user: '1002' });
  t.equal((await c.register({ user: '1002', authorization: answerChallenge(third, '1002', 'secret', 'sip:127.0.0.1', 1, 'MD5') })).status, 200, 'ha1 account, MD5');
  const fourth = await c.register({ user: '1002' });
  t.equal((await c.register({ user: '1002', authorization: answerChallenge(fourth, '1002', 'secret', 'sip:127.0.0.1', 1, 'SHA-256') })).status, 403,
    'ha1 account has no SHA-256 HA1: fails like a wrong password');
});

t.test('an expired nonce gets 401 stale=true; a forged one a plain 401', async (t) => {
  const h = await startHarness(body.replace('"SHA-256,MD5"', 'MD5'));
  const c = await SipClient.open(h.port);
  t.teardown(async () => { c.close(); await h.close(); });
  const issuer = new NonceIssuer(loadNonceSecret(h.store));
  const old = issuer.issue(Date.now() - 400_000, '127.0.0.1'); // older than SS_AUTH_NONCE_LIFETIME 300 s (and of another start)
  const fakeChallenge = { ...(await c.register({ user: '1001' })) };
  const header = fakeChallenge.all('www-authenticate')[0]!.replace(/nonce="[^"]+"/, `nonce="${old}"`);
  fakeChallenge.headers = new Map([['www-authenticate', [header]]]);
  fakeChallenge.all = (n: string) => fakeChallenge.headers.get(n) ?? [];
  const stale = await c.register({ user: '1001', authorization: answerChallenge(fakeChallenge, '1001', 'secret', 'sip:127.0.0.1') });
  t.equal(stale.status, 401);
  t.match(stale.header('www-authenticate'), /stale=true/);
  const forgedHeader = header.replace(/nonce="[^"]+"/, 'nonce="AAAAAAAAAAAAAAAAAAAAAAAA"');
  fakeChallenge.headers = new Map([['www-authenticate', [forgedHeader]]]);
  const forged = await c.register({ user: '1001', authorization: answerChallenge(fakeChallenge, '1001', 'secret', 'sip:127.0.0.1') });
  t.equal(forged.status, 401);
  t.notMatch(forged.header('www-authenticate'), /stale/);
});

t.test('kick-and-hold: a held number is challenged, then 403 and a rejected event', async (t) => {
  const held: Guard = { ...permissiveGuard, checkNumber: (n) => (n === '1001' || n === '1003' ? 'number_held' : 'ok') };
  const h = await startHarness(body, held);
  const c = await SipClient.open(h.port);
  t.teardown(async () => { c.close(); await h.close(); });
  const ip = await c.register({ user: '1003' });
  t.equal(ip.status, 401, 'an ip-mode number held: challenged like any other');
  const { first, final } = await c.registerWithAuth({ user: '1001', password: 'secret' });
  t.same([first.status, final.status], [401, 403], 'the right password of a held number: 401, then 403');
  t.equal(bindingsOf(h.store, '1001').length + bindingsOf(h.store, '1003').length, 0);
  await h.store.events.committed;
  t.match(queryEvents(h.store, { number: '1001', type: 'rejected' }).at(-1)?.detail, /held by an operator/);
});

t.test('responses reach the handler expect()ed for their branch; others are dropped', async (t) => {
  const h = await startHarness(body);
  const c = await SipClient.open(h.port);
  t.teardown(async () => { c.close(); await h.close(); });
  const seen: string[] = [];
  h.sip.endpoint.expect('z9hG4bKmine', (msg) => { seen.push(`${msg.statusCode} ${msg.callId()}`); });
  const response = (branch: string): string => `SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:${h.port};branch=${branch}\r\n` +
    `From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\nCall-ID: ka-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
  c.sendRaw(response('z9hG4bKother'));
  c.sendRaw(response('z9hG4bKmine'));
  await new Promise((r) => setTimeout(r, 200));
  t.same(seen, ['200 ka-1']);
  h.sip.endpoint.release('z9hG4bKmine');
  c.sendRaw(response('z9hG4bKmine'));
  await new Promise((r) => setTimeout(r, 200));
  t.same(seen, ['200 ka-1'], 'released');
  // And the endpoint sends from the listen socket.
  const got = new Promise<string>((resolve) => c.socket.once('message', (b) => resolve(b.toString())));
  h.sip.endpoint.send(0, Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n'), c.port, '127.0.0.1');
  t.match(await got, /^OPTIONS sip:x/);
  t.equal(h.sip.endpoint.sockets[0]!.port, h.port);
});
