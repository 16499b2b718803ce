import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeUserAgent, trend, rates } from '../../src/stats/analysis.js';
import { detectAlerts, suppressRepeats, type AlertKind } from '../../src/stats/alerts.js';
import { renderTextfile, writeTextfile, snakeCase } from '../../src/stats/prometheus.js';
import { makeSample, statsSampler, readCountersSnapshot } from '../../src/stats/sampler.js';
import { counters } from '../../src/stats/counters.js';
import { loadConfig } from '../../src/config/index.js';
import { StoreFlush, openStore, type SampleRecord } from '../../src/store/index.js';
import { parseRange, inRange, addressBytes, defaultPrefix } from '../../src/stats/address.js';
import { makeEnv } from './fixtures/seed.js';

t.test('User-Agent to device type', async (t) => {
  const cases: [string, string][] = [
    ['Yealink SIP-T46S 66.86.0.15', 'Yealink SIP-T46S'],
    ['Yealink SIP-T46S 66.86.0.20', 'Yealink SIP-T46S'],
    ['Grandstream GXP2170 1.0.11.3', 'Grandstream GXP2170'],
    ['Linphone/4.4.0 (belle-sip/4.4.0)', 'Linphone'],
    ['Cisco/SPA504G-7.6.2', 'Cisco/SPA504G'],
    ['PolycomVVX-VVX_411-UA/6.3.1.5000', 'PolycomVVX-VVX_411-UA'],
    ['Fanvil X4 2.10.2.6887', 'Fanvil X4'],
    ['sipsak 0.9.8', 'sipsak'],
    ['SIPp', 'SIPp'],
    ['', '(no User-Agent)'],
  ];
  for (const [ua, want] of cases) t.equal(normalizeUserAgent(ua), want, ua);
});

