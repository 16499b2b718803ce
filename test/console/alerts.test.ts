/**
 * Issue 16, item 5: active alerts on the console's status line (tmux, 80x24), in `sipreg stats` and in
 * `stats --json` (`alert`, `alerts`), cleared when resolved. A trunk whose password a real Kamailio
 * (apt) refuses three times raises the credentials alert (the trial saw "No alerts."); fixing the
 * password by reload clears it. Wrong passwords for a dozen numbers make a lockout storm; lifting the
 * suspensions clears it.
 */
import t from 'tap';
import { freeUdpPort } from '../helpers/sipreg.js';
import { Kamailio } from '../trunk/kamailio.js';
import { startService, type Service } from '../e2e/service.js';
import { SipClient } from '../registrar/sipclient.js';
import { TmuxConsole } from './fixtures/tmux.js';
import { sleep, until as waitUntil } from '../helpers/wait.js';

const kamPort = await freeUdpPort();
const kam = new Kamailio({ port: kamPort, password: 'secret', minExpiresS: 10, maxExpiresS: 3600, algorithm: 'MD5' });
const NUMBERS = Array.from({ length: 12 }, (_, i) => String(2001 + i));

const body = (password: string): string => [
  'params:',
  '  SS_SIP_USER_AGENT_RETRY_DELAY: 600',
  '  SS_ENDPOINT_REGISTER_RETRY: 1',
  '  SS_REGISTER_SCANNER_NUMBERS: 0',
  'accounts:',
  ...NUMBERS.map((n) => `  - { number: "${n}", password: "right-${n}" }`),
  'trunks:',
  `  - { name: carrier-x, registrar: "127.0.0.1", port: ${kamPort}, username: "4430", password: "${password}", expire: 60 }`,
  '',
].join('\n');

interface StatsJson {
  alert: { kind: string; detail: string } | null;
  alerts: { kind: string; subject: string; since: string; detail: string }[];
}
interface TrunkRow { name: string; state: string; failure_count: number }

const term = new TmuxConsole('alerts');
let svc: Service;
t.before(async () => {
  await kam.start();
  svc = await startService(body('not-the-password'));
});
t.teardown(async () => {
  term.close();
  await svc.kill('SIGTERM');
  await kam.dispose();
});

const stats = (): StatsJson => JSON.parse(svc.cli(['stats', '--json']).stdout) as StatsJson;
const trunk = (): TrunkRow => (JSON.parse(svc.cli(['trunks', '--json']).stdout) as TrunkRow[])[0]!;

/** Polls every 200 ms (each look runs the CLI), 20 s unless told. */
function until(what: string, f: () => boolean, timeoutMs = 20_000): Promise<true> {
  return waitUntil(what, f, timeoutMs, { everyMs: 200 });
}

async function refreshUntil(what: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let s = term.screen();
  while (!what.test(s)) {
    if (Date.now() > deadline) throw new Error(`never showed ${what}; last screen:\n${s}`);
    term.type('');
    await sleep(300);
    s = term.screen();
  }
  return s;
}

