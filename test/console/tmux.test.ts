/**
 * Drives the real `sipreg console` in an 80x24 tmux window (send-keys, capture-pane), as an operator
 * at a serial or SSH terminal would. The CLI is the one test/helpers/sipreg.ts picks
 * (dist/sipreg, or the sources bundled with esbuild). Registrations come from a Seeder: the store seeder
 * (many shapes: NAT, IPv6, expired, a service that is down) and sippSeeder, phones registered with SIPp
 * through a running `sipreg run` (the console acting on the live service).
 */
import t, { type Test } from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bindingsOf, openStore, lockoutKeyNumber } from '../../src/store/index.js';
import { makeEnv, sippAccountsYaml, sippSeeder, storeSeeder, type Seeder } from './fixtures/seed.js';
import { TmuxConsole } from './fixtures/tmux.js';
import { startService } from '../e2e/service.js';
import { SipClient } from '../registrar/sipclient.js';

const term = new TmuxConsole('test');
t.teardown(() => term.close());
const tmux = (...args: string[]): string => term.tmux(...args);
const waitFor = (what: RegExp, timeoutMs?: number): Promise<string> => term.waitFor(what, timeoutMs);
const type = (text: string): void => term.type(text);
const startConsole = (configFile: string, dataDir: string): void => term.start(configFile, dataDir);

const seeder: Seeder = storeSeeder;
const env = makeEnv('tmux');
const info = await seeder(env.dataDir, Date.now());

function fits(t: Test, s: string): void {
  t.same(s.split('\n').filter((l) => l.length > 80), [], 'no line wider than 80 columns');
}

