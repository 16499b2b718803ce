// `sipreg firmware check-boot` (what sipreg-boot-check.service runs to bless a counted boot): good only
// once the service answers an OPTIONS on its own listen address and its store is open; else exit 1.
import t from 'tap';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { startService } from '../e2e/service.js';
import { freeUdpPort, runSipreg, tmpDir, writeConfig } from '../helpers/sipreg.js';
import { openStore } from '../../src/store/index.js';

t.test('the service up: a good boot', async (t) => {
  const svc = await startService('');
  t.teardown(() => svc.kill('SIGKILL'));
  const r = svc.cli(['firmware', 'check-boot', '--timeout', '20']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, new RegExp(`^good boot: 127\\.0\\.0\\.1:${svc.port} answers 'SIP/2\\.0 \\d{3} [^']*', store ${svc.dataDir} open by pid ${svc.child.pid}\\n$`));
});

t.test('nobody answering: not a good boot, exit 1 after the timeout', async (t) => {
  const dir = tmpDir('sipreg-bootcheck-');
  const port = await freeUdpPort();
  const config = writeConfig(`sip:\n  listen: ["127.0.0.1:${port}"]\ndata_dir: ${join(dir, 'data')}\n`, dir);
  const started = Date.now();
  const r = runSipreg(['firmware', 'check-boot', '-c', config, '--timeout', '3']);
  t.equal(r.status, 1);
  t.match(r.stderr, new RegExp(`no SIP answer from 127\\.0\\.0\\.1:${port} within 3 s: this boot is not good`));
  t.ok(Date.now() - started >= 3000, 'it waited for the service');
});

t.test('a store without a running service\'s heartbeat: not a good boot, even with an answer', async (t) => {
  // Another service answers on the port, with another store: this one's store has no heartbeat.
  const svc = await startService('');
  t.teardown(() => svc.kill('SIGKILL'));
  const dir = tmpDir('sipreg-bootcheck-');
  mkdirSync(join(dir, 'data'));
  await openStore(join(dir, 'data')).close();
  const config = writeConfig(`sip:\n  listen: ["127.0.0.1:${svc.port}"]\ndata_dir: ${join(dir, 'data')}\n`, dir);
  const r = runSipreg(['firmware', 'check-boot', '-c', config, '--timeout', '10']);
  t.equal(r.status, 1);
  t.match(r.stderr, /answers \(SIP\/2\.0 \d{3}[^)]*\) but the store in .* has no running service's heartbeat/);
});
