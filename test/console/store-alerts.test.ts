/**
 * Issue 16, item 5, the store's alerts through the binary: the data_dir on a 48 MiB tmpfs. Something
 * else filling the file system (a filler file) raises "store nearly full" in `sipreg stats`; when the
 * disk is full, REGISTERs are answered 500 and, once a write succeeds again, the service's counters
 * snapshot carries when writes failed, so `stats` shows "store writes failing". Freeing space clears the
 * nearly-full alert. Needs root for the mount, as test/e2e/disk-full.test.ts.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/sipreg.js';
import { startService } from '../e2e/service.js';
import { SipClient } from '../registrar/sipclient.js';
import { STORE_FREE_MIN_BYTES } from '../../src/stats/active-alerts.js';

interface StatsJson { alerts: { kind: string; detail: string }[] }

t.test('store nearly full, then store writes failing, in stats; freeing space clears nearly-full', async (t) => {
  const dir = tmpDir('sipreg-store-alerts-');
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', mnt]);
  t.teardown(() => { try { execFileSync('umount', ['-l', mnt]); } catch { /* already gone */ } });
  const numbers = Array.from({ length: 3000 }, (_, i) => String(500000 + i));
  const accounts = 'accounts:\n' + numbers.map((n) => `  - { number: "${n}", auth_mode: ip, allow: ["127.0.0.0/8"] }`).join('\n') + '\n';
  const svc = await startService('params:\n  SS_STORE_FLUSH_INTERVAL: 1\n  SS_REGISTER_RATE_PER_IP: 0\n  SS_ENDPOINT_EXPIRE_JITTER: 0\n' + accounts, { dir });
  await svc.kill('SIGTERM');
  writeFileSync(svc.configFile, readFileSync(svc.configFile, 'utf8').replace(`data_dir: ${svc.dataDir}`, `data_dir: ${join(mnt, 'data')}`));
  await svc.restart();
  t.teardown(() => svc.kill('SIGKILL'));
  const stats = (): StatsJson => JSON.parse(svc.cli(['stats', '--json']).stdout) as StatsJson;
  const kinds = (): string[] => stats().alerts.map((a) => a.kind);

  t.same(kinds(), [], 'an empty 48 MiB file system: no alert');

  // Something else fills the file system to under the bound.
  const filler = join(mnt, 'filler');
  const free = (): number => { const s = statfsSync(mnt); return s.bavail * s.bsize; };
  execFileSync('fallocate', ['-l', String(free() - STORE_FREE_MIN_BYTES + 4 * 1024 * 1024), filler]);
  t.match(stats().alerts, [{ kind: 'store_nearly_full', detail: /^store nearly full: \d+\.\d MiB free of 48\.0 MiB/ }]);
  t.match(svc.cli(['stats']).stdout, /\nAlerts \(1\):\n  \d\d:\d\d store nearly full: /, 'sipreg stats lists it');

  // Then full: REGISTERs that cannot be stored are answered 500.
  rmSync(filler);
  execFileSync('fallocate', ['-l', String(free() - 256 * 1024), filler]);
  const c = await SipClient.open(svc.port);
  t.teardown(() => c.close());
  let failed = 0;
  for (let i = 0; i < numbers.length && failed < 20; i += 50) {
    const answers = await Promise.all(numbers.slice(i, i + 50).map((n) => c.register({
      user: n, expires: 600, contacts: [`<sip:${n}@127.0.0.1:${c.port};pad=${'p'.repeat(400)}>`],
    }, 2000).then((r) => r.status, () => 0)));
    failed += answers.filter((s) => s === 500).length;
  }
  t.ok(failed > 0, `REGISTERs answered 500 on the full disk (${failed})`);

  // Space again: the next counters snapshot (every 5 s) records when the writes failed.
  rmSync(filler);
  const deadline = Date.now() + 15_000;
  while (!kinds().includes('store_write_failures') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  const after = stats().alerts;
  t.match(after, [{ kind: 'store_write_failures', detail: /^store writes failing: \d+ since the service started, the last 0 min ago \(disk full\? REGISTERs get 500\)$/ }]);
  t.notOk(after.some((a) => a.kind === 'store_nearly_full'), 'nearly full is cleared with the space back');
  t.equal(svc.child.exitCode, null, 'the service kept running');
});
