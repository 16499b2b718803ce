import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { ConsoleApp } from '../../src/console/index.js';
import { bindingsOf, openStore, lockoutKeyNumber, queryEvents, type Store } from '../../src/store/index.js';
import { HOSTILE_SHOWN, makeEnv, RAW, seedHostile, storeSeeder } from './fixtures/seed.js';

/** Drives the console with typed lines; returns every screen it drew. */
async function drive(store: Store, configFile: string, lines: string[]): Promise<{ code: number; screens: string[] }> {
  const config = loadConfig(configFile).config!;
  let out = '';
  const queue = [...lines];
  const app = new ConsoleApp({
    store, config, clear: false, write: (s) => { out += s; },
    lines: { next: async (prompt) => { out += prompt; return queue.shift() ?? null; } },
  });
  const code = await app.run();
  return { code, screens: out.split(/\n(?=\S+ \| service )/).filter((s) => s.trim() !== '') };
}

function fits(t: Test, screens: string[]): void {
  for (const s of screens) {
    const lines = s.replace(/\n$/, '').split('\n');
    const wide = lines.filter((l) => l.length > 80);
    t.same(wide, [], 'no line over 80 columns');
    t.ok(lines.length <= 24, `at most 24 lines (${lines.length})`);
  }
}

const env = makeEnv('app');
await storeSeeder(env.dataDir, Date.now());
const store = openStore(env.dataDir);
t.teardown(() => store.close());

t.test('every screen fits 80x24; EOF anywhere exits 0', async (t) => {
  const tour = ['1', '6', '1001', '0', '0', '2', '0', '3', '1009', '0', '5', '1', '0', '2', '0', '3', '0', '4', '0', '5', '0', '6', '0', '7', '0', '0',
    '6', '0', '7', '0', '8', '8', '9', '0', '9', '0', 'x', '0'];
  const r = await drive(store, env.configFile, tour);
  t.equal(r.code, 0);
  t.ok(r.screens.length >= tour.length, 'a screen per input');
  fits(t, r.screens);
  for (let n = 0; n < tour.length; n += 7) {
    const cut = await drive(store, env.configFile, tour.slice(0, n));
    t.equal(cut.code, 0, `input ends after ${n} lines`);
  }
});

t.test('registrations: the list, a filter narrows it, details', async (t) => {
  const r = await drive(store, env.configFile, ['1', '2', '10.1.0.0/16', '4', 'registered', '6', '1002', '0', '5', '0', '0']);
  const list = r.screens[1]!;
  t.match(list, /7 bindings/);
  for (const n of ['1001', '1002', '1003', '1004', '1005', '2001']) t.match(list, new RegExp(`\\n${n} `));
  const filtered = r.screens.find((s) => s.includes('filter: ip 10.1.0.0/16, status registered'))!;
  t.match(filtered, /2 bindings/);
  t.notMatch(filtered, /\n1003 /);
  t.match(r.screens.find((s) => s.includes('== Details: 1002'))!, /Call-ID \/ CSeq +call-1002@phone \/ 7/);
  t.match(r.screens.at(-2)!, /Filters cleared\./);
});

t.test('a bad filter is refused with a message, not a crash', async (t) => {
  const r = await drive(store, env.configFile, ['1', '2', '10.0.0.0/99', '0', '0']);
  t.match(r.screens.join(''), /Not used: ip must be an address or range/);
});

