// Issue 5 through `sipreg run`: trunks to a real Kamailio (apt) on loopback, started with
// test/trunk/kamailio.ts. What the upstream's location table and `sipreg trunks` show: registration,
// un-registration on a reload that disables the trunk and on SIGTERM (SEND_UNREGISTER On; Off keeps
// it), and a wrong password in retry_wait with a "bad credentials" reason.
import t, { type Test } from 'tap';
import { freeUdpPort } from '../helpers/sipreg.js';
import { Kamailio } from '../trunk/kamailio.js';
import { startService, type Service } from './service.js';
import { sleep, until as waitUntil } from '../helpers/wait.js';

const kamPort = await freeUdpPort();
const kam = new Kamailio({ port: kamPort, password: 'secret', minExpiresS: 10, maxExpiresS: 3600, algorithm: 'MD5' });

const body = (o: { enabled: boolean; unregister: 'On' | 'Off' }): string => [
  'params:',
  `  SS_SIP_USER_AGENT_SEND_UNREGISTER: ${o.unregister}`,
  '  SS_SIP_USER_AGENT_RETRY_DELAY: 30',
  'trunks:',
  `  - { name: carrier-a, registrar: "127.0.0.1", port: ${kamPort}, username: "4420", password: "secret", expire: 60, enabled: ${o.enabled} }`,
  `  - { name: carrier-bad, registrar: "127.0.0.1", port: ${kamPort}, username: "4421", password: "not-the-password", expire: 60 }`,
  '',
].join('\n');

interface TrunkRow { name: string; state: string; last_status: number | null; last_reason: string | null; contact: string | null; enabled: boolean; granted_expires_s: number | null }

let svc: Service;
t.before(async () => {
  await kam.start();
  svc = await startService(body({ enabled: true, unregister: 'On' }));
});
t.teardown(async () => {
  await svc.kill('SIGTERM');
  await kam.dispose();
});

const trunks = (): TrunkRow[] => JSON.parse(svc.cli(['trunks', '--json']).stdout) as TrunkRow[];
const trunk = (name: string): TrunkRow | undefined => trunks().find((x) => x.name === name);

function until(what: string, f: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<true> {
  return waitUntil(what, f, timeoutMs, {
    everyMs: 200, detail: () => `trunks: ${JSON.stringify(trunks())}\nkamailio:\n${kam.requests().slice(-10).join('\n')}`,
  });
}

async function ourContacts(): Promise<string[]> {
  return (await kam.contacts('4420')).map((c) => c.address);
}

async function registered(t: Test): Promise<void> {
  await until('carrier-a registered', () => trunk('carrier-a')?.state === 'registered');
  const row = trunk('carrier-a')!;
  t.equal((await ourContacts()).filter((a) => a === row.contact).length, 1, `Kamailio's location holds our contact ${row.contact}`);
}

t.test('registers with digest: Kamailio has our contact, sipreg trunks says registered', async (t) => {
  await registered(t);
  const row = trunk('carrier-a')!;
  t.match(row.contact, new RegExp(`^sip:4420@127\\.0\\.0\\.1:${svc.port}\\b`), 'the contact is the service socket');
  t.equal(row.last_status, 200);
  t.ok(row.granted_expires_s !== null && row.granted_expires_s > 0 && row.granted_expires_s <= 60, `granted ${row.granted_expires_s} s`);
  t.match(svc.cli(['trunks']).stdout, /carrier-a .*registered/);
});

t.test('a wrong password: retry_wait with a bad-credentials reason', async (t) => {
  await until('carrier-bad in retry_wait', () => trunk('carrier-bad')?.state === 'retry_wait');
  const row = trunk('carrier-bad')!;
  t.match(row.last_reason, /bad credentials/, `last_reason: ${row.last_reason}`);
  t.equal(row.last_status, 401);
  t.same(await kam.contacts('4421'), [], 'nothing registered upstream');
  t.match(svc.cli(['trunks']).stdout, /carrier-bad .*retry_wait/);
  t.match(svc.cli(['trunks']).stdout, /bad credentials/, 'the plain table says why');
});

t.test('a reload that disables the trunk un-registers it; enabling registers again', async (t) => {
  await svc.reload(body({ enabled: false, unregister: 'On' }));
  await until('the contact gone from Kamailio', async () => (await ourContacts()).length === 0);
  t.pass('Kamailio no longer has our contact');
  await until('carrier-a disabled', () => trunk('carrier-a')?.state === 'disabled');
  t.equal(trunk('carrier-bad')?.state, 'retry_wait', 'the other trunk is left alone');
  await svc.reload(body({ enabled: true, unregister: 'On' }));
  await registered(t);
});

t.test('SIGTERM with SEND_UNREGISTER On removes the contact before the process exits; Off keeps it', async (t) => {
  t.equal((await ourContacts()).length, 1);
  const unregisters = (): number => kam.requests().filter((l) => l.includes('REQ REGISTER') && l.includes('4420') && /expires=0\b/.test(l)).length;
  const sentBefore = unregisters();
  await svc.kill('SIGTERM');
  t.equal(svc.child.exitCode, 0, 'exit 0');
  t.same(await ourContacts(), [], 'gone from Kamailio as soon as the service has exited');
  t.ok(unregisters() > sentBefore, 'Kamailio saw our REGISTER with Expires: 0 at shutdown');

  await svc.restart();
  await registered(t);
  await svc.reload(body({ enabled: true, unregister: 'Off' }));
  t.equal(trunk('carrier-a')?.state, 'registered', 'an unchanged trunk keeps its registration over a reload');
  const before = await ourContacts();
  await svc.kill('SIGTERM');
  t.equal(svc.child.exitCode, 0);
  t.same(await ourContacts(), before, 'SEND_UNREGISTER Off: the contact stays upstream');
});
