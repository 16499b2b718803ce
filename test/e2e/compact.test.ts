// Giving the disk back through the real binary (issue 19): the service compacts a mostly free store at
// start; `sipreg compact` refuses while the service runs and compacts once it is stopped; bindings and
// history come through.
import t from 'tap';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startService } from './service.js';
import { tmpDir } from '../helpers/sipreg.js';
import { sparseStore } from '../store/fixtures/sparse-store.js';

t.test('compaction at start, and sipreg compact only with the service stopped', async (t) => {
  const dir = tmpDir('sipreg-compact-e2e-');
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  await sparseStore(dataDir);
  const sparse = statSync(join(dataDir, 'data.mdb')).size;
  const svc = await startService('params:\n  SS_REGISTER_RATE_PER_IP: 0\n', { dir });
  t.teardown(() => svc.kill('SIGKILL'));
  const log = svc.log.join('');
  t.match(log, /"msg":"store compacted at start: [\d.]+ MiB given back"/, 'the service compacted the store before opening it');
  const compacted = statSync(join(dataDir, 'data.mdb')).size;
  t.ok(compacted < sparse / 4, `${sparse} -> ${compacted} B`);
  const list = JSON.parse(svc.cli(['list', '--json']).stdout) as unknown[];
  t.equal(list.length, 50, 'every binding came through');
  const events = JSON.parse(svc.cli(['events', '--json', '--type', 'refreshed']).stdout) as unknown[];
  t.equal(events.length, 100, 'and the history kept');

  const refused = svc.cli(['compact']);
  t.equal(refused.status, 1, 'refused while the service runs');
  t.match(refused.stderr, new RegExp(`^sipreg compact: ERR_CLI_STORE: data_dir ${dataDir}: the store is open in process ${svc.child.pid} \\(the sipreg service, pid ${svc.child.pid}\\); stop the service first`));

  await svc.kill('SIGTERM');
  const done = svc.cli(['compact']);
  t.equal(done.status, 0, done.stderr);
  t.match(done.stdout, new RegExp(`^(compacted ${dataDir}: [\\d.]+ MiB -> [\\d.]+ MiB|${dataDir}: not compacted: no free pages)`));
  await svc.restart();
  t.equal((JSON.parse(svc.cli(['list', '--json']).stdout) as unknown[]).length, 50, 'the service starts on the compacted store');
});