t.test('why: the decisions for one number with their rule', async (t) => {
  const r = await drive(store, env.configFile, ['3', '1009', '0', '0']);
  const why = r.screens.find((s) => s.includes('== Why: 1009'))!;
  t.match(why, /1009 is NOT in the config's accounts/);
  t.match(why, /SUSPENDED: 1009 from 198\.51\.100\.99/);
  t.match(why, /auth_failed.*\n +401 wrong password/);
  t.match(why, /rejected.*\n +403 address not allowed/);
});

t.test('analysis: device types and areas', async (t) => {
  const r = await drive(store, env.configFile, ['5', '5', '0', '6', '0', '0', '0']);
  const dev = r.screens.find((s) => s.includes('== Device types'))!;
  t.match(dev, /Yealink SIP-T46S +4 #+/);
  t.match(dev, /Grandstream GXP2170 +1 #+/);
  t.match(dev, /Linphone +1 #+/);
  t.match(r.screens.find((s) => s.includes('== Areas'))!, /Head office +2 #+/);
});

t.test('export writes the filtered list to CSV and says where', async (t) => {
  const path = join(env.dir, 'cust-b.csv');
  const r = await drive(store, env.configFile, ['1', '3', 'Cust_B', '0', '4', path, '', '0']);
  t.match(r.screens.join(''), new RegExp(`Wrote 3 row\\(s\\) to\\n\\s*${path.replace(/[.]/g, '\\.')}`));
  const csv = readFileSync(path, 'utf8').trimEnd().split('\n');
  t.equal(csv.length, 4);
  t.same(csv.slice(1).map((l) => l.split(',')[0]), ['1003', '1004', '1005']);
  const d = await drive(store, env.configFile, ['4', '', '', '0']);
  t.match(d.screens.join(''), new RegExp(`Wrote 7 row\\(s\\) to\\n\\s*${env.dataDir.replace(/[.]/g, '\\.')}/registrations-\\d{8}-\\d{6}\\.csv`));
});

t.test('force unregister: one contact, then all with a hold; cancel keeps them', async (t) => {
  const cancel = await drive(store, env.configFile, ['2', '1002', '', '', '0', '0']);
  t.match(cancel.screens.join(''), /Cancelled: nothing removed\./);
  t.equal(bindingsOf(store, '1002').length, 1);
  const one = await drive(store, env.configFile, ['2', '2001', '2', '', '1', '0']);
  t.match(one.screens.join(''), /Removed 1 binding\(s\) of 2001\./);
  t.same(bindingsOf(store, '2001').map((b) => b.sourceAddress), ['2001:db8:1:2::5']);
  const held = await drive(store, env.configFile, ['2', '1002', '', '300', '1', '1', '0']);
  t.match(held.screens.join(''), /Removed 1 binding\(s\) of 1002; held 1002 300s\./);
  t.same(bindingsOf(store, '1002'), []);
  t.equal(store.lockouts.get(lockoutKeyNumber('1002'))?.kind, 'number');
  t.equal(queryEvents(store, { type: 'force_unregistered', number: '1002' }).length, 1);
});

t.test('lockouts: list with time left, lift one', async (t) => {
  const r = await drive(store, env.configFile, ['6', '1', '1', '0', '0']);
  const list = r.screens.find((s) => s.includes('== Lockouts'))!;
  t.match(list, /2 active suspension\(s\)/);
  t.match(list, /pair +1009 from 198\.51\.100\.99 +2m\d\ds/);
  t.match(r.screens.join(''), /Lifted: 1009 from 198\.51\.100\.99 may register again\./);
  t.equal(store.lockouts.get('pair:1009@198.51.100.99'), undefined);
});

t.test('trunks: re-register writes a command for the service', async (t) => {
  const r = await drive(store, env.configFile, ['7', '1', 'carrier-a', '1', '2', '0', '0']);
  t.match(r.screens.join(''), /Queued: the service is down; carrier-a registers when it starts\./);
  t.match(r.screens.join(''), /carrier-b is disabled in the config\./);
  const cmds = [...store.commands.getRange({})].map((e) => e.value);
  t.match(cmds, [{ type: 'trunk_reregister', arg: 'carrier-a' }]);
  for (const e of store.commands.getRange({})) await store.commands.remove(e.key);
});

t.test('parameters: values in force, paged; reload with the service down says so', async (t) => {
  const r = await drive(store, env.configFile, ['8', '8', '1', '0', '0']);
  t.match(r.screens[1]!, /SS_ENDPOINT_EXPIRE +3600/);
  t.match(r.screens[1]!, /page 1\/3/);
  t.match(r.screens[2]!, /SS_EVENT_MAX/);
  t.match(r.screens.join(''), /The service is down: it reads the config when it starts\./);
});

t.test('event log: newest first, filter by type', async (t) => {
  const r = await drive(store, env.configFile, ['9', '2', 'failed', '0', '0']);
  const all = r.screens[1]!;
  t.ok(all.indexOf('force_unregistered') < all.indexOf('refreshed'), 'newest first');
  const f = r.screens.find((s) => s.includes('filter: type auth_failed,rejected,locked_out'))!;
  t.notMatch(f, /refreshed/);
  t.match(f, /auth_failed/);
});

t.test('an empty store and no service: every screen still draws', async (t) => {
  const empty = makeEnv('empty');
  const s = openStore(empty.dataDir);
  const r = await drive(s, empty.configFile, ['1', '6', '1', '0', '0', '3', '1001', '0', '5', '1', '0', '5', '0', '6', '0', '7', '0', '0', '6', '1', '0', '7', '0', '8', '0', '9', '0', '4', '', '']);
  await s.close();
  t.equal(r.code, 0);
  fits(t, r.screens);
  t.match(r.screens[0]!, /service DOWN \| reg 0 \(NAT 0\)/);
  t.match(r.screens[0]!, /Service never ran on this store/);
  t.match(r.screens.join(''), /no samples in this period/);
});

t.test('hostile peer text: every screen and the export show escapes, never the raw characters', async (t) => {
  const hostile = makeEnv('hostile');
  const nowMs = Date.now();
  await seedHostile(hostile.dataDir, nowMs);
  const s = openStore(hostile.dataDir);
  t.teardown(() => s.close());
  const path = join(hostile.dir, 'export.csv');
  const r = await drive(s, hostile.configFile, [
    '1', '6', '1001', '0', '0', '2', '1001', '1', '', '0', '3', '1001', '0', '5', '5', '0', '7', '0', '0',
    '6', '1', '0', '2', '1', '0', '0', '7', '1', '0', '2', '1', '0', '0', '9', '0', '4', path, '', 'q',
  ]);
  t.equal(r.code, 0);
  fits(t, r.screens);
  const all = r.screens.join('');
  const raw = RAW.exec(all);
  t.equal(raw, null, `no control or bidi character written${raw === null ? '' : `: U+${raw[0].charCodeAt(0).toString(16)} near ${JSON.stringify(all.slice(raw.index - 40, raw.index + 10))}`}`);
  const screen = (title: string): string => r.screens.find((x) => x.includes(`== ${title}`)) ?? '';
  t.match(screen('Details: 1001'), `User-Agent      Yealink${HOSTILE_SHOWN}`);
  t.match(screen('Details: 1001'), `Instance        <urn:uuid:${HOSTILE_SHOWN}>`);
  t.match(screen('Details: 1001'), `Call-ID / CSeq  c${HOSTILE_SHOWN}@x / 7`);
  t.match(screen('Force unregister 1001'), `sip:1001@192.0.2.10:5062;x=\\x1b]0;pwned`, 'the contact to remove, escaped');
  t.match(screen('Why: 1001'), 'x=\\x1b]0;pwned\\x07\\x1b[2J', 'the decision\'s detail, escaped');
  t.match(screen('Device types'), 'Yealink\\x1b]0;pwned\\x07');
  t.match(screen('Lockouts'), 'number 9\\x1b]0;pwned');
  t.match(screen('Trunks'), 'forbidden (403)', 'the table leads with the operator\'s words');
  t.match(screen('Trunk: carrier-a'), 'forbidden: 403 Forbidden\\x1b', 'the details show the reason in full, escaped');
  t.match(screen('Lockout: 9'), 'Reason     6 failures of 9\\x1b]0;pwned', 'lockout details, escaped');
  t.match(screen('Event log'), `auth_failed        9${HOSTILE_SHOWN}`);
  const csv = readFileSync(path, 'utf8');
  t.equal(RAW.exec(csv), null, 'the export holds no control or bidi character');
  t.match(csv, `\n1001,sip:1001@test,"sip:1001@192.0.2.10:5062;x=${HOSTILE_SHOWN}",`, 'escaped; quoted for its semicolons');
  t.match(csv, `"'=HYPERLINK(""http://x"",""click"")","'@SUM(1,2)",false,registered,'-2+3@evil,`, 'formulas are text');
});

t.test('paging: blocks stay whole unless longer than a page; keys named; every line shown once', async (t) => {
  const { bodyRows, pageStarts, renderScreen } = await import('../../src/console/screen.js');
  const body: string[] = [];
  const blocks: number[] = [];
  const sizes = [3, 2, 3, 25, 2, 3, 3, 1, 2, 3, 2, 3, 3, 3];
  sizes.forEach((n, b) => { blocks.push(body.length); for (let i = 0; i < n; i++) body.push(`b${b} l${i}`); });
  const screen = { title: 'Paged', body, blocks, paging: 'time' as const, menu: ['Enter refresh   0 back'] };
  const starts = pageStarts(screen);
  const pages = starts.map((s, i) => body.slice(s, starts[i + 1] ?? body.length));
  t.same(pages.flat(), body, 'every line once, in order');
  for (const [i, p] of pages.entries()) {
    const whole = new Set(sizes.flatMap((n, b) => (n <= bodyRows(screen) ? [`b${b}`] : [])));
    const firstBlock = p[0]!.split(' ')[0]!;
    if (whole.has(firstBlock)) t.equal(p[0], `${firstBlock} l0`, `page ${i + 1} starts at a block's first line`);
    const text = renderScreen(['s1', 's2'], screen, i, '');
    t.ok(text.split('\n').length - 1 + 1 <= 24, `page ${i + 1} fits 24 rows with the prompt`);
    const keys = /page (\d+)\/(\d+)  (.*)\n/.exec(text)!;
    t.equal(keys[3], i === 0 ? '8 older' : i === pages.length - 1 ? '9 newer' : '8 older  9 newer', `page ${i + 1}: the keys that go somewhere`);
  }
  t.ok(pages.some((p) => p.length === bodyRows(screen) && p.every((l) => l.startsWith('b3 '))), 'a block longer than a page is cut where the page is full');
});
