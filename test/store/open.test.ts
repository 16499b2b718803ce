import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { openStore, SCHEMA_VERSION } from '../../src/store/index.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'sipreg-store-'));

t.test('a new store records its schema version and reopens', async (t) => {
  const dir = tmp();
  const s = openStore(dir);
  t.equal(s.meta.get('schema_version'), SCHEMA_VERSION);
  await s.close();
  const again = openStore(dir);
  t.equal(again.meta.get('schema_version'), SCHEMA_VERSION);
  await again.close();
});

t.test('a store written by a newer schema is refused with a clear message', async (t) => {
  const dir = tmp();
  const s = openStore(dir);
  await s.meta.put('schema_version', SCHEMA_VERSION + 1);
  await s.close();
  t.throws(() => openStore(dir), { name: 'StoreError', code: 'ERR_STORE_SCHEMA', message: /newer than this sipreg understands/ });
});

t.test('a data_dir that cannot be created is one clear error', async (t) => {
  const file = join(tmp(), 'plainfile');
  writeFileSync(file, 'x');
  t.throws(() => openStore(join(file, 'sub')), { name: 'StoreError', code: 'ERR_STORE_DIR', message: new RegExp(`^data_dir ${file}/sub: cannot create`) });
});

t.test('another process sees a committed write at once', async (t) => {
  const dir = tmp();
  const s = openStore(dir);
  await s.meta.put('probe', 'from-parent');
  const out = execFileSync(process.execPath, ['-e',
    `const l=require(${JSON.stringify(require_resolve_lmdb())});const e=l.open({path:${JSON.stringify(dir)},maxDbs:16});` +
    `const m=e.openDB({name:'meta'});process.stdout.write(String(m.get('probe')));m.putSync('probe2','from-child');`], { encoding: 'utf8' });
  t.equal(out, 'from-parent');
  s.root.resetReadTxn();
  t.equal(s.meta.get('probe2'), 'from-child');
  await s.close();
});

function require_resolve_lmdb(): string {
  return new URL('../../node_modules/lmdb/dist/index.cjs', import.meta.url).pathname;
}
