import t from 'tap';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/index.js';
import { bindingsOf, activeLockouts, queryEvents, lockoutKeyNumber } from '../../src/store/index.js';
import { HOSTILE, HOSTILE_SHOWN, makeEnv, RAW, seedHostile, storeSeeder, withOpenStore } from '../console/fixtures/seed.js';

process.env['TZ'] = 'UTC';

function sink(): Writable & { text: string } {
  const w = new Writable({ write(chunk, _enc, cb) { w.text += String(chunk); cb(); } }) as Writable & { text: string };
  w.text = '';
  return w;
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = sink();
  const stderr = sink();
  const code = await main(argv, { stdout, stderr, env: {} });
  return { code, out: stdout.text, err: stderr.text };
}

const env = makeEnv('cli');
// The trend assertions count whole minutes: seed well inside a minute, so the commands below run in
// the same minute as the seed (the suite takes seconds, not the 20 s margin).
if (Date.now() % 60_000 > 40_000) await new Promise((r) => setTimeout(r, 60_000 - (Date.now() % 60_000) + 100));
const nowMs = Date.now();
await storeSeeder(env.dataDir, nowMs);
const c = ['-c', env.configFile];

const CONTRACT_FIELDS = ['number', 'aor', 'contact', 'source', 'expires_in_s', 'expires_at', 'registered_at', 'user_agent', 'account', 'nat', 'status', 'call_id', 'cseq'];

