import t, { type Test } from 'tap';
import { createGuard, lockoutKeyGuessed, sweepLockouts } from '../../src/registrar/guard.js';
import { activeLockouts, queryEvents, unlock, lockoutKeyNumber, type Store } from '../../src/store/index.js';
import { makeConfig, makeContext, openStore, tmpDataDir } from './fixtures/context.js';
import type { Params } from '../../src/config/types.js';
import { guardLimits, registrarLimits } from '../../src/limits.js';

const BASE: Partial<Params> = {
  registerRetryCount: 3, registerSuspendS: 60, registerRatePerSourcePerS: 0, registerRateGlobalPerS: 0,
  scannerNumbersMax: 0, numberFailuresMax: 0,
};

function setup(t: Test, params: Partial<Params> = {}, acl: { allow?: string[]; deny?: string[] } = {}) {
  const dir = tmpDataDir('sipreg-guard-');
  const store = openStore(dir);
  t.teardown(() => store.close());
  const config = makeConfig(dir, { ...BASE, ...params }, acl);
  const ctx = makeContext(store, config);
  return { dir, store, ctx, guard: createGuard(ctx), config };
}

/** Lets the put/appendEvent issued in this turn commit (lmdb-js reads see committed data only). */
async function committed(store: Store): Promise<void> {
  await store.lockouts.committed;
  await store.events.committed;
}

t.test('static ACL: deny wins, a non-empty allow admits only its ranges', async (t) => {
  const { guard } = setup(t, {}, { allow: ['127.0.0.0/8', '2001:db8::/32'], deny: ['127.0.0.66'] });
  const table: [string, string][] = [
    ['127.0.0.2', 'ok'],
    ['::ffff:127.0.0.3', 'ok'],
    ['127.0.0.66', 'acl_denied'],
    ['::ffff:127.0.0.66', 'acl_denied'],
    ['10.0.0.1', 'acl_denied'],
    ['2001:db8::5', 'ok'],
    ['2001:db9::5', 'acl_denied'],
  ];
  for (const [address, want] of table) t.equal(guard.checkSource(address, 1_000), want, address);
  const open = setup(t, {}, { deny: ['10.0.0.0/8'] }).guard;
  t.equal(open.checkSource('192.0.2.1', 0), 'ok', 'empty allow admits any source');
  t.equal(open.checkSource('10.9.9.9', 0), 'acl_denied');
});

t.test('per-source bucket and global cap', async (t) => {
  const { guard } = setup(t, { registerRatePerSourcePerS: 2, registerBurstPerSource: 3, registerRateGlobalPerS: 5 });
  const first = [0, 1, 2, 3].map(() => guard.checkSource('127.0.0.2', 0));
  t.same(first, ['ok', 'ok', 'ok', 'rate_limited'], 'burst of 3, then limited');
  t.equal(guard.checkSource('127.0.0.3', 0), 'ok', 'another source has its own bucket');
  t.equal(guard.checkSource('127.0.0.4', 0), 'ok');
  t.equal(guard.checkSource('127.0.0.5', 0), 'overloaded', 'the 6th admitted request in one second meets the global cap of 5');
  t.equal(guard.checkSource('127.0.0.2', 500), 'ok', 'one token back after 500 ms at 2/s (and the global refilled 2.5)');
  t.equal(guard.checkSource('127.0.0.2', 500), 'rate_limited');
  // Rate-limited requests do not spend the global budget that other phones need.
  const { guard: g2 } = setup(t, { registerRatePerSourcePerS: 1, registerBurstPerSource: 1, registerRateGlobalPerS: 2 });
  for (let i = 0; i < 100; i++) g2.checkSource('127.0.0.9', 0);
  t.equal(g2.checkSource('127.0.0.10', 0), 'ok');
  t.equal(g2.checkSource('127.0.0.11', 0), 'overloaded', 'only the flooder\'s 1 admitted request and one other fit in 2');
  // 0 = off
  const { guard: off } = setup(t, { registerRatePerSourcePerS: 0, registerRateGlobalPerS: 0 });
  let ok = 0;
  for (let i = 0; i < 10_000; i++) if (off.checkSource('127.0.0.2', 0) === 'ok') ok++;
  t.equal(ok, 10_000, 'both limits off');
});

