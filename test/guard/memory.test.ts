// A flood of spoofed sources: 1,000,000 distinct addresses through checkSource and authFailed keeps
// every tracking table at its bound and the heap flat (STYLE.md: allocation tests under --expose-gc).
import t from 'tap';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createGuard } from '../../src/registrar/guard.js';
import { guardLimits } from '../../src/limits.js';
import { makeConfig, makeContext, openStore, tmpDataDir } from './fixtures/context.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function spoofed(i: number): string {
  return `${10 + (i >>> 24)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

t.test('1,000,000 spoofed sources: tables at their bound, heap bounded', async (t) => {
  const dir = tmpDataDir('sipreg-guard-mem-');
  const store = openStore(dir);
  t.teardown(() => store.close());
  const ctx = makeContext(store, makeConfig(dir, {
    registerRetryCount: 6, scannerNumbersMax: 5, registerRatePerSourcePerS: 20, registerBurstPerSource: 60, registerRateGlobalPerS: 0,
  }));
  const guard = createGuard(ctx);
  const flood = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const address = spoofed(i);
      if (guard.checkSource(address, i) !== 'ok') continue;
      // A suspended number is still challenged and its answers counted; only a suspended pair stops here.
      if (guard.checkNumber('1001', address, i) === 'pair_locked') continue;
      if ((i & 3) === 0) guard.authFailed(`${1000 + (i & 7)}`, address, 'friendly-scanner', i);
      if ((i & 3) === 1) guard.authFailed(`${i}`, address, 'friendly-scanner', i); // made-up numbers
    }
  };
  flood(0, 200_000); // fills every table
  gc();
  const before = process.memoryUsage().heapUsed;
  const started = process.hrtime.bigint();
  flood(200_000, 1_000_000);
  const ns = Number(process.hrtime.bigint() - started) / 800_000;
  gc();
  const after = process.memoryUsage().heapUsed;
  const sizes = guard.tableSizes();
  t.equal(sizes.sources, guardLimits.sourceTableMax, 'sources at their bound');
  t.equal(sizes.failingPairs, guardLimits.failurePairTableMax, 'failing pairs at their bound');
  t.equal(sizes.failingAddresses, guardLimits.failureAddressTableMax, 'failing addresses at their bound');
  t.equal(sizes.failingNumbers, guardLimits.failureNumberTableMax, 'failing numbers at their bound');
  const growth = after - before;
  t.ok(growth < 8 * 1024 * 1024, `heap growth over 800,000 more sources: ${(growth / 1024 / 1024).toFixed(1)} MiB`);
  t.comment(`~${(ns / 1000).toFixed(1)} µs per spoofed request (3.4 µs on an idle 2-core box)`);
  t.equal(guard.checkSource('192.0.2.1', 2_000_000), 'ok', 'a normal phone still gets through');
});

t.test('the ok path of a known source keeps the heap flat over 100,000 requests (lockout keys cached per source)', async (t) => {
  const dir = tmpDataDir('sipreg-guard-ok-');
  const store = openStore(dir);
  t.teardown(() => store.close());
  const ctx = makeContext(store, makeConfig(dir, { registerRatePerSourcePerS: 0, registerRateGlobalPerS: 0 }));
  const guard = createGuard(ctx);
  const addresses = Array.from({ length: 100 }, (_, i) => `127.0.1.${i}`);
  for (let i = 0; i < 1_000; i++) {
    guard.checkSource(addresses[i % 100]!, i);
    guard.checkNumber(`20${i % 100}`, addresses[i % 100]!, i);
  }
  const numbers = Array.from({ length: 100 }, (_, i) => `20${i}`);
  gc();
  const before = process.memoryUsage().heapUsed;
  let ok = 0;
  for (let i = 0; i < 100_000; i++) {
    if (guard.checkSource(addresses[i % 100]!, i) === 'ok' && guard.checkNumber(numbers[i % 100]!, addresses[i % 100]!, i) === 'ok') ok++;
    guard.authSucceeded(numbers[i % 100]!, addresses[i % 100]!);
  }
  gc();
  const growth = process.memoryUsage().heapUsed - before;
  t.equal(ok, 100_000);
  t.ok(growth < 1024 * 1024, `heap growth ${(growth / 1024).toFixed(0)} KiB`);
});
