// The store follows the firmware (issue 18), through the real binary: a snapshot of the store is kept before
// the service converts it to its schema; a service that finds a store of a newer schema (the box fell back
// to the older firmware's slot) and a snapshot of its own schema restores it and starts, saying so; without
// such a snapshot it refuses as before.
import t from 'tap';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { startService } from './service.js';
import { freeUdpPort, runSipreg, tmpDir, writeConfig } from '../helpers/sipreg.js';
import { SCHEMA_VERSION, openStore, putBinding } from '../../src/store/index.js';
import { binding } from '../registrar/helpers.js';

const lmdb = createRequire(import.meta.url)('lmdb') as typeof import('lmdb');
const hour = (): number => Date.now() + 3_600_000;

async function schemaOf(dir: string): Promise<unknown> {
  const root = lmdb.open({ path: dir, maxDbs: 16, compression: false, readOnly: true });
  const v = root.openDB({ name: 'meta' }).get('schema_version');
  await root.close();
  return v;
}

/** A schema 3 store in `dir` with `numbers` registered; `schema` then written over the version. */
async function store(dir: string, numbers: string[], schema = SCHEMA_VERSION): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const s = openStore(dir);
  for (const n of numbers) await putBinding(s, binding(n, `sip:${n}@192.0.2.10:5062`, { expiresAtMs: hour() }));
  if (schema !== SCHEMA_VERSION) await s.meta.put('schema_version', schema);
  await s.close();
}

const numbers = (list: string): string[] => (JSON.parse(list) as { number: string }[]).map((b) => b.number).sort();

t.test('a schema 2 store: kept as snapshots/schema-2 before the service converts it', async (t) => {
  const dir = tmpDir('sipreg-follow-');
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const root = lmdb.open({ path: dataDir, maxDbs: 16, compression: false });
  await root.openDB({ name: 'meta' }).put('schema_version', 2);
  const b = binding('2001', 'sip:2001@192.0.2.10:5062', { expiresAtMs: hour() });
  await root.openDB({ name: 'bindings', sharedStructuresKey: Symbol.for('structures') }).put([b.number, b.contactKey], b);
  await root.close();
  const svc = await startService('accounts:\n  - { number: "2001", password: "x" }\n', { dir });
  t.teardown(() => svc.kill('SIGKILL'));
  t.match(svc.log.join(''), /store schema 2 kept in [^ ]*snapshots\/schema-2 before sipreg \S+ converts it to schema 3/);
  const snap = join(dataDir, 'snapshots', 'schema-2');
  t.equal(await schemaOf(snap), 2, 'the snapshot is the store as it was');
  t.match(JSON.parse(readFileSync(join(snap, 'snapshot.json'), 'utf8')), { schema: 2 });
  t.equal(await (async () => { await svc.kill(); return schemaOf(dataDir); })(), 3, 'and the store converted');
  t.same(numbers(svc.cli(['list', '--json']).stdout), ['2001'], 'its binding came through');
});

t.test('a newer schema with a snapshot of ours: restored, the newer store kept, the service starts', async (t) => {
  const dir = tmpDir('sipreg-follow-');
  const dataDir = join(dir, 'data');
  // What the older firmware left before the newer one converted the store: 3001 and 3002 registered.
  await store(join(dir, 'before'), ['3001', '3002']);
  mkdirSync(join(dataDir, 'snapshots', `schema-${SCHEMA_VERSION}`), { recursive: true });
  copyFileSync(join(dir, 'before', 'data.mdb'), join(dataDir, 'snapshots', `schema-${SCHEMA_VERSION}`, 'data.mdb'));
  // What the newer firmware wrote: a schema this sipreg does not know, and a phone registered meanwhile.
  await store(dataDir, ['3001', '3002', '3003'], SCHEMA_VERSION + 1);

  const svc = await startService('accounts:\n  - { number: "3001", password: "x" }\n', { dir });
  t.teardown(() => svc.kill('SIGKILL'));
  const log = svc.log.join('');
  t.match(log, new RegExp(`"level":40.*store schema ${SCHEMA_VERSION + 1} is newer than this sipreg \\S+ understands \\(${SCHEMA_VERSION}\\): restored the schema ${SCHEMA_VERSION} snapshot`));
  t.match(log, /phones register again at their next refresh/);
  t.same(numbers(svc.cli(['list', '--json']).stdout), ['3001', '3002'], 'the snapshot\'s bindings; 3003 came after it');
  const alerts = JSON.parse(svc.cli(['events', '--json', '--type', 'alert']).stdout) as { detail: string }[];
  t.ok(alerts.some((e) => /restored the schema \d+ snapshot/.test(e.detail)), 'the history says so');
  await svc.kill();
  t.equal(await schemaOf(join(dataDir, 'snapshots', `schema-${SCHEMA_VERSION + 1}`)), SCHEMA_VERSION + 1, 'the newer store kept aside');
  t.equal(await schemaOf(dataDir), SCHEMA_VERSION);
  t.ok(existsSync(join(dataDir, 'snapshots', `schema-${SCHEMA_VERSION}`, 'data.mdb')), 'the snapshot stays for another fallback');
});

t.test('a newer schema without a snapshot: refused as before, nothing moved', async (t) => {
  const dir = tmpDir('sipreg-follow-');
  const dataDir = join(dir, 'data');
  await store(dataDir, ['4001'], SCHEMA_VERSION + 1);
  const config = writeConfig(`sip:\n  listen: ["127.0.0.1:${await freeUdpPort()}"]\ndata_dir: ${dataDir}\n`, dir);
  const r = runSipreg(['run', '-c', config], { timeoutMs: 30_000 });
  t.equal(r.status, 1);
  t.match(r.stderr, new RegExp(`store schema ${SCHEMA_VERSION + 1} is newer than this sipreg understands`));
  t.equal(await schemaOf(dataDir), SCHEMA_VERSION + 1);
  t.notOk(existsSync(join(dataDir, 'snapshots')));
});
