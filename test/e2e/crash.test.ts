// SIGKILL under load: every REGISTER that got a 200 OK is in the store after a restart (the 200 is
// sent only once its LMDB commit resolved). SIPp records every message it receives (-trace_msg).
import t from 'tap';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { accountsYaml, sippDir, startService } from './service.js';

const COUNT = 4000;
const numbers = Array.from({ length: COUNT }, (_, i) => String(100000 + i));

t.test('a SIGKILL under load loses no acknowledged registration', async (t) => {
  const svc = await startService('params:\n  SS_REGISTER_RATE_PER_IP: 0\n  SS_REGISTER_RATE_GLOBAL: 0\n' + accountsYaml(numbers));
  t.teardown(() => svc.kill('SIGKILL'));
  const csv = join(svc.dir, 'users.csv');
  writeFileSync(csv, 'SEQUENTIAL\n' + numbers.map((n) => `${n};secret`).join('\n') + '\n');
  const sipp = spawn('sipp', [`127.0.0.1:${svc.port}`, '-sf', join(sippDir, 'load-auth.xml'), '-inf', csv, '-au', '[field0]', '-ap', '[field1]', '-i', '127.0.0.1', '-p', '0',
    '-r', '1500', '-m', String(COUNT), '-l', '3000', '-nostdin', '-trace_msg', '-timeout', '20', '-max_recv_loops', '1000'],
    { cwd: svc.dir, stdio: 'ignore' });
  const sippExit = new Promise<void>((resolve) => sipp.on('exit', () => resolve()));
  await new Promise((r) => setTimeout(r, 1500));
  svc.child.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 1000));
  sipp.kill('SIGINT');
  await sippExit;

  const trace = readdirSync(svc.dir).find((f) => f.endsWith('_messages.log'));
  t.ok(trace !== undefined, 'SIPp wrote its message trace');
  const text = readFileSync(join(svc.dir, trace!), 'utf8');
  const acked = new Set<string>();
  for (const part of text.split(/message received \[\d+\] bytes :/)) {
    const body = part.trimStart();
    if (!body.startsWith('SIP/2.0 200')) continue;
    const m = /^To: <sip:(\d+)@/m.exec(body);
    if (m !== null) acked.add(m[1]!);
  }
  t.ok(acked.size > 100, `load ran before the kill (${acked.size} acknowledged)`);
  t.ok(acked.size < COUNT, 'the kill came mid-load');

  await svc.restart();
  const list = svc.cli(['list', '--json']);
  t.equal(list.status, 0, list.stderr);
  const stored = new Set((JSON.parse(list.stdout) as { number: string }[]).map((b) => b.number));
  const lost = [...acked].filter((n) => !stored.has(n));
  t.same(lost, [], `every acknowledged registration survived (${acked.size} acknowledged, ${stored.size} stored)`);
});
