// Issue 13, the digest's own holes, through `sipreg run` with real UDP peers on loopback addresses:
//   1. a digest username that does not own the To AOR is refused before any verification, exactly like
//      a wrong password, and counted against both names (no oracle, no guessing past a lockout);
//   2. a nonce is bound to the address it was issued to: forged packets "from" a phone's address with a
//      nonce fetched elsewhere get a fresh challenge and never suspend the phone;
//   7. numbers with `allow`, the ip* modes and held numbers are challenged like any other and refused
//      after the digest, so probing cannot tell them from unknown numbers;
//   8. a captured Authorization replayed after a restart is stale, never accepted;
//   and the digest `uri` must be the Request-URI.
import t from 'tap';
import { SipClient, answerChallenge, type Response } from '../registrar/sipclient.js';
import { startService, type Service } from './service.js';
import { until } from '../helpers/wait.js';

const body = 'params:\n' +
  '  SS_ENDPOINT_EXPIRE_JITTER: 0\n' +
  '  SS_ENDPOINT_REGISTER_RETRY: 3\n' +
  '  SS_ENDPOINT_REGISTER_SUSPEND: 600\n' +
  '  SS_REGISTER_SCANNER_NUMBERS: 0\n' +
  'accounts:\n' +
  ['1001', '1002', '1003', '1004', '1005', '2005'].map((n) => `  - { number: "${n}", password: "secret" }\n`).join('') +
  '  - { number: "2001", password: "secret", allow: ["10.9.9.0/24"] }\n' +
  '  - { number: "2002", auth_mode: ip, allow: ["127.0.10.50"] }\n' +
  '  - { number: "2003", auth_mode: ip_port, allow: ["127.0.10.50:5999"] }\n' +
  '  - { number: "2004", auth_mode: ip_password, password: "secret", allow: ["10.9.9.0/24"] }\n';

const DROP_WAIT_MS = 1500;

let svc: Service;
const clients: SipClient[] = [];
async function phone(host: string, port = 0): Promise<SipClient> {
  const c = await SipClient.open(svc.port, host, '127.0.0.1', port);
  clients.push(c);
  return c;
}
t.before(async () => { svc = await startService(body); });
t.teardown(async () => {
  for (const c of clients) c.close();
  await svc.kill('SIGTERM');
});

/** A REGISTER's answer, or null when the service stayed silent (dropped). */
async function send(c: SipClient, o: Parameters<SipClient['register']>[0]): Promise<Response | null> {
  try {
    return await c.register(o, DROP_WAIT_MS);
  } catch {
    return null;
  }
}

interface Lockout { key: string; kind: string; number: string; address: string }
const lockouts = (): Lockout[] => JSON.parse(svc.cli(['lockouts', '--json']).stdout) as Lockout[];
interface EventRow { type: string; number: string; source: string; detail: string }
const events = (number: string): EventRow[] => JSON.parse(svc.cli(['events', '--json', '--number', number]).stdout) as EventRow[];

/** The text of a response with every per-request field masked, `number` too. */
const mask = (r: Response, number: string): string => r.text
  .replaceAll(number, 'NUMBER')
  .replace(/(tag|branch)=[^;,\s>]+/g, '$1=X')
  .replace(/(nonce|opaque|cnonce)="[^"]*"/g, '$1="X"')
  .replace(/^(Call-ID|CSeq|Date):.*$/gim, '$1: X');

