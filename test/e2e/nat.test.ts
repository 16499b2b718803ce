// Issue 4 NAT through `sipreg run`: a phone at a loopback address whose Contact and Via say 192.168.x.x
// is detected as NAT, granted SS_ENDPOINT_NAT_EXPIRE, pinged with OPTIONS every SS_ENDPOINT_NAT_KEEPALIVE
// seconds on its source port (the test's socket answers them), marked unreachable once it stops
// answering for SS_ENDPOINT_NAT_KEEPALIVE_MISSED pings, and removed when SS_ENDPOINT_NAT_KEEPALIVE_REMOVE is On.
import t from 'tap';
import type { RemoteInfo } from 'node:dgram';
import { SipClient } from '../registrar/sipclient.js';
import { accountsYaml, startService, type Service } from './service.js';
import { until } from '../helpers/wait.js';

const KEEPALIVE_S = 5;
const MISSED = 2;
const NAT_EXPIRE_S = 120;
// Keepalive marks reach the store with the service's flush: every second here, so `sipreg show` sees them.
const body = (remove: 'On' | 'Off'): string => 'params:\n' +
  '  SS_ENDPOINT_EXPIRE_JITTER: 0\n' +
  '  SS_STORE_FLUSH_INTERVAL: 1\n' +
  `  SS_ENDPOINT_NAT_EXPIRE: ${NAT_EXPIRE_S}\n` +
  `  SS_ENDPOINT_NAT_KEEPALIVE: ${KEEPALIVE_S}\n` +
  `  SS_ENDPOINT_NAT_KEEPALIVE_MISSED: ${MISSED}\n` +
  `  SS_ENDPOINT_NAT_KEEPALIVE_REMOVE: ${remove}\n` +
  accountsYaml(['1001', '1002', '1003']);


interface Ping { atMs: number; from: string; text: string }

/** A phone "behind NAT": its socket records OPTIONS and answers them 200 while `answering`. */
class NatPhone {
  pings: Ping[] = [];
  answering = true;
  private constructor(readonly c: SipClient) {
    c.socket.on('message', (buf: Buffer, rinfo: RemoteInfo) => {
      const text = buf.toString('utf8');
      if (!text.startsWith('OPTIONS ')) return;
      this.pings.push({ atMs: Date.now(), from: `${rinfo.address}:${rinfo.port}`, text });
      if (!this.answering) return;
      const head = text.split('\r\n\r\n')[0]!.split('\r\n');
      const keep = head.filter((l) => /^(Via|From|To|Call-ID|CSeq|v|f|t|i):/i.test(l))
        .map((l) => (/^(To|t):/i.test(l) && !/;tag=/.test(l) ? `${l};tag=nat${Date.now()}` : l));
      c.socket.send(Buffer.from(['SIP/2.0 200 OK', ...keep, 'Content-Length: 0', '', ''].join('\r\n')), rinfo.port, rinfo.address);
    });
  }

  static async open(svc: Service, host: string): Promise<NatPhone> {
    return new NatPhone(await SipClient.open(svc.port, host));
  }

  register(number: string) {
    return this.c.registerWithAuth({
      user: number, password: 'secret', expires: 3600, viaHost: '192.168.1.50',
      contacts: [`<sip:${number}@192.168.1.50:5060>`],
    });
  }
}

interface Binding { number: string; contact: string; source: string; nat: boolean; expires_s: number; keepalive: { missed: number; unreachable: boolean; last_answered_at: string | null } | null }
const bindings = (svc: Service, number: string): Binding[] => {
  const r = svc.cli(['show', number, '--json']);
  return r.status === 0 ? JSON.parse(r.stdout) as Binding[] : [];
};
interface EventRow { type: string; number: string; detail: string }
const events = (svc: Service, number: string): EventRow[] => JSON.parse(svc.cli(['events', '--json', '--number', number]).stdout) as EventRow[];

let marking: Service;
let removing: Service;
const phones: NatPhone[] = [];
let silent: NatPhone;
t.before(async () => {
  [marking, removing] = await Promise.all([startService(body('Off')), startService(body('On'))]);
  // The phone of the REMOVE On service never answers; its test runs meanwhile and only checks at the end.
  silent = await NatPhone.open(removing, '127.0.0.8');
  silent.answering = false;
  phones.push(silent);
  const r = await silent.register('1003');
  if (r.final.status !== 200) throw new Error(`silent phone not registered: ${r.final.text}`);
});
t.teardown(async () => {
  for (const p of phones) p.c.close();
  await Promise.all([marking.kill('SIGTERM'), removing.kill('SIGTERM')]);
});