t.test('address ranges and default prefixes', async (t) => {
  t.ok(inRange(addressBytes('10.1.2.3')!, parseRange('10.0.0.0/8')!));
  t.notOk(inRange(addressBytes('11.1.2.3')!, parseRange('10.0.0.0/8')!));
  t.ok(inRange(addressBytes('::ffff:10.1.2.3')!, parseRange('10.1.2.0/24')!), 'IPv4-mapped reads as IPv4');
  t.ok(inRange(addressBytes('2001:db8:1::5')!, parseRange('2001:db8::/32')!));
  t.notOk(inRange(addressBytes('2001:db8:1::5')!, parseRange('10.0.0.0/8')!), 'families never match');
  t.ok(inRange(addressBytes('10.1.2.200')!, parseRange('10.1.2.128/25')!));
  t.notOk(inRange(addressBytes('10.1.2.100')!, parseRange('10.1.2.128/25')!));
  t.equal(parseRange('10.0.0.0/33'), null);
  t.equal(parseRange('nonsense'), null);
  t.equal(defaultPrefix('203.0.113.77'), '203.0.113.0/24');
  t.equal(defaultPrefix('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
});

const sample = (minute: number, registered: number, authFailures = 0): SampleRecord => ({
  atMs: minute * 60_000, registered, nat: 0, registers: 0, accepted: 0, authFailures, rejected: 0, processingUsTotal: 0, processed: 0,
});

t.test('alerts: drop, spike, auth failures, against the baseline; repeats suppressed', async (t) => {
  const base = Array.from({ length: 10 }, (_, i) => sample(100 + i, 200, 2));
  t.same(detectAlerts(base, sample(110, 195, 3)), [], 'normal wobble');
  t.same(detectAlerts(base.slice(0, 4), sample(110, 10)), [], 'too little history to judge');
  t.match(detectAlerts(base, sample(110, 120)), [{ kind: 'registrations_drop', detail: /dropped 40% .*200 -> 120/ }]);
  t.match(detectAlerts(base, sample(110, 320)), [{ kind: 'registrations_spike' }]);
  t.match(detectAlerts(base, sample(110, 200, 60)), [{ kind: 'auth_failures_spike', detail: /^60 authentication failures/ }]);
  t.same(detectAlerts(base, sample(110, 200, 9)), [], 'few failures are no alert');
  const small = Array.from({ length: 10 }, (_, i) => sample(100 + i, 5));
  t.same(detectAlerts(small, sample(110, 1)), [], 'a small office losing phones is under the floor');
  const seen = new Map<AlertKind, number>();
  const drop = detectAlerts(base, sample(110, 120));
  t.equal(suppressRepeats(drop, seen).length, 1);
  t.equal(suppressRepeats(detectAlerts(base, sample(111, 120)), seen).length, 0, 'the same kind within 15 min');
  t.equal(suppressRepeats(detectAlerts(base.map((s) => ({ ...s, atMs: s.atMs + 20 * 60_000 })), sample(130, 120)), seen).length, 1);
});

t.test('samples: deltas of the counters; trend and rates from them', async (t) => {
  const prev = { ...counters };
  const cur = { ...counters, registersReceived: prev.registersReceived + 120, registersAccepted: prev.registersAccepted + 100, authFailures: prev.authFailures + 6, processingUsTotal: prev.processingUsTotal + 24_000, processed: prev.processed + 120 };
  const s = makeSample(90_061_000, { total: 50, nat: 7 }, cur, prev);
  t.same(s, { atMs: 90_060_000, registered: 50, nat: 7, registers: 120, accepted: 100, authFailures: 6, rejected: 0, processingUsTotal: 24_000, processed: 120 });
  const r = rates([s], 90_061_000 + 60_000, 5);
  t.same(r, { minutes: 1, registersPerS: 2, acceptedPerS: 1.667, authFailuresPerS: 0.1, rejectedPerS: 0, authFailureRatio: 0.05, avgProcessingMs: 0.2 });
  const pts = trend([s], 90_061_000, 'hour');
  t.equal(pts.length, 60);
  t.equal(pts.at(-1)!.registered, 50);
  t.equal(pts[0]!.registered, null);
});

t.test('Prometheus textfile: exposition format, written atomically', async (t) => {
  t.equal(snakeCase('registersReceived'), 'registers_received');
  const text = renderTextfile({ ...counters, registersReceived: 42 }, { up: true, startTimeS: 1700000000, bindings: 5, bindingsNat: 2, lockoutsActive: 1, trunksRegistered: 1, trunksConfigured: 2 });
  t.match(text, /^# HELP sipreg_up .+\n# TYPE sipreg_up gauge\nsipreg_up 1\n/);
  t.match(text, /\n# TYPE sipreg_registers_received_total counter\nsipreg_registers_received_total 42\n/);
  t.match(text, /\nsipreg_processing_us_total 0\n/);
  t.match(text, /\nsipreg_bindings 5\n/);
  for (const line of text.trimEnd().split('\n')) t.match(line, /^(# (HELP|TYPE) sipreg_[a-z_]+ .+|sipreg_[a-z_]+ -?\d+(\.\d+)?)$/, line);
  const dir = mkdtempSync(join(tmpdir(), 'sipreg-prom-'));
  writeTextfile(join(dir, 'sipreg.prom'), text);
  t.same(readdirSync(dir), ['sipreg.prom'], 'no temporary file left');
  t.equal(readFileSync(join(dir, 'sipreg.prom'), 'utf8'), text);
});

t.test('the sampler component writes the counters snapshot and the textfile, and up 0 at stop', async (t) => {
  const env = makeEnv('sampler');
  const prom = join(env.dir, 'sipreg.prom');
  const config = { ...loadConfig(env.configFile).config!, metricsTextfile: prom };
  const store = openStore(env.dataDir);
  const logs: string[] = [];
  const log = { warn: (_o: unknown, m: string) => logs.push(m), error: (_o: unknown, m: string) => logs.push(m), info() {}, debug() {} };
  const writes = new StoreFlush(store, 30);
  const c = statsSampler({ store, writes, log: log as never, config: () => config });
  await c.start();
  t.match(readFileSync(prom, 'utf8'), /\nsipreg_up 1\n/);
  t.equal(readCountersSnapshot(store), null, 'the snapshot waits for the service\'s flush');
  await writes.flushNow();
  t.equal(readCountersSnapshot(store)?.pid, process.pid);
  await c.stop();
  t.match(readFileSync(prom, 'utf8'), /\nsipreg_up 0\n/);
  t.same(logs, []);
  await store.close();
});

t.test('active alerts: each condition from the store, cleared when it ends (stats/active-alerts.ts)', async (t) => {
  const { activeAlerts, TRUNK_DOWN_ALERT_MS, STORE_FAILURE_ALERT_MS, LOCKOUT_STORM_MIN, ANOMALY_SHOWN_MS } = await import('../../src/stats/active-alerts.js');
  const env = makeEnv('active-alerts');
  const config = loadConfig(env.configFile).config!;
  const store = openStore(env.dataDir);
  t.teardown(() => store.close());
  const nowMs = Date.now();
  const roomy = { totalBytes: 100 * 2 ** 30, freeBytes: 50 * 2 ** 30 };
  const kinds = (at: number, running = true, disk: { totalBytes: number; freeBytes: number } | null = roomy): string[] =>
    activeAlerts({ store, config, nowMs: at, running, disk }).map((a) => `${a.kind}${a.subject === '' || a.subject === env.dataDir ? '' : `:${a.subject}`}`);
  t.same(kinds(nowMs), [], 'nothing stored: no alert');

  const trunk = { name: 'carrier-a', state: 'retry_wait' as const, lastStatus: null, lastReason: 'no answer: 127.0.0.1:5060 did not answer within 32 s',
    grantedExpiresS: null, lastSuccessAtMs: null, failureCount: 4, nextActionAtMs: nowMs + 60_000, registrar: '127.0.0.1:5060', contact: '',
    updatedAtMs: nowMs, credentialFailures: 0, downSinceMs: nowMs - TRUNK_DOWN_ALERT_MS + 1000 };
  await store.trunks.put('carrier-a', trunk);
  t.same(kinds(nowMs), [], 'down for less than TRUNK_DOWN_ALERT_MS: not yet');
  t.same(kinds(nowMs + 1000), ['trunk_down:carrier-a'], 'down for TRUNK_DOWN_ALERT_MS: an alert');
  t.match(activeAlerts({ store, config, nowMs: nowMs + 1000, running: true, disk: roomy })[0]!.detail, /^trunk carrier-a down for 5 min \(no answer\): see Trunks$/);
  t.same(kinds(nowMs + 1000, false), [], 'the service not running: trunk states are history, not alerts');
  await store.trunks.put('carrier-a', { ...trunk, credentialFailures: 3, lastStatus: 401, lastReason: 'bad credentials: 401 Unauthorized again' });
  t.same(kinds(nowMs + 1000), ['trunk_credentials:carrier-a'], 'a credential streak says so instead of "down"');
  await store.trunks.put('carrier-b', { ...trunk, name: 'carrier-b', credentialFailures: 5 });
  t.same(kinds(nowMs + 1000), ['trunk_credentials:carrier-a'], 'carrier-b is disabled in the config: no alert');
  await store.trunks.put('carrier-a', { ...trunk, state: 'registered', credentialFailures: 0, downSinceMs: null });
  t.same(kinds(nowMs + 1000), [], 'registered again: cleared');

  await store.meta.put('counters', { atMs: nowMs, startedAtMs: nowMs - 60_000, pid: 1, values: { ...counters, storeWriteFailures: 7 }, storeWriteFailedAtMs: nowMs - 1000 });
  t.same(kinds(nowMs), ['store_write_failures']);
  t.same(kinds(nowMs - 1000 + STORE_FAILURE_ALERT_MS), [], 'STORE_FAILURE_ALERT_MS without a failure: cleared');
  await store.meta.remove('counters');
  t.same(kinds(nowMs, true, { totalBytes: 10 * 2 ** 30, freeBytes: 400 * 2 ** 20 }), ['store_nearly_full'], 'under 5 % free');
  t.same(kinds(nowMs, true, { totalBytes: 200 * 2 ** 20, freeBytes: 20 * 2 ** 20 }), ['store_nearly_full'], 'under 32 MiB free');
  t.same(kinds(nowMs, true, { totalBytes: 200 * 2 ** 20, freeBytes: 100 * 2 ** 20 }), [], 'enough free');

  const lock = (i: number, kind: 'pair' | 'number', createdAtMs: number) => ({
    key: `${kind}:${i}`, kind, address: kind === 'pair' ? `198.51.100.${i % 3}` : '', number: String(3000 + i), untilMs: nowMs + 180_000, createdAtMs, failures: 1, reason: 'x',
  });
  for (let i = 0; i < LOCKOUT_STORM_MIN - 1; i++) await store.lockouts.put(`pair:${i}`, lock(i, 'pair', nowMs - 1000));
  await store.lockouts.put('number:h', lock(99, 'number', nowMs - 1000));
  t.same(kinds(nowMs), [], 'one under LOCKOUT_STORM_MIN (an operator hold does not count)');
  await store.lockouts.put('pair:old', lock(50, 'pair', nowMs - 11 * 60_000));
  t.same(kinds(nowMs), [], 'a suspension from before the window does not count');
  await store.lockouts.put('pair:last', lock(51, 'pair', nowMs - 500));
  t.same(kinds(nowMs), ['lockout_storm']);
  t.match(activeAlerts({ store, config, nowMs, running: true, disk: roomy })[0]!.detail, /^lockout storm: 10 suspensions in 10 min from 3 addresses /);
  for (const { key } of store.lockouts.getRange({})) await store.lockouts.remove(key);

  await store.meta.put('alert', { atMs: nowMs - 1000, kind: 'registrations_drop', detail: 'registrations dropped 40%' });
  t.same(kinds(nowMs), ['registrations_drop'], 'the latest anomaly alert');
  t.same(kinds(nowMs - 1000 + ANOMALY_SHOWN_MS), [], 'for ANOMALY_SHOWN_MS');
});
