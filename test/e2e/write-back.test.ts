// Issue 14 through `sipreg run`: a refresh is written with the flush (other processes see the stored
// expiry until then); SIGTERM flushes it; after kill -9 the recovery rule keeps every refreshed binding
// at least as long as its last 200 promised; `sipreg unregister` during a pending write-back stays done.
import t from 'tap';
import { SipClient, type Response } from '../registrar/sipclient.js';
import { startService, type Service } from './service.js';
import { sleep } from '../helpers/wait.js';

const numbers = ['7001', '7002', '7003', '7004'];
const body = 'params:\n  SS_ENDPOINT_EXPIRE_JITTER: 0\n  SS_ENDPOINT_MIN_EXPIRE: 1\n  SS_STORE_FLUSH_INTERVAL: 300\n  SS_REGISTER_RATE_PER_IP: 0\n' +
  'accounts:\n' + numbers.map((n) => `  - { number: "${n}", auth_mode: ip, allow: ["127.0.0.0/8"] }`).join('\n') + '\n';
const expiresOf = (r: Response): number => Number(/;expires=(\d+)/.exec(r.header('contact') ?? '')?.[1] ?? -1);

interface Shown { expires_at: string; expires_s: number; refreshed_at: string }
function show(svc: Service, number: string): Shown[] {
  const r = svc.cli(['show', number, '--json']);
  return r.status === 0 ? JSON.parse(r.stdout) as Shown[] : [];
}
interface EventRow { type: string; detail: string }
const events = (svc: Service, number: string): EventRow[] => JSON.parse(svc.cli(['events', '--json', '--number', number]).stdout) as EventRow[];

t.test('SIGTERM writes the refreshes held in memory; until then other processes show the stored expiry', async (t) => {
  const svc = await startService(body);
  t.teardown(() => svc.kill('SIGKILL'));
  const c = await SipClient.open(svc.port);
  t.teardown(() => c.close());
  t.equal((await c.register({ user: '7001', expires: 600 })).status, 200);
  const stored = show(svc, '7001')[0]!;
  t.ok(stored !== undefined, 'the new binding is stored when its 200 arrives');
  await sleep(1100);
  const sentMs = Date.now();
  const r = await c.register({ user: '7001', expires: 900 });
  t.equal(expiresOf(r), 900);
  const promisedMs = sentMs + 900_000;
  t.equal(show(svc, '7001')[0]!.expires_at, stored.expires_at, 'another process still reads the stored expiry (at most one interval behind)');
  await svc.kill('SIGTERM');
  await svc.restart();
  const after = show(svc, '7001')[0]!;
  t.ok(Date.parse(after.expires_at) >= promisedMs, `the stop wrote the refreshed expiry (${after.expires_at})`);
  t.equal(after.expires_s, 900);
  const refreshed = events(svc, '7001').filter((e) => e.type === 'refreshed');
  t.equal(refreshed.length, 1);
  t.match(refreshed[0]!.detail, /for 900 s .*; 1 refresh of this number since /);
  t.ok(!svc.log.join('').includes('not clean'), 'a clean stop: no recovery at the next start');
});

t.test('kill -9: the next start keeps a refreshed binding to its promise, past its stored expiry', async (t) => {
  const svc = await startService(body);
  t.teardown(() => svc.kill('SIGKILL'));
  const c = await SipClient.open(svc.port);
  t.teardown(() => c.close());
  const firstMs = Date.now();
  t.equal((await c.register({ user: '7002', expires: 8 })).status, 200);
  await sleep(1500);
  const sentMs = Date.now();
  const r = await c.register({ user: '7002', expires: 8 });
  t.equal(expiresOf(r), 8);
  const promisedMs = sentMs + 8000;
  const storedMs = Date.parse(show(svc, '7002')[0]!.expires_at);
  t.ok(storedMs >= firstMs + 8000 && storedMs < sentMs + 8000, 'the store holds the first expiry: the refresh is in memory only');
  await svc.kill('SIGKILL');
  // Past the stored expiry: without the recovery rule the first sweep would remove the binding.
  await sleep(Math.max(0, storedMs + 500 - Date.now()));
  await svc.restart();
  t.match(svc.log.join(''), /the last stop was not clean/);
  await sleep(2500); // a few sweep passes
  const kept = show(svc, '7002');
  t.equal(kept.length, 1, 'not swept at its stored expiry');
  t.ok(Date.parse(kept[0]!.expires_at) >= promisedMs, `kept at least until the promise (${kept[0]!.expires_at})`);
  t.match(JSON.parse(svc.cli(['events', '--json', '--type', 'alert']).stdout) as EventRow[], [{ detail: /unclean stop/ }]);
  // The phone comes back (or not): its next REGISTER is a refresh of the kept binding.
  t.equal((await c.register({ user: '7002', expires: 60 })).status, 200);
});

t.test('sipreg unregister while a refresh waits in memory: the flush does not bring it back', async (t) => {
  const svc = await startService(body);
  t.teardown(() => svc.kill('SIGKILL'));
  const c = await SipClient.open(svc.port);
  t.teardown(() => c.close());
  t.equal((await c.register({ user: '7003', expires: 600 })).status, 200);
  t.equal((await c.register({ user: '7003', expires: 600 })).status, 200, 'a refresh, held in memory');
  const u = svc.cli(['unregister', '7003']);
  t.equal(u.status, 0, u.stderr);
  const q = await c.register({ user: '7003', contacts: [] });
  t.equal(q.all('contact').length, 0, 'the service sees the removal at once');
  await svc.kill('SIGTERM'); // the final flush, with the refresh
  await svc.restart();
  t.same(show(svc, '7003'), [], 'still unregistered');
  t.ok(events(svc, '7003').some((e) => e.type === 'force_unregistered'));
});