t.test('a pair is suspended after RETRY failures; the number from another address is not', async (t) => {
  const { guard, store } = setup(t);
  let now = 1_000_000;
  t.equal(guard.checkNumber('1001', '127.0.0.66', now), 'ok');
  t.equal(guard.authFailed('1001', '127.0.0.66', 'brute/1', now++), false);
  t.equal(guard.authFailed('1001', '127.0.0.66', 'brute/1', now++), false);
  t.equal(guard.authFailed('1001', '127.0.0.66', 'brute/1', now++), true, 'the third failure suspends');
  await committed(store);
  t.equal(guard.checkNumber('1001', '127.0.0.66', now), 'pair_locked');
  t.equal(guard.checkSource('127.0.0.66', now), 'ok', 'only the pair, not the whole address');
  t.equal(guard.checkNumber('1002', '127.0.0.66', now), 'ok', 'another number from the attacker\'s address');
  t.equal(guard.checkNumber('1001', '127.0.0.2', now), 'ok', 'the phone on its own address keeps working');
  const [lock] = activeLockouts(store, now);
  t.match(lock, { key: 'pair:1001@127.0.0.66', kind: 'pair', number: '1001', address: '127.0.0.66', failures: 3, untilMs: now - 1 + 60_000 });
  const events = queryEvents(store, { type: 'locked_out' });
  t.equal(events.length, 1);
  t.match(events[0], { number: '1001', source: '127.0.0.66', userAgent: 'brute/1', detail: /SS_ENDPOINT_REGISTER_RETRY/ });
  t.equal(guard.checkNumber('1001', '127.0.0.66', now + 59_000), 'pair_locked', 'still suspended');
  t.equal(guard.checkNumber('1001', '127.0.0.66', now + 60_000), 'ok', 'lapsed: treated as absent');
});

t.test('success resets the count; failures age out', async (t) => {
  const { guard, store } = setup(t);
  guard.authFailed('1001', '127.0.0.7', 'ua', 0);
  guard.authFailed('1001', '127.0.0.7', 'ua', 1);
  guard.checkNumber('1001', '127.0.0.7', 2);
  guard.authSucceeded('1001', '127.0.0.7');
  t.equal(guard.authFailed('1001', '127.0.0.7', 'ua', 3), false);
  t.equal(guard.authFailed('1001', '127.0.0.7', 'ua', 4), false, 'counting started again after the success');
  t.equal(guard.authFailed('1001', '127.0.0.7', 'ua', 4 + guardLimits.failureWindowMs + 1), false, 'an hour of quiet: starts again');
  t.equal(guard.authFailed('1001', '127.0.0.7', 'ua', 5 + guardLimits.failureWindowMs + 1), false);
  t.equal(guard.authFailed('1001', '127.0.0.7', 'ua', 6 + guardLimits.failureWindowMs + 1), true);
  await committed(store);
  // RETRY 0 = never suspend
  const { guard: off } = setup(t, { registerRetryCount: 0 });
  let locked = 0;
  for (let i = 0; i < 100; i++) if (off.authFailed('1001', '127.0.0.8', 'ua', i)) locked++;
  t.equal(locked, 0);
});

t.test('scanner: one address failing across many numbers is suspended as a whole', async (t) => {
  const { guard, store } = setup(t, { registerRetryCount: 10, scannerNumbersMax: 4 });
  const now = 5_000;
  t.equal(guard.authFailed('2001', '127.0.0.99', 'friendly-scanner', now), false);
  t.equal(guard.authFailed('2001', '127.0.0.99', 'friendly-scanner', now), false, 'the same number again is not a new number');
  t.equal(guard.authFailed('2002', '127.0.0.99', 'friendly-scanner', now), false);
  t.equal(guard.authFailed('2003', '127.0.0.99', 'friendly-scanner', now), false);
  t.equal(guard.authFailed('2004', '127.0.0.99', 'friendly-scanner', now), true, 'the 4th distinct number');
  await committed(store);
  t.equal(guard.checkSource('127.0.0.99', now + 1), 'address_locked');
  t.equal(guard.checkSource('::ffff:127.0.0.99', now + 1), 'address_locked', 'the same address seen from a dual-stack socket');
  t.equal(guard.checkSource('127.0.0.98', now + 1), 'ok');
  t.match(queryEvents(store, { type: 'locked_out' })[0], { number: '', source: '127.0.0.99', detail: /SS_REGISTER_SCANNER_NUMBERS/ });
  t.match(activeLockouts(store, now)[0], { key: 'addr:127.0.0.99', kind: 'address', failures: 4 });
  t.equal(guard.checkSource('127.0.0.99', now + 60_000), 'ok', 'lapsed');
});

