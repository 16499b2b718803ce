// Run by protection-ipv6.test.ts inside a network namespace whose lo has the addresses named there.
// Through `sipreg run`: requests from several addresses of one IPv6 /64 share one token bucket, their
// failures one pair count and one lockout (shown and lifted as the /64); the next /64 is apart.
import t from 'tap';
import { SipClient, answerChallenge, type Response } from '../registrar/sipclient.js';
import { startService, type Service } from './service.js';

const SERVICE = '2001:db8:9::1';
const BURST = 10;
const body = 'params:\n' +
  '  SS_ENDPOINT_EXPIRE_JITTER: 0\n' +
  '  SS_ENDPOINT_REGISTER_RETRY: 3\n' +
  '  SS_ENDPOINT_REGISTER_SUSPEND: 600\n' +
  '  SS_REGISTER_SCANNER_NUMBERS: 0\n' +
  '  SS_REGISTER_RATE_PER_IP: 1\n' +
  `  SS_REGISTER_BURST_PER_IP: ${BURST}\n` +
  'accounts:\n  - { number: "1001", password: "secret" }\n  - { number: "1002", password: "secret" }\n';

let svc: Service;
const clients: SipClient[] = [];
async function phone(host: string): Promise<SipClient> {
  const c = await SipClient.open(svc.port, host, SERVICE);
  clients.push(c);
  return c;
}
t.before(async () => { svc = await startService(body, { listen: `[${SERVICE}]` }); });
t.teardown(async () => {
  for (const c of clients) c.close();
  await svc.kill('SIGTERM');
});

const domain = `[${SERVICE}]`;
/** IPv6 literals in Via and Contact go in brackets (RFC 3261 §25.1 hostport). */
const v6 = (c: SipClient, user: string) => ({ domain, viaHost: `[${c.host}]`, contacts: [`<sip:${user}@[${c.host}]:${c.port}>`] });
async function send(c: SipClient, o: Parameters<SipClient['register']>[0]): Promise<Response | null> {
  try {
    return await c.register({ ...v6(c, o.user), ...o }, 1500);
  } catch {
    return null;
  }
}
interface Lockout { key: string; kind: string; number: string; address: string }
const lockouts = (): Lockout[] => JSON.parse(svc.cli(['lockouts', '--json']).stdout) as Lockout[];

t.test('one /64, one token bucket', async (t) => {
  const hosts = ['a', 'b', 'c', 'd', 'e'].map((h) => `2001:db8:1:2::${h}`);
  const cs = await Promise.all(hosts.map(phone));
  const answered: (number | null)[] = [];
  for (let i = 0; i < BURST; i++) answered.push((await send(cs[i % cs.length]!, { user: '1001' }))?.status ?? null);
  t.same(answered, Array(BURST).fill(401), `${BURST} requests from five addresses of the /64 use up its burst`);
  t.equal(await send(await phone('2001:db8:1:2::f'), { user: '1001' }), null, 'a sixth address of the same /64 is rate limited (dropped)');
  t.equal((await send(await phone('2001:db8:1:3::a'), { user: '1001' }))?.status, 401, 'the neighbouring /64 has its own bucket');
});

t.test('one /64, one lockout: failures from several of its addresses add up', async (t) => {
  const hosts = ['a', 'b', 'c'].map((h) => `2001:db8:1:4::${h}`);
  for (const [i, host] of hosts.entries()) {
    const c = await phone(host);
    const first = await send(c, { user: '1002' });
    const r = await send(c, { user: '1002', authorization: answerChallenge(first!, '1002', `guess-${i}`, `sip:${domain}`) });
    t.equal(r?.status, 403, `a wrong guess from ${host}`);
  }
  const d = await phone('2001:db8:1:4::d');
  t.equal(await send(d, { user: '1002' }), null, 'a fourth address of that /64 is dropped, even before a challenge');
  let lock = lockouts().find((l) => l.number === '1002');
  for (let i = 0; i < 50 && lock === undefined; i++) { // its commit may trail the answers under load
    await new Promise((r) => setTimeout(r, 100));
    lock = lockouts().find((l) => l.number === '1002');
  }
  t.match(lock, { key: 'pair:1002@2001:db8:1:4::/64', kind: 'pair', address: '2001:db8:1:4::/64' }, 'sipreg lockouts shows the /64');
  const un = svc.cli(['unlock', '2001:db8:1:4::/64']);
  t.equal(un.status, 0, un.stderr);
  const { final } = await d.registerWithAuth({ ...v6(d, '1002'), user: '1002', password: 'secret', expires: 120 });
  t.equal(final.status, 200, 'sipreg unlock of the /64 lifts it');
});
