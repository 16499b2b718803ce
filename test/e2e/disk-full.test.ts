// A full disk: REGISTERs whose commit fails get 500 (with Retry-After) and are not stored; those that
// got 200 are; the service keeps running. Needs root (a small tmpfs as data_dir).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startService } from './service.js';
import { SipClient } from '../registrar/sipclient.js';
import { tmpDir } from '../helpers/sipreg.js';

// Mounting the tmpfs needs root, as `make test` does (it installs its apt tools).
t.test('full disk: 500, nothing claimed, no crash', async (t) => {
  const dir = tmpDir('sipreg-full-');
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1200k', 'tmpfs', mnt]);
  t.teardown(() => { try { execFileSync('umount', ['-l', mnt]); } catch { /* already gone */ } });
  const numbers = Array.from({ length: 2000 }, (_, i) => String(400000 + i));
  const accounts = 'accounts:\n' + numbers.map((n) => `  - { number: "${n}", auth_mode: ip, allow: ["127.0.0.0/8"] }`).join('\n') + '\n';
  const svc = await startService('params:\n  SS_REGISTER_RATE_PER_IP: 0\n  SS_ENDPOINT_EXPIRE_JITTER: 0\n  SS_STORE_FLUSH_INTERVAL: 2\n' + accounts, { dir });
  // data_dir on the tmpfs: restart the service there.
  await svc.kill('SIGTERM');
  const { writeFileSync, readFileSync } = await import('node:fs');
  writeFileSync(svc.configFile, readFileSync(svc.configFile, 'utf8').replace(`data_dir: ${svc.dataDir}`, `data_dir: ${join(mnt, 'data')}`));
  await svc.restart();
  t.teardown(() => svc.kill('SIGKILL'));
  const c = await SipClient.open(svc.port);
  t.teardown(() => c.close());
  const codes = new Map<number, number>();
  const ok: string[] = [];
  for (let i = 0; i < numbers.length; i += 50) {
    const batch = numbers.slice(i, i + 50).map((n) => c.register({
      user: n, expires: 600, contacts: [`<sip:${n}@127.0.0.1:${c.port};pad=${'p'.repeat(400)}>`], extra: [`X-Pad: ${'z'.repeat(300)}`],
    }, 2000).then((r) => { codes.set(r.status, (codes.get(r.status) ?? 0) + 1); if (r.status === 200) ok.push(n); }, () => undefined));
    const answered = codes.size === 0 ? 0 : [...codes.values()].reduce((a, b) => a + b, 0);
    await Promise.all(batch);
    const now = [...codes.values()].reduce((a, b) => a + b, 0);
    if ((codes.get(500) ?? 0) >= 20 || now === answered) break; // enough failures seen, or nothing answers
  }
  t.ok((codes.get(200) ?? 0) > 0, `some stored before the disk filled: ${JSON.stringify([...codes])}`);
  t.ok((codes.get(500) ?? 0) > 0, 'then 500s');
  // Past a few flushes (heartbeat, counters snapshot: every SS_STORE_FLUSH_INTERVAL, 2 s here): they fail on the full disk too.
  await new Promise((r) => setTimeout(r, 6000));
  const list = svc.cli(['list', '--json']);
  const stored = new Set(list.status === 0 ? (JSON.parse(list.stdout) as { number: string }[]).map((b) => b.number) : []);
  t.same(ok.filter((n) => !stored.has(n)), [], `every 200 is stored (${ok.length} answered 200, ${stored.size} stored; list: ${list.stderr.slice(0, 200)})`);
  t.equal(svc.child.exitCode, null, 'still running after the failed commits (the periodic flushes fail too)');
});
