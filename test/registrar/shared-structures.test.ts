// The registrar's records (bindings, events) are stored with lmdb-js shared structures (store schema 2,
// src/store/open.ts). Other processes (console, admin commands) must read what the service writes, the
// service must read what they write, and a schema 1 store must keep working. (Here rather than under
// test/store because it guards the registrar's hot-path encoding.)
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import {
  SCHEMA_VERSION, SHARED_STRUCTURES_KEY, appendEvent, bindingsOf, entryCount, openStore, putBinding, queryEvents,
} from '../../src/store/index.js';
import { binding } from './helpers.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'sipreg-structures-'));
const lmdbPath = createRequire(import.meta.url).resolve('lmdb');
const tsImport = new URL('../../node_modules/@tapjs/typescript/dist/esm/import.mjs', import.meta.url).pathname;
const storeModule = new URL('../../src/store/index.ts', import.meta.url).href;

/** Runs `body` in another node process with `openStore(dir)` as `s`; returns its stdout. */
function inChild(dir: string, body: string): string {
  const code = `const m = await import(${JSON.stringify(storeModule)}); const s = m.openStore(${JSON.stringify(dir)});\n${body}\nawait s.close();`;
  return execFileSync(process.execPath, ['--import', tsImport, '--input-type=module', '-e', code], { encoding: 'utf8' });
}

t.test('another process reads records written with shared structures, and the service reads its new shapes', async (t) => {
  const dir = tmp();
  const s = openStore(dir);
  t.teardown(() => s.close());
  await putBinding(s, binding('1001', 'sip:a@h', { keepalive: { lastSentAtMs: 1, lastAnsweredAtMs: 2, missed: 0, unreachable: false } }), undefined);
  await appendEvent(s, { atMs: 5, type: 'registered', number: '1001', source: '192.0.2.1:5060', userAgent: 'ua', detail: 'd' });
  t.ok(s.bindings.getBinary(['1001', 'sip:a@h'])!.length < 200, 'a binding no longer carries its field names');
  const out = inChild(dir, `
    const b = m.bindingsOf(s, '1001');
    const e = m.queryEvents(s, {});
    // A record of a shape the parent has not seen yet (an extra field): the parent must reload the structures.
    await s.bindings.put(['1002', 'sip:b@h'], { ...b[0], number: '1002', contactKey: 'sip:b@h', keepalive: null, extra: 'x' });
    await m.appendEvent(s, { atMs: 6, type: 'expired', number: '1001', source: '', userAgent: '', detail: 'child' });
    process.stdout.write(JSON.stringify({ b, e, count: m.entryCount(s.bindings) }));`);
  const child = JSON.parse(out) as { b: unknown[]; e: unknown[]; count: number };
  t.same(child.b, bindingsOf(s, '1001'));
  t.same(child.e, queryEvents(s, {}));
  t.equal(child.count, 2, 'entryCount leaves the structures entry out');
  s.root.resetReadTxn();
  t.match(bindingsOf(s, '1002')[0], { number: '1002', extra: 'x', keepalive: null });
  t.same(queryEvents(s, {}).map((e) => e.detail), ['d', 'child']);
  t.equal(entryCount(s.bindings), 2);
  t.equal((s.bindings.getStats() as { entryCount: number }).entryCount, 3, 'LMDB counts the structures entry; entryCount() does not');
});

t.test('a schema 1 store (records with inline definitions) is read, upgraded to 2, and refused by a schema 1 binary', async (t) => {
  const dir = tmp();
  // Written the way schema 1 did: plain msgpack, no shared structures.
  const lmdb = createRequire(import.meta.url)(lmdbPath) as typeof import('lmdb');
  const old = lmdb.open({ path: dir, maxDbs: 16, compression: false });
  await old.openDB({ name: 'meta' }).put('schema_version', 1);
  const v1 = binding('1001', 'sip:a@h');
  await old.openDB({ name: 'bindings' }).put(['1001', 'sip:a@h'], v1);
  await old.openDB({ name: 'events' }).put([1, 1, 1], { atMs: 1, type: 'registered', number: '1001', source: '', userAgent: '', detail: 'v1' });
  await old.close();

  const s = openStore(dir);
  t.teardown(() => s.close());
  t.equal(SCHEMA_VERSION, 2);
  t.equal(s.meta.get('schema_version'), 2, 'upgraded in place');
  t.same(bindingsOf(s, '1001'), [v1], 'a schema 1 binding reads as it was');
  await putBinding(s, binding('1001', 'sip:b@h'), undefined);
  await appendEvent(s, { atMs: 2, type: 'refreshed', number: '1001', source: '', userAgent: '', detail: 'v2' });
  t.same(bindingsOf(s, '1001').map((b) => b.contactKey), ['sip:a@h', 'sip:b@h'], 'old and new records side by side');
  t.same(queryEvents(s, {}).map((e) => e.detail), ['v1', 'v2']);
  t.equal(entryCount(s.bindings), 2);
  t.ok(s.bindings.doesExist(SHARED_STRUCTURES_KEY as never));
  // A schema 1 binary checks `version > 1` and refuses: it would misread the new records.
  const version = execFileSync(process.execPath, ['-e',
    `const l=require(${JSON.stringify(lmdbPath)});const e=l.open({path:${JSON.stringify(dir)},maxDbs:16});` +
    `process.stdout.write(String(e.openDB({name:'meta'}).get('schema_version')));`], { encoding: 'utf8' });
  t.equal(Number(version) > 1, true);
});
