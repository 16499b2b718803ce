// Giving the disk back (issue 19): the compacting copy replaces the file with every entry kept, only
// when worth it at start, and never while another process has the store open.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindingCount, compactStore, historyRows, measureStore, openStore, putBinding, queryEvents, storeHolders, type Store } from '../../src/store/index.js';
import { binding } from '../console/fixtures/seed.js';
import { sparseStore } from './fixtures/sparse-store.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'sipreg-compact-'));

t.test('a sparse store is compacted: smaller file, every entry kept', async (t) => {
  const dir = tmp();
  await sparseStore(dir);
  let s: Store = openStore(dir);
  const before = measureStore(s);
  t.ok(before.freePages > before.filePages / 2, `mostly free (${before.freePages} of ${before.filePages} pages)`);
  await s.close();
  const c = await compactStore(dir, { whenSparse: true });
  t.equal(c.compacted, true, c.reason);
  t.equal(c.beforeBytes, before.fileBytes);
  t.ok(c.afterBytes < before.fileBytes / 4, `${c.beforeBytes} -> ${c.afterBytes} B`);
  t.equal(statSync(join(dir, 'data.mdb')).size, c.afterBytes);
  t.same(readdirSync(dir).sort(), ['data.mdb', 'lock.mdb'], 'no copy left behind');
  s = openStore(dir);
  t.equal(bindingCount(s), 50, 'bindings kept');
  t.equal(historyRows(s), 100, 'history kept');
  t.equal(queryEvents(s, { newestFirst: true, limit: 1 })[0]?.detail, 'kept 0');
  await s.meta.put('after', 'writable');
  t.equal(s.meta.get('after'), 'writable', 'the compacted store takes writes');
  await s.close();
  const again = await compactStore(dir, { whenSparse: true });
  t.equal(again.compacted, false, 'a compact store is left alone at start');
  t.match(again.reason, /not worth a copy/);
});

t.test('a store with little free is not compacted at start; `sipreg compact` copies it anyway', async (t) => {
  const dir = tmp();
  const s = openStore(dir);
  await putBinding(s, binding('700100'));
  await s.close();
  t.match(await compactStore(dir, { whenSparse: true }), { compacted: false, reason: /not worth a copy/ });
  const forced = await compactStore(dir, { whenSparse: false });
  t.ok(forced.compacted || /no free pages/.test(forced.reason), forced.reason);
  t.equal(existsSync(join(dir, 'compacting')), false);
  t.match(await compactStore(join(dir, 'nothing-here'), { whenSparse: false }), { compacted: false, reason: 'no store yet' });
});

t.test('never while another process has the store open', async (t) => {
  const dir = tmp();
  await sparseStore(dir);
  t.same(storeHolders(dir), [], 'nobody holds it');
  const lmdb = new URL('../../node_modules/lmdb/dist/index.cjs', import.meta.url).pathname;
  const child = spawn(process.execPath, ['-e',
    `const l=require(${JSON.stringify(lmdb)});const e=l.open({path:${JSON.stringify(dir)},maxDbs:16});` +
    `e.openDB({name:'meta'}).get('x');process.stdout.write('open\\n');setInterval(()=>{},1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { child.kill('SIGKILL'); });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  t.same(storeHolders(dir), [child.pid], 'the other process is seen');
  await t.rejects(compactStore(dir, { whenSparse: true }), { code: 'ERR_STORE_IN_USE', message: new RegExp(`open in process ${child.pid}`) });
  const size = statSync(join(dir, 'data.mdb')).size;
  child.kill('SIGKILL');
  await new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.equal(statSync(join(dir, 'data.mdb')).size, size, 'untouched while held');
  t.same(storeHolders(dir), [], 'gone with its process');
  t.equal((await compactStore(dir, { whenSparse: true })).compacted, true, 'then compacted');
});