t.test('three credential failures of a trunk: an alert on the status line and in stats; a fixed password clears it', async (t) => {
  term.start(svc.configFile, svc.dataDir);
  await term.waitFor(/Choice:/);
  await until('the first attempt failed', () => trunk().failure_count >= 1);
  let s = await refreshUntil(/No alerts\./);
  t.pass('one failure is not an alert yet');
  // The operator retries from the Trunks screen, as the trial did: two more credential failures.
  for (const n of [2, 3]) {
    term.type('7');
    await term.waitFor(/== Trunks ==[\s\S]*Choice:/);
    term.type('1');
    await term.waitFor(/Trunk # or name/);
    term.type('carrier-x');
    await term.waitFor(/Asked the service to re-register carrier-x now\./);
    await until(`failure ${n}`, () => trunk().failure_count >= n);
    term.type('0');
    await term.waitFor(/== sipreg console ==/);
  }
  s = await refreshUntil(/ALERTS 1\n/);
  t.match(s, /\nALERT trunk carrier-x: credentials refused 3x in a row \(auth_user\/password\?\)\n/, 'the status line says which trunk and what to check');
  t.match(s, /Active alerts \(1\):\n  \d\d:\d\d trunk carrier-x: credentials refused 3x in a row/, 'the main menu lists the active alerts');
  t.ok(s.split('\n').every((l) => l.length <= 80), 'fits 80 columns');

  const text = svc.cli(['stats']).stdout;
  t.match(text, /\nAlerts \(1\):\n  \d\d:\d\d trunk carrier-x: credentials refused 3x in a row/, 'sipreg stats lists it');
  t.notMatch(text, /No alerts\./);
  // Item 11: the history's trunk_alert says each thing once (the trial's read "trunk carrier-x: trunk carrier-x ...").
  const raised = JSON.parse(svc.cli(['events', '--type', 'trunk_alert', '--json']).stdout) as { number: string; detail: string }[];
  t.equal(raised.length, 1, 'one trunk_alert event');
  const detail = raised[0]?.detail ?? '';
  t.match(detail, /^trunk carrier-x: 3 credential failures in a row \(bad credentials: /, `trunk_alert: ${detail}`);
  t.equal(detail.split('carrier-x').length - 1, 1, 'names its trunk once');
  t.equal(detail.split('401 Unauthorized').length - 1, 1, 'gives the answer once');
  const j = stats();
  t.match(j.alert, { kind: 'trunk_credentials', detail: /carrier-x/ }, 'stats --json: alert');
  t.match(j.alerts, [{ kind: 'trunk_credentials', subject: 'carrier-x' }], 'stats --json: alerts');

  term.type('7');
  await term.waitFor(/== Trunks ==[\s\S]*Choice:/);
  term.type('2');
  await term.waitFor(/Trunk # or name/);
  term.type('1');
  s = await term.waitFor(/== Trunk: carrier-x ==[\s\S]*Choice:/);
  t.match(s, /Last reason +bad credentials: 401 Unauthorized again after our credentials\s+for\s+user "4430"/, 'the details give the reason in full');
  t.match(s, /Check +the upstream refuses our credentials: compare auth_user "4430" and\s+the\s+password/, 'and what to check');
  t.notMatch(s, /not-the-password/, 'never the password');
  term.type('0');
  term.type('0');
  await term.waitFor(/== sipreg console ==/);

  await svc.reload(body('secret'));
  await until('registered with the right password', () => trunk().state === 'registered');
  s = await refreshUntil(/\nNo alerts\.\n/);
  t.notMatch(s, /ALERTS/, 'cleared on the status line');
  t.same(stats().alerts, [], 'and in stats --json');
  t.equal(stats().alert, null);
  t.match(svc.cli(['stats']).stdout, /\nAlerts \(0\):\n  No alerts\.\n/);
});

t.test('a lockout storm: a dozen suspensions within minutes is an alert until they are lifted', async (t) => {
  const guesser = await SipClient.open(svc.port, '127.0.0.5');
  t.teardown(() => guesser.close());
  for (const n of NUMBERS) await guesser.registerWithAuth({ user: n, password: 'guess', expires: 60 });
  await until('twelve suspensions', () => (JSON.parse(svc.cli(['lockouts', '--json']).stdout) as unknown[]).length === NUMBERS.length);
  let s = await refreshUntil(/ALERTS 1\n/);
  t.match(s, /\nALERT lockout storm: 12 suspensions in 10 min from 1 address /);
  t.match(stats().alerts, [{ kind: 'lockout_storm' }]);
  t.match(svc.cli(['lockouts']).stdout, /pair +2001 from 127\.0\.0\.5 .* wrong password x1\n/, 'the lockouts table says why in words');

  t.equal(svc.cli(['unlock', '127.0.0.5']).status, 0);
  s = await refreshUntil(/\nNo alerts\.\n/);
  t.same(stats().alerts, [], 'cleared once lifted');
  term.type('q');
  s = await term.waitFor(/EXIT=\d+/);
  t.match(s, /EXIT=0/);
  term.killSession();
});