t.test('list --json: every binding with the contract fields', async (t) => {
  const r = await run(['list', '--json', ...c]);
  t.equal(r.code, 0);
  const rows = JSON.parse(r.out) as Record<string, unknown>[];
  t.equal(rows.length, 7);
  for (const f of CONTRACT_FIELDS) t.ok(f in rows[0]!, `field ${f}`);
  const b1003 = rows.find((x) => x['number'] === '1003')!;
  t.match(b1003, {
    number: '1003', aor: 'sip:1003@test', contact: 'sip:1003@192.168.1.50:5060', source: '198.51.100.7:40000',
    user_agent: 'Grandstream GXP2170 1.0.11.3', account: 'Cust_B', nat: true, status: 'registered', call_id: 'call-1003@phone', cseq: 7,
  });
  t.match(b1003['expires_at'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.ok((b1003['expires_in_s'] as number) > 2990 && (b1003['expires_in_s'] as number) <= 3000);
  t.equal(rows.find((x) => x['number'] === '1004')!['status'], 'expiring');
  t.equal(rows.find((x) => x['number'] === '1005')!['status'], 'expired');
  t.equal(rows.find((x) => x['number'] === '1005')!['expires_in_s'], 0);
});

t.test('list filters: number, prefix, IP, CIDR (v4 and v6), account, status', async (t) => {
  const numbers = async (...args: string[]): Promise<string[]> => {
    const r = await run(['list', '--json', ...args, ...c]);
    t.equal(r.code, 0, args.join(' '));
    return (JSON.parse(r.out) as { number: string }[]).map((x) => x.number);
  };
  t.same(await numbers('--number', '1003'), ['1003']);
  t.same(await numbers('--number', '10*'), ['1001', '1002', '1003', '1004', '1005']);
  t.same(await numbers('--number', '9999'), []);
  t.same(await numbers('--ip', '10.1.2.11'), ['1002']);
  t.same(await numbers('--ip', '10.1.0.0/16'), ['1001', '1002']);
  t.same(await numbers('--ip', '198.51.100.0/24'), ['1003', '1004']);
  t.same(await numbers('--ip', '2001:db8::/32'), ['2001', '2001']);
  t.same(await numbers('--account', 'cust_b'), ['1003', '1004', '1005']);
  t.same(await numbers('--status', 'expiring'), ['1004']);
  t.same(await numbers('--status', 'expired'), ['1005']);
  t.same(await numbers('--status', 'registered', '--account', 'Cust_B'), ['1003']);
});

t.test('list --csv: header and one row per binding, same fields', async (t) => {
  const r = await run(['list', '--csv', '--account', 'Cust_A', ...c]);
  t.equal(r.code, 0);
  const lines = r.out.trimEnd().split('\n');
  t.equal(lines[0], 'number,aor,contact,source,expires_in_s,expires_at,registered_at,user_agent,account,nat,status,call_id,cseq,expires_s,refreshed_at,local,instance,q');
  t.equal(lines.length, 3);
  t.match(lines[1], /^1001,sip:1001@test,sip:1001@10\.1\.2\.10:5062,10\.1\.2\.10:5062,\d+,[^,]+,[^,]+,Yealink SIP-T46S 66\.86\.0\.15,Cust_A,false,registered,call-1001@phone,7,3600,/);
  const all = await run(['list', '--csv', ...c]);
  t.match(all.out, /"Linphone\/4\.4\.0 \(belle-sip\/4\.4\.0\)"|Linphone\/4\.4\.0 \(belle-sip\/4\.4\.0\)/);
});

t.test('list as text: a table within 80 columns', async (t) => {
  const r = await run(['list', ...c]);
  t.equal(r.code, 0);
  const lines = r.out.trimEnd().split('\n');
  t.match(lines[0], /^NUMBER +CONTACT +SOURCE +LEFT +ACCOUNT +REGISTERED +STATUS$/);
  t.equal(lines.at(-1), '7 bindings');
  for (const l of lines) t.ok(l.length <= 80, `fits: ${l}`);
  t.match(r.out, /1005 .*Expired/);
  t.match(r.out, /1004 .*Expiring/);
});

t.test('bad options exit 2 with one line and usage', async (t) => {
  for (const argv of [
    ['list', '--status', 'gone'], ['list', '--ip', '10.0.0.0/33'], ['list', '--json', '--csv'], ['list', '--bogus'],
    ['list', 'extra'], ['show'], ['unregister'], ['unregister', '1001', '--hold', 'x'], ['events', '--since', 'fortnight'],
    ['events', '--type', 'nope'], ['events', '--limit', '0'], ['unlock'], ['stats', '--csv'], ['lockouts', 'x', 'y'], ['trunks', 'a', 'b'],
  ]) {
    const r = await run([...argv, ...c]);
    t.equal(r.code, 2, argv.join(' '));
    t.match(r.err, new RegExp(`^sipreg ${argv[0]}: .+\nusage: sipreg ${argv[0]}`), argv.join(' '));
  }
});

t.test('show: every field of one number; exit 1 when none', async (t) => {
  const r = await run(['show', '2001', ...c]);
  t.equal(r.code, 0);
  t.match(r.out, /Number +2001/);
  t.match(r.out, /Source +\[2001:db8:1:2::5\]:5062/);
  t.match(r.out, /User-Agent +Yealink SIP-T46S 66\.86\.0\.15/);
  t.equal(r.out.split('\n\n').length, 2, 'two bindings');
  const j = await run(['show', '1003', '--json', ...c]);
  t.equal((JSON.parse(j.out) as unknown[]).length, 1);
  const none = await run(['show', '4444', ...c]);
  t.equal(none.code, 1);
  t.equal(none.err, 'sipreg show: ERR_CLI_NOT_FOUND: no registration for 4444\n');
});

t.test('events: oldest first, filters, JSON fields', async (t) => {
  const r = await run(['events', '--json', ...c]);
  t.equal(r.code, 0);
  const evs = JSON.parse(r.out) as Record<string, string>[];
  t.same(evs.map((e) => e['type']), ['registered', 'auth_failed', 'rejected', 'locked_out', 'refreshed']);
  t.same(Object.keys(evs[0]!), ['at', 'type', 'number', 'source', 'user_agent', 'detail']);
  const f = JSON.parse((await run(['events', '--json', '--number', '1009', '--type', 'rejected,locked_out', ...c])).out) as { type: string }[];
  t.same(f.map((e) => e.type), ['rejected', 'locked_out']);
  const since = new Date(nowMs - 120_000).toISOString();
  t.same((JSON.parse((await run(['events', '--json', '--since', since, ...c])).out) as { type: string }[]).map((e) => e.type), ['rejected', 'locked_out', 'refreshed']);
  t.same((JSON.parse((await run(['events', '--json', '--since', '2m', ...c])).out) as { type: string }[]).map((e) => e.type), ['rejected', 'locked_out', 'refreshed'], 'an age');
  t.same((JSON.parse((await run(['events', '--json', '--since', '1h', ...c])).out) as { type: string }[]).length, 5);
  t.same((JSON.parse((await run(['events', '--json', '--limit', '2', ...c])).out) as { type: string }[]).map((e) => e.type), ['locked_out', 'refreshed']);
  const text = await run(['events', '--number', '1009', ...c]);
  t.match(text.out, /auth_failed +1009 +198\.51\.100\.99:5060\n +401 wrong password/);
  for (const l of text.out.trimEnd().split('\n')) t.ok(l.length <= 80, `fits: ${l}`);
});

t.test('lockouts and unlock', async (t) => {
  const j = JSON.parse((await run(['lockouts', '--json', ...c])).out) as Record<string, unknown>[];
  t.equal(j.length, 1);
  t.match(j[0], { key: 'pair:1009@198.51.100.99', kind: 'pair', number: '1009', address: '198.51.100.99', failures: 6 });
  t.match((await run(['lockouts', ...c])).out, /pair +1009 from 198\.51\.100\.99 .* wrong password x6\n/, 'the cause in words');
  const one = await run(['lockouts', '1009', ...c]);
  t.equal(one.code, 0);
  t.match(one.out, /^Suspended +1009 from 198\.51\.100\.99 \(pair\)\nWhy +wrong password x6\nReason +SS_ENDPOINT_REGISTER_RETRY exceeded\n/m, 'lockouts TARGET: the suspension in full');
  t.match(one.out, /Lift it +sipreg unlock 1009/);
  for (const l of one.out.trimEnd().split('\n')) t.ok(l.length <= 80, `fits: ${l}`);
  const nothing = await run(['lockouts', '7777', ...c]);
  t.equal(nothing.code, 1);
  t.equal(nothing.err, 'sipreg lockouts: ERR_CLI_NOT_FOUND: no active suspension names 7777\n');
  const none = await run(['unlock', '7777', ...c]);
  t.equal(none.code, 0);
  t.equal(none.out, 'no lockout of 7777\n');
  const r = await run(['unlock', '198.51.100.99', ...c]);
  t.equal(r.code, 0);
  t.equal(r.out, 'lifted pair 1009 from 198.51.100.99\n');
  await withOpenStore(env.dataDir, (s) => {
    t.same(activeLockouts(s, Date.now()), []);
    t.equal(queryEvents(s, { type: 'unlocked' }).length, 1, 'the lift is in the history');
  });
  t.equal((await run(['lockouts', ...c])).out, 'no active lockouts\n');
});

t.test('unregister: one contact, all, --hold writes a number lockout; exit 1 when none', async (t) => {
  const wrong = await run(['unregister', '2001', '--contact', 'sip:nobody@x', ...c]);
  t.equal(wrong.code, 1);
  t.match(wrong.err, /2001 has no contact sip:nobody@x; its contacts: /);
  const one = await run(['unregister', '2001', '--contact', 'sip:2001@2001:db8:1:2::5:5062', ...c]);
  t.equal(one.code, 0);
  t.equal(one.out, 'unregistered 2001 sip:2001@2001:db8:1:2::5:5062 (from [2001:db8:1:2::5]:5062)\n');
  await withOpenStore(env.dataDir, (s) => t.same(bindingsOf(s, '2001').map((b) => b.sourceAddress), ['2001:db8:1:2::6']));
  const held = await run(['unregister', '1003', '--hold', '600', ...c]);
  t.equal(held.code, 0);
  t.match(held.out, /^unregistered 1003 sip:1003@192\.168\.1\.50:5060 \(from 198\.51\.100\.7:40000\)\nheld 1003 until \d{4}-/);
  await withOpenStore(env.dataDir, (s) => {
    t.same(bindingsOf(s, '1003'), []);
    const l = s.lockouts.get(lockoutKeyNumber('1003'))!;
    t.match(l, { kind: 'number', number: '1003', address: '' });
    t.ok(l.untilMs > Date.now() + 590_000 && l.untilMs <= Date.now() + 600_000);
    const evs = queryEvents(s, { type: 'force_unregistered' });
    t.same(evs.map((e) => e.number), ['2001', '1003']);
    t.match(evs[1]!.detail, /held 600s/);
    t.equal(evs[1]!.source, '198.51.100.7:40000');
  });
  const again = await run(['unregister', '1003', ...c]);
  t.equal(again.code, 1);
  t.equal(again.err, 'sipreg unregister: ERR_CLI_NOT_FOUND: no registration for 1003\n');
  const un = await run(['unlock', '1003', ...c]);
  t.equal(un.out, 'lifted number 1003\n');
});

t.test('trunks: config trunks without a record are unregistered or disabled; records show', async (t) => {
  await withOpenStore(env.dataDir, (s) => s.trunks.put('carrier-a', {
    name: 'carrier-a', state: 'registered', lastStatus: 200, lastReason: 'OK', grantedExpiresS: 1800, lastSuccessAtMs: nowMs,
    failureCount: 0, nextActionAtMs: nowMs + 900_000, registrar: '127.0.0.1:5060', contact: 'sip:4420@127.0.0.1:15999', updatedAtMs: nowMs,
  }));
  const j = JSON.parse((await run(['trunks', '--json', ...c])).out) as Record<string, unknown>[];
  t.match(j, [
    { name: 'carrier-a', state: 'registered', last_status: 200, last_reason: 'OK', granted_expires_s: 1800, next_action_at: new Date(nowMs + 900_000).toISOString() },
    { name: 'carrier-b', state: 'disabled', last_status: null, last_reason: '', granted_expires_s: null, next_action_at: null },
  ]);
  const text = await run(['trunks', ...c]);
  t.match(text.out, /carrier-a +registered +OK \(200\) +1800s +in 1\dm/);
  const one = await run(['trunks', 'carrier-b', ...c]);
  t.equal(one.code, 0);
  t.match(one.out, /^Trunk +carrier-b \(disabled in the config\)\nState +disabled/, 'trunks NAME: one trunk in full');
  t.match(one.out, /Registrar +127\.0\.0\.1\n/, 'a disabled trunk shows its configured registrar');
  const none = await run(['trunks', 'carrier-z', ...c]);
  t.equal(none.code, 1);
  t.equal(none.err, 'sipreg trunks: ERR_CLI_NOT_FOUND: no trunk carrier-z in the config in force\n');
});

t.test('stats: counters, rates and the trend', async (t) => {
  const r = await run(['stats', '--json', ...c]);
  t.equal(r.code, 0);
  const s = JSON.parse(r.out) as Record<string, any>;
  t.equal(s['service'].running, false);
  t.equal(s['registered'], 4, 'live bindings left: 1001 1002 1004 2001 (1005 expired)');
  t.equal(s['trend'].hour.length, 59, 'the hour ends with the current minute, which has no sample yet');
  t.equal(s['rates'].last_5_min.minutes, 5);
  t.equal(s['rates'].last_hour.registers_per_s, 0.2);
  t.equal(s['rates'].last_hour.avg_processing_ms, 0.1);
  t.match(s['device_types'], [{ type: 'Yealink SIP-T46S', count: 3 }, { type: 'Linphone', count: 1 }]);
  t.match(s['areas'], [{ area: 'Head office', configured: true, count: 2 }]);
  const text = await run(['stats', ...c]);
  t.match(text.out, /service DOWN/);
  t.match(text.out, /REGISTER received \/s +0\.20 +0\.20/);
  for (const l of text.out.trimEnd().split('\n')) t.ok(l.length <= 80, `fits: ${l}`);
});

t.test('hostile peer text: every text output shows escapes, JSON keeps the exact value, CSV makes formulas text', async (t) => {
  const hostile = makeEnv('cli-hostile');
  const intruder = await seedHostile(hostile.dataDir, Date.now());
  const h = ['-c', hostile.configFile];
  const clean = (r: { out: string; err: string }, what: string): void => {
    t.equal(RAW.exec(r.out + r.err), null, `${what}: no control or bidi character written`);
  };
  const text = async (argv: string[], shown: string | RegExp): Promise<void> => {
    const r = await run([...argv, ...h]);
    clean(r, argv.join(' '));
    t.match(r.out + r.err, shown, `${argv.join(' ')}: shown escaped`);
  };
  await text(['show', '1001'], `User-Agent      Yealink${HOSTILE_SHOWN}`);
  await text(['events'], `auth_failed        9${HOSTILE_SHOWN}`);
  await text(['lockouts'], 'number 9\\x1b]0;pwned');
  await text(['trunks'], /carrier-a +retry_wait +forbidden \(403\)/);
  await text(['trunks', 'carrier-a'], 'Last reason   forbidden: 403 Forbidden\\x1b]0;pwned');
  await text(['lockouts', intruder], `Reason     6 failures of 9${HOSTILE_SHOWN}`);
  await text(['list'], /1001 +192\.0\.2\.10:5062 /);
  await text(['list', '--csv'], `"'=HYPERLINK(""http://x"",""click"")","'@SUM(1,2)",false,registered,'-2+3@evil,`);
  await text(['show', `x${HOSTILE}`], `no registration for x${HOSTILE_SHOWN}`);
  await text(['unregister', '1001', '--contact', 'sip:nobody@x'], `its contacts: sip:1001@192.0.2.10:5062;x=${HOSTILE_SHOWN}`);
  for (const argv of [['list', '--json'], ['show', '1001', '--json'], ['events', '--json'], ['lockouts', '--json'], ['trunks', '--json'], ['stats', '--json']]) {
    const r = await run([...argv, ...h]);
    clean(r, argv.join(' '));
    t.doesNotThrow(() => JSON.parse(r.out), `${argv.join(' ')}: JSON`);
  }
  const list = JSON.parse((await run(['list', '--json', ...h])).out) as { number: string; user_agent: string; instance: string | null }[];
  t.equal(list.find((b) => b.number === '1001')!.user_agent, `Yealink${HOSTILE}`, 'list --json: the exact User-Agent');
  t.equal(list.find((b) => b.number === '1001')!.instance, `<urn:uuid:${HOSTILE}>`, 'list --json: the exact instance');
  const stats = JSON.parse((await run(['stats', '--json', ...h])).out) as { device_types: { type: string }[] };
  t.ok(stats.device_types.some((d) => d.type === `Yealink${HOSTILE}`), 'stats --json: the exact device type');
  await text(['unregister', '1001'], `unregistered 1001 sip:1001@192.0.2.10:5062;x=${HOSTILE_SHOWN} (from 192.0.2.10:5062)`);
  await text(['unlock', intruder], `lifted number 9${HOSTILE_SHOWN}`);
});