t.test('1. a digest username not owning the To AOR: refused unverified like a wrong password, counted on both names', async (t) => {
  // The oracle: with a right password the nonce-count used to be spent before the owner check, so the
  // same Authorization sent twice answered 403 then 401; with a wrong one 403 then 403.
  const sequence = async (c: SipClient, password: string): Promise<(number | null)[]> => {
    const first = await c.register({ user: '1002', toUser: '9999' });
    const authorization = answerChallenge(first, '1002', password, 'sip:127.0.0.1');
    const a = await send(c, { user: '1002', toUser: '9999', authorization });
    const b = await send(c, { user: '1002', toUser: '9999', authorization });
    return [first.status, a?.status ?? null, b?.status ?? null];
  };
  const right = await sequence(await phone('127.0.10.21'), 'secret');
  const wrong = await sequence(await phone('127.0.10.22'), 'not-it');
  t.same(wrong, [401, 403, 403], 'a wrong password: 401, 403, and 403 again');
  t.same(right, wrong, 'the right password of 1002 against To 9999 answers exactly the same');

  // Past a lockout: 1002 suspended from this address cannot be guessed through another AOR.
  const guesser = await phone('127.0.10.23');
  for (let i = 0; i < 3; i++) {
    const first = await guesser.register({ user: '1002' });
    const r = await send(guesser, { user: '1002', authorization: answerChallenge(first, '1002', `guess-${i}`, 'sip:127.0.0.1') });
    t.equal(r?.status, 403, `wrong guess ${i + 1} for 1002`);
  }
  await until('the pair lockout of 1002', () => lockouts().find((l) => l.key === 'pair:1002@127.0.10.23'));
  const viaOther = await guesser.register({ user: '1002', toUser: '9999' });
  t.equal(viaOther.status, 401, 'To 9999 from there is challenged (that pair is not suspended)');
  const bypass = await send(guesser, { user: '1002', toUser: '9999', authorization: answerChallenge(viaOther, '1002', 'secret', 'sip:127.0.0.1') });
  t.equal(bypass, null, 'the right password of the suspended 1002, sent with To 9999, is dropped like 1002 itself');

  // Counted against the AOR user too: three mismatched answers suspend To 9998 from there as well.
  const mixer = await phone('127.0.10.24');
  for (let i = 0; i < 3; i++) {
    const first = await mixer.register({ user: '1001', toUser: '9998' });
    const r = await send(mixer, { user: '1001', toUser: '9998', authorization: answerChallenge(first, '1001', `guess-${i}`, 'sip:127.0.0.1') });
    t.equal(r?.status, 403, `mismatched guess ${i + 1}`);
  }
  const keys = (await until('both pair lockouts', () => {
    const k = lockouts().map((l) => l.key).filter((x) => x.endsWith('@127.0.10.24'));
    return k.length >= 2 ? k : null;
  })).sort();
  t.same(keys, ['pair:1001@127.0.10.24', 'pair:9998@127.0.10.24'], 'the digest username and the To user are both suspended from there');

  const rows = [...events('9999'), ...events('9998')].filter((e) => e.type !== 'locked_out');
  t.ok(rows.length > 0 && rows.every((e) => e.type === 'auth_failed'), 'every mismatch is an auth_failed event');
  t.ok(rows.some((e) => /user 1002 does not own AOR 9999/.test(e.detail)), 'whose detail names the rule');
  t.notOk(rows.some((e) => /authenticated as/.test(e.detail)), 'and never says the password was right');
});

t.test('2. a nonce works only from the address it was issued to: spoofed failures never suspend the phone there', async (t) => {
  const attacker = await phone('127.0.10.31');
  const challenge = await attacker.register({ user: '1001' });
  t.equal(challenge.status, 401);
  // One-way forged packets "from" the phone's address (on loopback the forger can bind it; the answers
  // it happens to see are what the real phone would get).
  const forger = await phone('127.0.10.32');
  const answers: (number | null)[] = [];
  for (let nc = 1; nc <= 4; nc++) {
    const r = await send(forger, { user: '1001', authorization: answerChallenge(challenge, '1001', `guess-${nc}`, 'sip:127.0.0.1', nc) });
    answers.push(r?.status ?? null);
  }
  t.same(answers, [401, 401, 401, 401], 'a wrong answer to a nonce issued to another address gets a fresh challenge');
  const right = await send(forger, { user: '1001', authorization: answerChallenge(challenge, '1001', 'secret', 'sip:127.0.0.1', 9) });
  t.equal(right?.status, 401, 'even a right answer to a foreign nonce is challenged again');
  t.same(lockouts().filter((l) => l.address === '127.0.10.32'), [], 'nothing suspended at the phone\'s address');
  t.notOk(events('1001').some((e) => e.type === 'auth_failed' && e.source.startsWith('127.0.10.32:')), 'and no failure recorded for it');

  const owner = await phone('127.0.10.32');
  const { final } = await owner.registerWithAuth({ user: '1001', password: 'secret', expires: 120 });
  t.equal(final.status, 200, 'the phone at that address registers');

  // The nonce still works where it was issued: the attacker's own wrong answers count there.
  const own = await send(attacker, { user: '1001', authorization: answerChallenge(challenge, '1001', 'wrong', 'sip:127.0.0.1', 1) });
  t.equal(own?.status, 403, 'from its own address a wrong answer is a failure as before');
});

