// Real SIP user agents from apt register and unregister: sipsak (usrloc mode) and baresip.
import t from 'tap';
import { spawnSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { accountsYaml, startService, type Service } from './service.js';

let svc: Service;
t.before(async () => {
  // A change's history row is written with the next flush (issue 14): every second here.
  svc = await startService('params:\n  SS_ENDPOINT_EXPIRE_JITTER: 0\n  SS_STORE_FLUSH_INTERVAL: 1\n' + accountsYaml(['1001', '1002']));
});
t.teardown(() => svc.kill('SIGTERM'));

interface EventRow { type: string; number: string; detail: string }
function events(number: string): EventRow[] {
  const r = svc.cli(['events', '--json', '--number', number]);
  return r.status === 0 ? JSON.parse(r.stdout) as EventRow[] : [];
}
/** The history of `number` once it holds every one of `types` (a change's row joins the next flush), or after 10 s. */
async function eventsWith(number: string, types: string[]): Promise<EventRow[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const rows = events(number);
    if (types.every((ty) => rows.some((e) => e.type === ty)) || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 250));
  }
}

t.test('sipsak registers (digest), then removes its binding', async (t) => {
  // -U -C: one REGISTER of that contact (answering the 401) with -x as Expires; -x 0 removes it.
  const sipsak = (expires: number): ReturnType<typeof spawnSync> => spawnSync('sipsak', ['-U', '-C', 'sip:1001@127.0.0.1:5999', '-x', String(expires),
    '-s', `sip:1001@127.0.0.1:${svc.port}`, '-a', 'secret', '-u', '1001', '-i', '-vv'], { encoding: 'utf8', timeout: 20_000 });
  const r = sipsak(120);
  t.equal(r.status, 0, String(r.stdout).slice(-1500));
  const shown = svc.cli(['show', '1001', '--json']);
  t.match(shown.stdout, /sip:1001@127\.0\.0\.1:5999/, 'the binding is there');
  const removed = sipsak(0);
  t.equal(removed.status, 0, String(removed.stdout).slice(-1500));
  const types = (await eventsWith('1001', ['registered', 'unregistered'])).map((e) => e.type);
  t.ok(types.includes('registered'), 'registered event');
  t.ok(types.includes('unregistered'), 'unregistered event');
  t.equal(svc.cli(['show', '1001']).status, 1, 'no binding left');
});

t.test('baresip registers and unregisters on quit', async (t) => {
  const home = join(svc.dir, 'baresip');
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'accounts'), `<sip:1002@127.0.0.1:${svc.port};transport=udp>;auth_pass=secret;regint=120\n`);
  writeFileSync(join(home, 'config'), [
    'sip_listen 127.0.0.1:0', 'module_path /usr/lib/baresip/modules', 'module stdio.so', 'module account.so',
    'module_app menu.so', 'audio_player nothing', 'audio_source nothing', ''].join('\n'));
  const child = spawn('baresip', ['-f', home], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && svc.cli(['show', '1002']).status !== 0) await new Promise((r) => setTimeout(r, 300));
  t.equal(svc.cli(['show', '1002']).status, 0, `baresip registered: ${out.slice(-2000)}`);
  child.stdin.write('q');
  child.stdin.end();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 10_000);
    child.on('exit', () => { clearTimeout(timer); resolve(); });
  });
  const types = (await eventsWith('1002', ['registered', 'unregistered'])).map((e) => e.type);
  t.ok(types.includes('registered'));
  t.ok(types.includes('unregistered'), `baresip unregistered on quit: ${out.slice(-1500)}`);
});