t.test('the console over tmux: list, filter, force unregister, export, analysis, lockouts', async (t) => {
  startConsole(env.configFile, env.dataDir);
  let s = await waitFor(/Choice:/);
  fits(t, s);
  t.match(s, /service DOWN \| reg 6 \(NAT 1\)/, 'status line: service down, live bindings');

  type('1');
  s = await waitFor(/== Registrations ==/);
  fits(t, s);
  for (const n of info.numbers) t.match(s, new RegExp(`\\n${n.number} `), `lists ${n.number}`);

  type('2');
  await waitFor(/Source IP or range/);
  type('198.51.100.0/24');
  s = await waitFor(/filter: ip 198\.51\.100\.0\/24/);
  t.match(s, /2 bindings/);
  t.match(s, /\n1003 /);
  t.notMatch(s, /\n1001 /, 'the filter narrows the list');
  type('5');
  await waitFor(/Filters cleared/);
  type('0');
  await waitFor(/== sipreg console ==/);

  type('2');
  await waitFor(/Number \(0 = cancel\)/);
  type('1001');
  await waitFor(/Contact # to remove/);
  type('');
  await waitFor(/Hold for how many seconds/);
  type('120');
  await waitFor(/Refuse 1 the number/);
  type('1');
  s = await waitFor(/Type 1 to confirm/);
  t.match(s, /Remove all 1 binding\(s\) of 1001, then refuse the number for 120s\?/);
  type('1');
  s = await waitFor(/Removed 1 binding\(s\) of 1001; held 1001 120s\./);
  fits(t, s);
  t.match(s, /reg 5 \(NAT 1\)/, 'the status line follows');

  const csv = join(env.dir, 'export.csv');
  type('4');
  await waitFor(/File \(Enter = default/);
  type(csv);
  s = await waitFor(/Wrote 6 row\(s\) to/);
  t.match(s, /export\.csv/);
  type('');
  await waitFor(/== sipreg console ==/);
  const rows = readFileSync(csv, 'utf8').trimEnd().split('\n');
  t.equal(rows[0]!.split(',').slice(0, 3).join(','), 'number,aor,contact');
  t.same(rows.slice(1).map((r) => r.split(',')[0]), ['1002', '1003', '1004', '1005', '2001', '2001'], 'every binding but the removed one');

  type('5');
  await waitFor(/== Analysis ==/);
  type('5');
  s = await waitFor(/== Device types/);
  fits(t, s);
  for (const d of new Set(info.numbers.filter((n) => n.number !== '1001' && n.number !== '1005').map((n) => n.deviceType))) {
    t.match(s, new RegExp(`${d} +\\d+ #+`), `device type ${d}`);
  }
  type('0');
  type('0');
  await waitFor(/== sipreg console ==/);

  type('6');
  s = await waitFor(/== Lockouts ==/);
  fits(t, s);
  t.match(s, /2 active suspension\(s\)/);
  t.match(s, /number +1001 /);
  type('1');
  s = await waitFor(/# to lift/);
  const row = /\n *(\d+) +number +1001 /.exec(s)!;
  type(row[1]!);
  s = await waitFor(/Lifted: 1001 may register again\./);
  t.match(s, /1 active suspension\(s\)/);
  type('0');
  await waitFor(/== sipreg console ==/);
  type('q');
  s = await waitFor(/EXIT=\d+/);
  t.match(s, /EXIT=0/);
  tmux('kill-session', '-t', 'c');

  const store = openStore(env.dataDir);
  t.same(bindingsOf(store, '1001'), [], 'the binding is gone from the store');
  t.equal(store.lockouts.get(lockoutKeyNumber('1001')), undefined, 'the hold was lifted');
  await store.close();
});

t.test('with the service running, phones registered by SIPp: list, filter, force unregister reaches the service, export, device types, lockout lifted', async (t) => {
  const svc = await startService('params:\n  SS_ENDPOINT_EXPIRE_JITTER: 0\n  SS_ENDPOINT_REGISTER_RETRY: 3\n' + sippAccountsYaml());
  const clients: SipClient[] = [];
  t.teardown(async () => {
    for (const c of clients) c.close();
    await svc.kill('SIGTERM');
  });
  const live = await sippSeeder(svc)(svc.dataDir, Date.now());
  startConsole(svc.configFile, svc.dataDir);
  let s = await waitFor(/Choice:/);
  fits(t, s);
  t.match(s, /service up .*\| reg 5 \(NAT 0\)/, 'status line: service up, the five SIPp phones');

  type('1');
  s = await waitFor(/== Registrations ==/);
  fits(t, s);
  for (const n of live.numbers) t.match(s, new RegExp(`\\n${n.number} `), `lists ${n.number}, registered by SIPp`);
  type('2');
  await waitFor(/Source IP or range/);
  type('127.0.0.3');
  s = await waitFor(/filter: ip 127\.0\.0\.3/);
  t.match(s, /2 bindings/);
  t.match(s, /\n1003 /);
  t.match(s, /\n1004 /);
  t.notMatch(s, /\n1001 /, 'the filter narrows the list');
  type('5');
  await waitFor(/Filters cleared/);
  type('0');
  await waitFor(/== sipreg console ==/);

  type('2');
  await waitFor(/Number \(0 = cancel\)/);
  type('1001');
  await waitFor(/Contact # to remove/);
  type('');
  await waitFor(/Hold for how many seconds/);
  type('');
  s = await waitFor(/Type 1 to confirm/);
  t.match(s, /Remove all 1 binding\(s\) of 1001\?/);
  type('1');
  s = await waitFor(/Removed 1 binding\(s\) of 1001\./);
  t.match(s, /reg 4 \(NAT 0\)/, 'the status line follows');
  // What the running service now answers a REGISTER query (no Contact) for 1001: no binding.
  const phone = await SipClient.open(svc.port, '127.0.0.2');
  clients.push(phone);
  const query = await phone.registerWithAuth({ user: '1001', password: 'secret', contacts: [], expires: null });
  t.equal(query.final.status, 200);
  t.equal(query.final.header('contact'), undefined, 'the running service has no contact for 1001');
  const other = await phone.registerWithAuth({ user: '1002', password: 'secret', contacts: [], expires: null });
  t.match(other.final.header('contact') ?? '', /sip:1002@127\.0\.0\.2:\d+/, '(and still has 1002)');

  const csv = join(svc.dir, 'export.csv');
  type('4');
  await waitFor(/File \(Enter = default/);
  type(csv);
  s = await waitFor(/Wrote 4 row\(s\) to/);
  type('');
  await waitFor(/== sipreg console ==/);
  const rows = readFileSync(csv, 'utf8').trimEnd().split('\n');
  t.same(rows.slice(1).map((r) => r.split(',')[0]), ['1002', '1003', '1004', '2001'], 'the CSV has the bindings left');
  t.ok(rows.slice(1).every((r) => r.includes('127.0.0.')), 'with their loopback sources');

  type('5');
  await waitFor(/== Analysis ==/);
  type('5');
  s = await waitFor(/== Device types/);
  fits(t, s);
  t.match(s, /Yealink SIP-T46S +2 #+/, 'two Yealink left (1002, 2001)');
  t.match(s, /Grandstream GXP2170 +1 #+/);
  t.match(s, /Linphone +1 #+/);
  type('0');
  type('0');
  await waitFor(/== sipreg console ==/);

  // A real suspension: three wrong passwords for 1003 from 127.0.0.5.
  const attacker = await SipClient.open(svc.port, '127.0.0.5');
  clients.push(attacker);
  for (let i = 0; i < 3; i++) await attacker.registerWithAuth({ user: '1003', password: `guess-${i}`, expires: 60 });
  const deadline = Date.now() + 5000;
  while (!/1003/.test(svc.cli(['lockouts']).stdout) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  type('6');
  s = await waitFor(/== Lockouts ==/);
  fits(t, s);
  t.match(s, /1 active suspension\(s\)/);
  t.match(s, /1003/);
  t.match(s, /127\.0\.0\.5/);
  type('1');
  s = await waitFor(/# to lift/);
  const row = /\n *(\d+) +\S+ +.*1003/.exec(s);
  t.ok(row, 'a numbered row for the suspension');
  type(row?.[1] ?? '1');
  s = await waitFor(/Lifted: .*1003.* may register again\./);
  t.match(s, /0 active suspension\(s\)/);
  const back = await attacker.registerWithAuth({ user: '1003', password: 'secret', expires: 60 });
  t.equal(back.final.status, 200, 'the service lets 1003 register from 127.0.0.5 again');
  type('0');
  await waitFor(/== sipreg console ==/);
  type('q');
  s = await waitFor(/EXIT=\d+/);
  t.match(s, /EXIT=0/);
  tmux('kill-session', '-t', 'c');
});

t.test('an empty store with no service: screens draw, EOF (Ctrl-D) exits 0', async (t) => {
  const empty = makeEnv('tmux-empty');
  // The console never creates a store (test/cli/lifecycle-ops.test.ts): make the empty one a first start would.
  await openStore(empty.dataDir).close();
  startConsole(empty.configFile, empty.dataDir);
  let s = await waitFor(/Choice:/);
  t.match(s, /service DOWN \| reg 0 \(NAT 0\)/);
  t.match(s, /Service never ran on this store/);
  for (const k of ['1', '0', '5', '1', '0', '0', '6', '0', '7', '0', '8', '0', '9', '0']) {
    type(k);
    s = await waitFor(/Choice: $/m);
    fits(t, s);
  }
  tmux('send-keys', '-t', 'c', 'C-d');
  s = await waitFor(/EXIT=\d+/);
  t.match(s, /EXIT=0/);
  tmux('kill-session', '-t', 'c');
});
