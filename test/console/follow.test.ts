/**
 * Issue 16, item 1: an open console (tmux, 80x24) and the admin commands follow the config the running
 * service has in force. The trial's case: a reload from elsewhere (the config file changed, SIGHUP to
 * the service) enables a trunk and adds an account; the console, left open, must then show the trunk
 * registered (Trunks screen, status line `trunks 1/1`), let it be re-registered, and its Why must know
 * the new account. A file changed again after the service loaded it is said on the status line.
 * The trunk registers to a real Kamailio (apt) on loopback.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { freeUdpPort } from '../helpers/sipreg.js';
import { Kamailio } from '../trunk/kamailio.js';
import { startService, type Service } from '../e2e/service.js';
import { TmuxConsole } from './fixtures/tmux.js';
import { sleep } from '../helpers/wait.js';

const kamPort = await freeUdpPort();
const kam = new Kamailio({ port: kamPort, password: 'secret', minExpiresS: 10, maxExpiresS: 3600, algorithm: 'MD5' });

const body = (o: { enabled: boolean; accounts: string[] }): string => [
  'accounts:',
  ...o.accounts.map((n) => `  - { number: "${n}", password: "pw-${n}", account: "Cust_${n}" }`),
  'trunks:',
  `  - { name: carrier-a, registrar: "127.0.0.1", port: ${kamPort}, username: "4420", password: "secret", expire: 60, enabled: ${o.enabled} }`,
  '',
].join('\n');

const term = new TmuxConsole('follow');
let svc: Service;
t.before(async () => {
  await kam.start();
  svc = await startService(body({ enabled: false, accounts: ['1001'] }));
});
t.teardown(async () => {
  term.close();
  await svc.kill('SIGTERM');
  await kam.dispose();
});

const fits = (s: string): boolean => s.split('\n').every((l) => l.length <= 80);

/** Enter at the main menu until the screen shows `what` (the console reads the store on every screen). */
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

async function mainMenu(): Promise<void> {
  term.type('0');
  await term.waitFor(/== sipreg console ==/);
}

async function why(number: string): Promise<string> {
  term.type('3');
  await term.waitFor(/Number \(0 = cancel\)/);
  term.type(number);
  const s = await term.waitFor(new RegExp(`== Why: ${number} ==[\\s\\S]*Choice:`));
  await mainMenu();
  return s;
}

t.test('a console left open follows a reload made elsewhere (SIGHUP)', async (t) => {
  term.start(svc.configFile, svc.dataDir);
  let s = await term.waitFor(/Choice:/);
  t.match(s, /service up .*\| trunks 0\/1 \|/, 'before: the trunk is disabled');
  t.match(await why('1009'), /1009 is NOT in the config's accounts \(generation 1, in force\)/);

  // The reload comes from elsewhere: the file is rewritten and the service gets SIGHUP.
  await svc.reload(body({ enabled: true, accounts: ['1001', '1009'] }));
  s = await refreshUntil(/\| trunks 1\/1 \|/);
  t.pass('status line: trunks 1/1 once the trunk registered upstream');
  t.ok(fits(s), 'fits 80 columns');
  const trunks = JSON.parse(svc.cli(['trunks', '--json']).stdout) as { name: string; state: string }[];
  t.match(trunks, [{ name: 'carrier-a', state: 'registered' }], 'sipreg trunks agrees');

  term.type('7');
  s = await term.waitFor(/== Trunks ==[\s\S]*Choice:/);
  t.match(s, /\ncarrier-a +registered +/, 'the Trunks screen shows it registered, not disabled');
  term.type('1');
  await term.waitFor(/Trunk # or name/);
  term.type('carrier-a');
  s = await term.waitFor(/Asked the service to re-register carrier-a now\./);
  t.pass('re-register is accepted for the trunk the service now has enabled');
  await mainMenu();

  s = await why('1009');
  t.match(s, /1009: account Cust_1009, auth password/, 'Why knows the account the reload added');
  t.notMatch(s, /NOT in the config's accounts/);

  term.type('8');
  s = await term.waitFor(/== Parameters in force ==/);
  t.match(s, /\(generation 2, loaded \d\d:\d\d\)/, 'Parameters names the generation in force');
  await mainMenu();
});

t.test('a file changed again after the service loaded it: said on the status line, then followed after the next reload', async (t) => {
  // Reload to generation 3, then change the file once more without telling the service.
  await svc.reload(body({ enabled: true, accounts: ['1001'] }));
  const v4 = body({ enabled: false, accounts: ['1001', '1009'] });
  const current = readFileSync(svc.configFile, 'utf8');
  writeFileSync(svc.configFile, current.slice(0, current.indexOf('accounts:')) + v4);
  let s = await refreshUntil(/\nCONFIG: sipreg\.yaml changed after the service loaded it \(gen 3, \d\d:\d\d\); reload\n/);
  t.ok(fits(s), 'the status line fits');
  s = await why('1009');
  t.match(s, /Account check skipped: CONFIG: sipreg\.yaml changed after the service loaded it/, 'Why does not claim what it cannot know');
  const cli = svc.cli(['trunks']);
  t.match(cli.stderr, /sipreg: CONFIG: sipreg\.yaml changed after the service loaded it \(gen 3, /, 'sipreg trunks says so too');

  svc.child.kill('SIGHUP');
  s = await refreshUntil(/\| trunks 0\/1 \|/);
  t.match(s, /No alerts\./, 'generation 4 followed: the warning is gone');
  t.match(await why('1009'), /1009: account Cust_1009/);
  const stats = JSON.parse(svc.cli(['stats', '--json']).stdout) as { config: { generation: number; problem: string | null }; trunks_total: number };
  t.match(stats.config, { generation: 4, problem: null }, 'stats --json names the generation in force');
  t.match(svc.cli(['params']).stdout, /^config: .*sipreg\.yaml \(in force in the running service: generation 4, loaded /);
  term.type('q');
  s = await term.waitFor(/EXIT=\d+/);
  t.match(s, /EXIT=0/);
  term.killSession();
});