t.test('a restart does not pardon: the suspension is read back from a reopened store', async (t) => {
  const dir = tmpDataDir('sipreg-guard-restart-');
  const config = makeConfig(dir, BASE);
  let store = openStore(dir);
  let guard = createGuard(makeContext(store, config));
  for (let i = 0; i < 3; i++) guard.authFailed('1001', '127.0.0.66', 'ua', 10_000 + i);
  await committed(store);
  await store.close();
  store = openStore(dir);
  t.teardown(() => store.close());
  guard = createGuard(makeContext(store, config));
  t.equal(guard.checkNumber('1001', '127.0.0.66', 20_000), 'pair_locked', 'a new guard over the reopened store');
  t.equal(guard.checkNumber('1001', '127.0.0.66', 10_002 + 60_000), 'ok', 'until SUSPEND has passed');
  // An operator's unlock (another process, the same store) takes effect at once.
  await unlock(store, '127.0.0.66');
  t.equal(guard.checkNumber('1001', '127.0.0.66', 20_000), 'ok', 'unlocked');
});

t.test('operator hold: number_held until it lapses', async (t) => {
  const { guard, store } = setup(t);
  await store.lockouts.put(lockoutKeyNumber('1005'), {
    key: lockoutKeyNumber('1005'), kind: 'number', address: '', number: '1005', untilMs: 50_000, createdAtMs: 0, failures: 0, reason: 'operator hold',
  });
  t.equal(guard.checkNumber('1005', '127.0.0.2', 49_999), 'number_held');
  t.equal(guard.checkNumber('1005', '127.0.0.3', 49_999), 'number_held', 'from any address');
  t.equal(guard.checkNumber('1006', '127.0.0.2', 49_999), 'ok');
  t.equal(guard.checkNumber('1005', '127.0.0.2', 50_000), 'ok');
});

t.test('a hold another process writes is seen from the next turn, after the store was found empty', async (t) => {
  const { guard, store } = setup(t);
  t.equal(guard.checkNumber('1007', '127.0.0.2', 1_000), 'ok', 'nothing suspended: the empty store is remembered for this turn');
  t.equal(guard.checkSource('127.0.0.2', 1_000), 'ok');
  // The console's kick-and-hold: a plain put into the same store, committed in a later turn.
  await store.lockouts.put(lockoutKeyNumber('1007'), {
    key: lockoutKeyNumber('1007'), kind: 'number', address: '', number: '1007', untilMs: 50_000, createdAtMs: 0, failures: 0, reason: 'operator hold',
  });
  t.equal(guard.checkNumber('1007', '127.0.0.2', 1_001), 'number_held');
  await store.lockouts.remove(lockoutKeyNumber('1007'));
  await new Promise((r) => setImmediate(r));
  t.equal(guard.checkNumber('1007', '127.0.0.2', 1_002), 'ok', 'and its removal too');
});

t.test('a suspension never shortens a longer one already there', async (t) => {
  const { guard, store } = setup(t);
  await store.lockouts.put('pair:1001@127.0.0.5', {
    key: 'pair:1001@127.0.0.5', kind: 'pair', address: '127.0.0.5', number: '1001', untilMs: 10_000_000, createdAtMs: 0, failures: 0, reason: 'operator',
  });
  for (let i = 0; i < 3; i++) guard.authFailed('1001', '127.0.0.5', 'ua', 1_000);
  await committed(store);
  t.equal(store.lockouts.get('pair:1001@127.0.0.5')?.untilMs, 10_000_000);
  t.equal(queryEvents(store, { type: 'locked_out' }).length, 0, 'nothing new to report');
});

