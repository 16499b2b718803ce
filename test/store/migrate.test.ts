// Store schema 3 (bindings and history as bytes, src/store/open.ts): a schema 1 or 2 store written by
// an older sipreg is converted at open, and other processes (console, admin commands) read what the
// service writes and the other way round.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import {
  SCHEMA_VERSION, appendEvent, bindingCount, bindingsOf, lapsedEntries, openStore, putBinding, queryEvents, type BindingRecord,
} from '../../src/store/index.js';
import { binding } from '../registrar/helpers.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'sipreg-migrate-'));
const lmdb = createRequire(import.meta.url)('lmdb') as typeof import('lmdb');
const tsImport = new URL('../../node_modules/@tapjs/typescript/dist/esm/import.mjs', import.meta.url).pathname;
const storeModule = new URL('../../src/store/index.ts', import.meta.url).href;

/** Runs `body` in another node process with `openStore(dir)` as `s`; returns its stdout. */
function inChild(dir: string, body: string): string {
  const code = `const m = await import(${JSON.stringify(storeModule)}); const s = m.openStore(${JSON.stringify(dir)});\n${body}\nawait s.close();`;
  return execFileSync(process.execPath, ['--import', tsImport, '--input-type=module', '-e', code], { encoding: 'utf8' });
}

/** A store as schema `version` wrote it: msgpack records keyed [number, contactKey], schema 2 with shared structures. */
async function oldStore(version: 1 | 2, bindings: BindingRecord[]): Promise<string> {
  const dir = tmp();
  const root = lmdb.open({ path: dir, maxDbs: 16, compression: false });
  const shared = version === 2 ? { sharedStructuresKey: Symbol.for('structures') } : {};
  await root.openDB({ name: 'meta' }).put('schema_version', version);
  const db = root.openDB({ name: 'bindings', ...shared });
  const expiry = root.openDB({ name: 'expiry' });
  for (const b of bindings) {
    await db.put([b.number, b.contactKey], b);
    await expiry.put([b.expiresAtMs, b.number, b.contactKey], true);
  }
  await root.openDB({ name: 'events', ...shared }).put([1, 1, 1], { atMs: 1, type: 'registered', number: '1001', source: '192.0.2.1:5060', userAgent: 'ua', detail: 'old row' });
  await root.close();
  return dir;
}

for (const version of [1, 2] as const) {
  t.test(`a schema ${version} store is converted at open: bindings, index, count and history`, async (t) => {
    const a = binding('1001', 'sip:a@h', { expiresAtMs: 5_000, keepalive: { lastSentAtMs: 1, lastAnsweredAtMs: 2, missed: 1, unreachable: false } });
    const b = binding('1001', 'sip:b@h', { expiresAtMs: 6_000, instance: '<urn:uuid:x>', q: 0.7 });
    const c = binding('1002', 'sip:c@h', { expiresAtMs: 5_000, nat: true });
    const dir = await oldStore(version, [a, b, c]);
    const s = openStore(dir);
    t.teardown(() => s.close());
    t.equal(SCHEMA_VERSION, 3);
    t.equal(s.meta.get('schema_version'), 3);
    t.same(bindingsOf(s, '1001'), [a, b], 'every field kept');
    t.same(bindingsOf(s, '1002'), [c]);
    t.equal(bindingCount(s), 3);
    t.same(lapsedEntries(s, 10_000, 10), [[5_000, '1001'], [5_000, '1002'], [6_000, '1001']]);
    t.same(queryEvents(s, {}).map((e) => [e.type, e.number, e.source, e.detail]), [['registered', '1001', '192.0.2.1:5060', 'old row']]);
    t.same([...s.root.getKeys({})].filter((k) => k === 'bindings' || k === 'events' || k === 'expiry'), [],
      'the old databases are dropped');
  });
}

t.test('a store newer than the binary is refused', async (t) => {
  const dir = tmp();
  const root = lmdb.open({ path: dir, maxDbs: 16, compression: false });
  await root.openDB({ name: 'meta' }).put('schema_version', SCHEMA_VERSION + 1);
  await root.close();
  t.throws(() => openStore(dir), { code: 'ERR_STORE_SCHEMA' });
});

t.test('another process reads what this one wrote, and this one what it wrote', async (t) => {
  const dir = tmp();
  const s = openStore(dir);
  t.teardown(() => s.close());
  await putBinding(s, binding('1001', 'sip:a@h'));
  await appendEvent(s, { atMs: 5, type: 'registered', number: '1001', source: '192.0.2.1:5060', userAgent: 'ua', detail: 'd' });
  const out = inChild(dir, `
    const b = m.bindingsOf(s, '1001');
    const e = m.queryEvents(s, {});
    await m.putBinding(s, { ...b[0], contactKey: 'sip:b@h', contact: 'sip:b@h' });
    await m.appendEvent(s, { atMs: 6, type: 'expired', number: '1001', source: '', userAgent: '', detail: 'child' });
    process.stdout.write(JSON.stringify({ b, e }));`);
  const child = JSON.parse(out) as { b: unknown[]; e: unknown[] };
  t.same(child.b, [binding('1001', 'sip:a@h')]);
  t.same(child.e, queryEvents(s, {}).slice(0, 1));
  s.root.resetReadTxn();
  t.same(bindingsOf(s, '1001').map((b) => b.contactKey), ['sip:a@h', 'sip:b@h'], 'merged by contact key, not overwritten');
  t.same(queryEvents(s, {}).map((e) => e.detail), ['d', 'child']);
  t.equal(bindingCount(s), 2);
});