t.test('NAT detected, NAT expiry granted, OPTIONS at the interval on the source port, unreachable when silent', async (t) => {
  const phone = await NatPhone.open(marking, '127.0.0.7');
  phones.push(phone);
  const { final } = await phone.register('1001');
  t.equal(final.status, 200);
  t.match(final.header('contact') ?? '', new RegExp(`<sip:1001@192\\.168\\.1\\.50:5060>;expires=${NAT_EXPIRE_S}\\b`),
    'the 200 OK grants SS_ENDPOINT_NAT_EXPIRE, not the 3600 asked for');

  const list = JSON.parse(marking.cli(['list', '--json']).stdout) as Binding[];
  const b = list.find((x) => x.number === '1001')!;
  t.equal(b.nat, true, 'list --json: nat true');
  t.equal(b.source, `127.0.0.7:${phone.c.port}`, 'the source is where it is reached');
  t.equal(b.contact, 'sip:1001@192.168.1.50:5060', 'the Contact is kept as sent');

  // A phone on a public-looking Contact matching its source is not NAT: no pings for it.
  const plain = await SipClient.open(marking.port, '127.0.0.9');
  const plainPings: string[] = [];
  plain.socket.on('message', (buf: Buffer) => { if (buf.toString().startsWith('OPTIONS ')) plainPings.push(buf.toString()); });
  const p = await plain.registerWithAuth({ user: '1002', password: 'secret', expires: 3600 });
  t.equal(p.final.status, 200);
  t.equal((JSON.parse(marking.cli(['show', '1002', '--json']).stdout) as Binding[])[0]!.nat, false, 'a Contact equal to the source is not NAT');

  // The first ping comes when the wheel first passes the new binding (anywhere in the first round;
  // its place moves when the binding count changes, as with 1002 above); the steady gaps come after.
  await until('four answered keepalives', () => phone.pings.length >= 4, (4 + 2) * KEEPALIVE_S * 1000);
  const gaps = phone.pings.slice(2, 4).map((p, i) => (p.atMs - phone.pings[i + 1]!.atMs) / 1000);
  t.comment(`keepalive gaps ${gaps.map((g) => g.toFixed(2)).join(', ')} s`);
  for (const g of gaps) t.ok(g > KEEPALIVE_S * 0.6 && g < KEEPALIVE_S * 1.6, `a ping every ~${KEEPALIVE_S} s (${g.toFixed(2)} s)`);
  t.ok(phone.pings.every((p) => p.from === `127.0.0.1:${marking.port}`), 'sent from the socket that received the REGISTER');
  t.match(phone.pings[0]!.text, /^OPTIONS sip:/, 'a SIP OPTIONS');
  plain.close();
  t.same(plainPings, [], 'the non-NAT phone got no keepalive');

  const answered = bindings(marking, '1001')[0]!.keepalive;
  t.equal(answered?.unreachable, false);
  t.equal(answered?.missed, 0);

  phone.answering = false;
  const silentFrom = phone.pings.length;
  await until('unreachable', () => bindings(marking, '1001')[0]?.keepalive?.unreachable === true, (MISSED + 3) * KEEPALIVE_S * 1000);
  const pingsUnanswered = phone.pings.length - silentFrom;
  t.ok(pingsUnanswered >= MISSED && pingsUnanswered <= MISSED + 1, `marked unreachable after ${pingsUnanswered} unanswered pings (MISSED ${MISSED})`);
  const ka = bindings(marking, '1001')[0]!.keepalive!;
  t.equal(ka.missed, MISSED, 'show --json keepalive.missed');
  const unreachable = events(marking, '1001').filter((e) => e.type === 'unreachable');
  t.equal(unreachable.length, 1, 'one unreachable event');
  t.match(unreachable[0]!.detail, /SS_ENDPOINT_NAT_KEEPALIVE_MISSED/);
  t.equal(bindings(marking, '1001').length, 1, 'REMOVE Off: the binding stays, only marked');
});

t.test('SS_ENDPOINT_NAT_KEEPALIVE_REMOVE On: a phone that never answers is removed', async (t) => {
  await until('removed', () => bindings(removing, '1003').length === 0, (MISSED + 4) * KEEPALIVE_S * 1000);
  t.ok(silent.pings.length >= MISSED, `${silent.pings.length} pings went unanswered`);
  const types = events(removing, '1003').map((e) => e.type);
  t.ok(types.includes('unreachable'), 'unreachable event');
  t.ok(types.includes('unregistered'), 'unregistered event for the removal');
  const q = await silent.c.registerWithAuth({ user: '1003', password: 'secret', contacts: [], expires: null });
  t.equal(q.final.status, 200);
  t.equal(q.final.header('contact'), undefined, 'a REGISTER query to the service returns no contact');
});