t.test('lapsed suspensions are swept, live ones kept', async (t) => {
  const { guard, store } = setup(t, { registerSuspendS: 10 });
  for (let i = 0; i < 3; i++) guard.authFailed('1001', '127.0.0.5', 'ua', 0);
  for (let i = 0; i < 3; i++) guard.authFailed('1002', '127.0.0.5', 'ua', 5_000);
  await committed(store);
  t.equal(await sweepLockouts(store, 9_999), 0);
  t.equal(await sweepLockouts(store, 10_000), 1);
  t.same(activeLockouts(store, 0).map((l) => l.key), ['pair:1002@127.0.0.5']);
  t.equal(await sweepLockouts(store, 20_000), 1);
  t.equal(store.lockouts.getCount(), 0);
});

t.test('reload applies new limits and lists', async (t) => {
  const { guard, dir } = setup(t, { registerRatePerSourcePerS: 1, registerBurstPerSource: 1 });
  t.equal(guard.checkSource('127.0.0.2', 0), 'ok');
  t.equal(guard.checkSource('127.0.0.2', 0), 'rate_limited');
  guard.reload(makeConfig(dir, { ...BASE, registerRatePerSourcePerS: 0, registerRateGlobalPerS: 1 }, { deny: ['127.0.0.3'] }));
  t.equal(guard.checkSource('127.0.0.2', 0), 'ok', 'per-source limit off');
  t.equal(guard.checkSource('127.0.0.3', 0), 'acl_denied', 'new deny list');
  t.equal(guard.checkSource('127.0.0.4', 0), 'overloaded', 'global cap on');
});

t.test('a suspension holds from the failure that triggers it, before its write commits', async (t) => {
  const { guard, store } = setup(t, { scannerNumbersMax: 3 });
  for (let i = 0; i < 2; i++) t.equal(guard.authFailed('1001', '127.0.0.2', 'ua', 1_000), false);
  t.equal(guard.authFailed('1001', '127.0.0.2', 'ua', 1_000), true, 'the third failure suspends');
  t.equal(store.lockouts.getCount(), 0, 'the lockout is not committed yet');
  t.equal(guard.checkNumber('1001', '127.0.0.2', 1_001), 'pair_locked', 'yet the next attempt in the same turn is refused');
  t.equal(guard.checkNumber('1001', '127.0.0.3', 1_001), 'ok');
  guard.authFailed('2001', '127.0.0.4', 'ua', 1_000);
  guard.authFailed('2002', '127.0.0.4', 'ua', 1_000);
  guard.authFailed('2003', '127.0.0.4', 'ua', 1_000);
  t.equal(guard.checkSource('127.0.0.4', 1_001), 'address_locked', 'a scanner is refused at once too');
  await committed(store);
  t.equal(guard.checkNumber('1001', '127.0.0.2', 1_002), 'pair_locked', 'and from the store once committed');
  t.equal(activeLockouts(store, 1_002).length, 2);
});

t.test('an IPv6 /64 is one source: one bucket, one pair count, one lockout', async (t) => {
  const { guard, store } = setup(t, { registerRatePerSourcePerS: 1, registerBurstPerSource: 3 });
  const inPrefix = ['2001:db8:1:2::a', '2001:db8:1:2:ffff::b', '2001:0db8:0001:0002::c'];
  t.same(inPrefix.map((a) => guard.checkSource(a, 0)), ['ok', 'ok', 'ok'], 'three addresses of one /64 share a burst of 3');
  t.equal(guard.checkSource('2001:db8:1:2::d', 0), 'rate_limited', 'a fourth address in it meets the empty bucket');
  t.equal(guard.checkSource('2001:db8:1:3::a', 0), 'ok', 'the next /64 has its own');
  t.equal(guard.checkSource('127.0.0.2', 0), 'ok');
  for (const a of inPrefix) guard.authFailed('1001', a, 'ua', 1_000);
  await committed(store);
  t.equal(guard.checkNumber('1001', '2001:db8:1:2::99', 1_001), 'pair_locked', 'three failures from three addresses of the /64 suspend it');
  t.equal(guard.checkNumber('1001', '2001:db8:1:3::1', 1_001), 'ok', 'not the next /64');
  t.match(activeLockouts(store, 1_001), [{ key: 'pair:1001@2001:db8:1:2::/64', address: '2001:db8:1:2::/64' }]);
  // An operator's hold of one IPv6 address (the console holds where a binding came from) is honoured.
  await store.lockouts.put('addr:2001:db8:1:5::7', {
    key: 'addr:2001:db8:1:5::7', kind: 'address', address: '2001:db8:1:5::7', number: '', untilMs: 50_000, createdAtMs: 0, failures: 0, reason: 'held',
  });
  t.equal(guard.checkSource('2001:db8:1:5::7', 2_000), 'address_locked');
  t.equal(guard.checkSource('2001:db8:1:5::8', 2_000), 'ok', 'its neighbours are not held');
});