t.test('7. allow, ip modes and holds answer like unknown numbers: 401 first, 403 after the digest', async (t) => {
  const held = await phone('127.0.10.40');
  t.equal((await held.registerWithAuth({ user: '2005', password: 'secret', expires: 120 })).final.status, 200);
  const hold = svc.cli(['unregister', '2005', '--hold', '600']);
  t.equal(hold.status, 0, hold.stderr);

  const prober = await phone('127.0.10.41');
  const probe = async (number: string, password = 'not-it'): Promise<{ first: Response; final: Response }> =>
    prober.registerWithAuth({ user: number, expires: 120, password });
  const unknown = await probe('9876');
  t.same([unknown.first.status, unknown.final.status], [401, 403]);
  const cases: [string, string][] = [
    ['1003', 'a known number'],
    ['2001', 'password with allow, source outside'],
    ['2002', 'auth_mode ip, source outside'],
    ['2003', 'auth_mode ip_port, source outside'],
    ['2004', 'auth_mode ip_password, source outside'],
    ['2005', 'held by an operator'],
  ];
  for (const [number, what] of cases) {
    const r = await probe(number);
    t.same([r.first.status, r.final.status], [401, 403], `${number} (${what}): 401 then 403`);
    t.equal(mask(r.first, number), mask(unknown.first, '9876'), `${number}: the 401 is the unknown number's`);
    t.equal(mask(r.final, number), mask(unknown.final, '9876'), `${number}: the 403 is the unknown number's`);
  }

  // With the right password from outside `allow`: refused after the digest, and no nonce-count oracle.
  const insider = await phone('127.0.10.42');
  const first = await insider.register({ user: '2001' });
  t.equal(first.status, 401);
  const authorization = answerChallenge(first, '2001', 'secret', 'sip:127.0.0.1');
  const twice = [await send(insider, { user: '2001', authorization }), await send(insider, { user: '2001', authorization })];
  t.same(twice.map((r) => r?.status ?? null), [403, 403], 'the right password outside allow: 403, and 403 again');

  // An ip-mode phone at its allowed source still registers without a challenge.
  const ipPhone = await phone('127.0.10.50');
  const direct = await ipPhone.register({ user: '2002', expires: 120 });
  t.equal(direct.status, 200, 'auth_mode ip from its allowed source: 200 at once');

  t.match(events('2001').filter((e) => e.type === 'rejected').map((e) => e.detail).join('\n'), /not in allow/, 'the operator still sees the rule');
  t.match(events('2002').filter((e) => e.type !== 'registered').map((e) => e.detail).join('\n'), /not in allow \(auth_mode ip\)/);
  t.match(events('2005').filter((e) => e.type !== 'registered' && e.type !== 'force_unregistered').map((e) => e.detail).join('\n'), /held/);
});

t.test('the digest uri must be the Request-URI', async (t) => {
  const c = await phone('127.0.10.61');
  const first = await c.register({ user: '1003' });
  const elsewhere = await send(c, { user: '1003', authorization: answerChallenge(first, '1003', 'secret', 'sip:elsewhere.example') });
  t.equal(elsewhere?.status, 403, 'a right response computed over another uri is refused like a wrong one');
  const second = await c.register({ user: '1003' });
  const ok = await send(c, { user: '1003', expires: 120, authorization: answerChallenge(second, '1003', 'secret', 'sip:127.0.0.1') });
  t.equal(ok?.status, 200, 'the same credentials over the Request-URI register');
  t.ok(events('1003').some((e) => e.type === 'auth_failed' && /uri/.test(e.detail)), 'the event names the uri');
});

t.test('8. an Authorization captured before a restart is stale after it', async (t) => {
  const c = await phone('127.0.10.71');
  const first = await c.register({ user: '1004' });
  const { text, branch } = c.registerText({ user: '1004', expires: 120, authorization: answerChallenge(first, '1004', 'secret', 'sip:127.0.0.1') });
  t.equal((await c.request(text, branch)).status, 200, 'accepted once');
  await svc.kill('SIGTERM');
  await svc.restart();
  const replay = await c.request(text, branch);
  t.equal(replay.status, 401, 'the same datagram after a restart is challenged');
  t.match(replay.header('www-authenticate'), /stale=true/, 'as stale, so a real phone re-authenticates quietly');
});
