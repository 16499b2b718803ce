// Issue 13 item 9 and the lockout event cap, through `sipreg run` on loopback addresses: guessing one
// number from many addresses, each below SS_ENDPOINT_REGISTER_RETRY, meets SS_REGISTER_NUMBER_FAILURES
// (its default here: the config names no new parameter), after which answers from sources the number
// is not registered from are refused, while the phone keeps refreshing from its own and everything is
// free again once the suspension lapses; and a burst of suspensions writes every lockout but only a
// capped number of locked_out events.
import t from 'tap';
import { paramSpecByName } from '../../src/config/index.js';
import { registrarLimits } from '../../src/limits.js';
import { SipClient, answerChallenge, type Response } from '../registrar/sipclient.js';
import { startService, type Service } from './service.js';
import { sleep, until } from '../helpers/wait.js';

const SUSPEND_S = 15;
const spec = paramSpecByName.get('SS_REGISTER_NUMBER_FAILURES');
const budget = spec !== undefined && spec.kind === 'int' ? spec.default : 30; // the parameter is new with the fix
const body = (retry: number, scanner: number): string => 'params:\n' +
  '  SS_ENDPOINT_EXPIRE_JITTER: 0\n' +
  `  SS_ENDPOINT_REGISTER_RETRY: ${retry}\n` +
  `  SS_ENDPOINT_REGISTER_SUSPEND: ${SUSPEND_S}\n` +
  `  SS_REGISTER_SCANNER_NUMBERS: ${scanner}\n` +
  'accounts:\n  - { number: "1001", password: "secret" }\n';


let svc: Service;
const clients: SipClient[] = [];
async function phone(host: string): Promise<SipClient> {
  const c = await SipClient.open(svc.port, host);
  clients.push(c);
  return c;
}
t.before(async () => { svc = await startService(body(6, 5)); });
t.teardown(async () => {
  for (const c of clients) c.close();
  await svc.kill('SIGTERM');
});

interface Lockout { key: string; kind: string; number: string; address: string; reason: string; until: string }
const lockouts = (): Lockout[] => JSON.parse(svc.cli(['lockouts', '--json']).stdout) as Lockout[];
interface EventRow { type: string; number: string; detail: string }
const events = (type: string): EventRow[] => JSON.parse(svc.cli(['events', '--json', '--type', type]).stdout) as EventRow[];

async function attempt(c: SipClient, password: string): Promise<[number, number]> {
  const { first, final } = await c.registerWithAuth({ user: '1001', password, expires: 120 });
  return [first.status, final.status];
}

t.test('guessing one number from many addresses: refused from new sources, never from the phone\'s own', async (t) => {
  t.ok(budget >= 3 && budget <= 100, `SS_REGISTER_NUMBER_FAILURES default ${budget}`);
  const home = await phone('127.0.20.1');
  t.same(await attempt(home, 'secret'), [401, 200], 'the phone registers from its address');

  const seen = new Map<string, number>();
  for (let i = 1; i <= budget; i++) {
    const [, final] = await attempt(await phone(`127.0.21.${i}`), `guess-${i}`);
    seen.set(String(final), (seen.get(String(final)) ?? 0) + 1);
  }
  t.same([...seen], [['403', budget]], `${budget} wrong guesses from ${budget} addresses, one each: 403 each`);
  // On the wire first (the suspension lasts SS_ENDPOINT_REGISTER_SUSPEND), then what the operator sees.
  t.same(await attempt(await phone('127.0.22.1'), 'secret'), [401, 403], 'the right password from a new address: refused like a wrong one');
  // The phone, from another port of its address (its NAT moved it), refreshes as usual.
  t.same(await attempt(await phone('127.0.20.1'), 'secret'), [401, 200], 'the phone keeps registering from its address');

  const all = lockouts();
  t.same(all.filter((l) => l.kind === 'pair' || l.kind === 'address'), [], 'no address met its own limit');
  const lock = all.find((l) => l.number === '1001' && l.kind === 'number');
  t.match(lock, { key: 'guess:1001', reason: /SS_REGISTER_NUMBER_FAILURES/ }, 'the number is suspended, and sipreg lockouts says why');
  t.ok(events('locked_out').some((e) => e.number === '1001' && /SS_REGISTER_NUMBER_FAILURES/.test(e.detail)), 'a locked_out event too');

  const wait = lock === undefined ? SUSPEND_S * 1000 : Date.parse(lock.until) - Date.now() + 300;
  if (wait > 0) await sleep(wait);
  t.same(await attempt(await phone('127.0.22.2'), 'secret'), [401, 200], 'once SS_ENDPOINT_REGISTER_SUSPEND has passed, a new address registers');
});

t.test('a burst of suspensions: every lockout written, locked_out events capped per second', async (t) => {
  await svc.reload(body(1, 0));
  const count = 60;
  const cap = registrarLimits.lockoutEventsPerSecondMax;
  const before = events('locked_out').length;
  const guessers = await Promise.all(Array.from({ length: count }, (_, i) => phone(`127.0.30.${i + 1}`)));
  // Challenges first, then every wrong answer at once: the suspensions land within a second or two.
  const challenges: Response[] = await Promise.all(guessers.map((c, i) => c.register({ user: `3${String(i).padStart(3, '0')}` })));
  const finals = await Promise.all(guessers.map((c, i) => c.register({
    user: `3${String(i).padStart(3, '0')}`, authorization: answerChallenge(challenges[i]!, `3${String(i).padStart(3, '0')}`, 'wrong', 'sip:127.0.0.1'),
  })));
  t.ok(finals.every((r) => r.status === 403), 'each answered 403');
  const pairs = await until('every pair lockout', () => {
    const l = lockouts().filter((x) => x.kind === 'pair' && x.address.startsWith('127.0.30.'));
    return l.length === count ? l : null;
  });
  t.equal(pairs.length, count, `${count} suspensions in the store`);
  await sleep(1100);
  // One more, a second later: the service then logs how many the cap left out.
  const late = await phone('127.0.31.1');
  const ch = await late.register({ user: '3999' });
  await late.register({ user: '3999', authorization: answerChallenge(ch, '3999', 'wrong', 'sip:127.0.0.1') });
  await until('the late lockout', () => lockouts().find((x) => x.key === 'pair:3999@127.0.31.1'));
  const written = events('locked_out').length - before;
  t.ok(written <= 2 * cap + 1, `locked_out events written: ${written}, at most ${cap} a second`);
  t.ok(written < count, 'fewer than the suspensions');
  const log = await until('the line counting what the cap left out', () => {
    const text = svc.log.join('');
    return /more suspensions in one second than are recorded/.test(text) ? text : null;
  });
  const warned = log.split('\n').filter((l) => /"msg":"3\d{3} from 127\.0\.30\.\d+ suspended/.test(l)).length;
  t.ok(warned <= 2 * cap, `warn lines for them: ${warned}`);
  t.match(log, /"unwritten":\d+,"perSecondMax":20/, 'and one line counts the rest');
});