t.test('a number failing from many sources is suspended for new ones; the count decays', async (t) => {
  const { guard, store } = setup(t, { numberFailuresMax: 5, registerSuspendS: 60 });
  let now = 1_000_000;
  const results: boolean[] = [];
  for (let i = 1; i <= 5; i++) results.push(guard.authFailed('1001', `127.0.3.${i}`, 'ua', now));
  t.same(results, [false, false, false, false, true], 'the 5th failure, from the 5th address, suspends');
  await committed(store);
  t.equal(guard.checkNumber('1001', '127.0.3.99', now + 1), 'number_suspended', 'from any source (the registrar exempts where it is registered)');
  t.equal(guard.checkNumber('1002', '127.0.3.99', now + 1), 'ok');
  t.match(activeLockouts(store, now), [{ key: lockoutKeyGuessed('1001'), kind: 'number', number: '1001', address: '', failures: 5 }]);
  t.match(queryEvents(store, { type: 'locked_out' }), [{ number: '1001', detail: /SS_REGISTER_NUMBER_FAILURES/ }]);
  t.equal(guard.authFailed('1001', '127.0.3.6', 'ua', now + 1), false, 'more failures while suspended renew nothing');
  t.equal(guard.checkNumber('1001', '127.0.3.99', now + 60_000), 'ok', 'lapsed after SUSPEND');
  t.equal(guard.authFailed('1001', '127.0.3.7', 'ua', now + 60_000), true, 'guessing still going on: the next failure suspends again');
  await committed(store);
  now += 60_000;
  // Decay: 5 an hour. After 36 minutes quiet 3 are gone, so 3 more failures are needed.
  now += 36 * 60_000;
  t.equal(guard.authFailed('1001', '127.0.3.8', 'ua', now), false);
  t.equal(guard.authFailed('1001', '127.0.3.9', 'ua', now), false);
  t.equal(guard.authFailed('1001', '127.0.3.10', 'ua', now), true, 'after the decay, three failures suspend again');
  await unlock(store, '1001');
  t.equal(guard.checkNumber('1001', '127.0.3.99', now), 'ok', 'sipreg unlock NUMBER lifts it');
  t.equal(guard.tableSizes().failingNumbers, 1);
  // 0 = off
  const { guard: off } = setup(t, { numberFailuresMax: 0 });
  let locked = 0;
  for (let i = 0; i < 100; i++) if (off.authFailed('1001', `127.0.4.${i}`, 'ua', i)) locked++;
  t.equal(locked, 0);
});

t.test('locked_out events and their log lines are capped per second; the suspensions are not', async (t) => {
  const { guard, store } = setup(t, { registerRetryCount: 1 });
  for (let i = 0; i < 100; i++) guard.authFailed(`1${String(i).padStart(3, '0')}`, '127.0.5.1', 'ua', 7_000);
  await committed(store);
  t.equal(activeLockouts(store, 7_000).length, 100, 'all 100 suspensions written');
  t.equal(queryEvents(store, { type: 'locked_out' }).length, registrarLimits.lockoutEventsPerSecondMax, 'the history holds the cap');
  guard.authFailed('2000', '127.0.5.1', 'ua', 8_000);
  await committed(store);
  t.equal(queryEvents(store, { type: 'locked_out' }).length, registrarLimits.lockoutEventsPerSecondMax + 1, 'the next second writes again');
});
