import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  openStore, putBinding, putBindingIn, removeBinding, bindingsOf, lapsedEntries, bindingStatus, expiresInS, bindingCount,
  countBindings, formatAddress, appendEvent, queryEvents, pruneEvents, EventWriter, historyRows, entryCount, type BindingRecord,
} from '../../src/store/index.js';

const store = openStore(mkdtempSync(join(tmpdir(), 'sipreg-bind-')));
t.teardown(() => store.close());

function binding(number: string, contactKey: string, expiresAtMs: number, over: Partial<BindingRecord> = {}): BindingRecord {
  return {
    number, aor: `sip:${number}@example.com`, contactKey, contact: contactKey, instance: null,
    source: '127.0.0.1:5062', sourceAddress: '127.0.0.1', sourcePort: 5062, localAddress: '127.0.0.1:5060',
    expiresS: 600, expiresAtMs, registeredAtMs: 1, refreshedAtMs: 1, userAgent: 'ua', account: 'A', nat: false,
    callId: 'c', cseq: 1, q: null, keepalive: null, ...over,
  };
}

t.test('bindings are found by number and by expiry, and the index and count follow every write', async (t) => {
  const a = binding('1001', 'sip:1001@10.0.0.1', 5_000);
  const b = binding('1001', 'sip:1001@10.0.0.2', 9_000, { nat: true, instance: '<urn:uuid:1>', q: 0.5,
    keepalive: { lastSentAtMs: 3, lastAnsweredAtMs: 4, missed: 2, unreachable: true } });
  const c = binding('1002', 'sip:1002@10.0.0.3', 7_000, { userAgent: 'Ünïcode phone ☎' });
  await Promise.all([putBinding(store, a), putBinding(store, b), putBinding(store, c)]);
  t.same(bindingsOf(store, '1001'), [a, b], 'every field comes back as written');
  t.same(bindingsOf(store, '1002'), [c]);
  t.same(bindingsOf(store, '100').length, 0, 'a number is not a prefix match');
  t.same(lapsedEntries(store, 7_000, 100), [[5_000, '1001'], [7_000, '1002']]);
  const refreshed = { ...a, expiresAtMs: 20_000 };
  await putBinding(store, refreshed);
  t.same(bindingsOf(store, '1001').map((x) => x.expiresAtMs), [9_000, 20_000], 'a put replaces the binding with the same contact key');
  t.same(lapsedEntries(store, 7_000, 100), [[5_000, '1001'], [7_000, '1002']], 'a later expiry keeps the earlier check time (sweep re-arms)');
  t.same(countBindings(store), { total: 3, nat: 1 });
  t.equal(bindingCount(store), 3);
  await removeBinding(store, c);
  t.same(lapsedEntries(store, 100_000, 100), [[5_000, '1001'], [7_000, '1002']], 'a removal leaves its check time to the sweep');
  t.same(countBindings(store), { total: 2, nat: 1 });
  t.equal(bindingCount(store), 2, 'the O(1) count follows removals');
  t.equal(await removeBinding(store, c), false, 'removing what is gone changes nothing');
  t.equal(bindingCount(store), 2);
});

t.test('a value is written from a reused buffer: lmdb-js honours its start/end (store/bytes.ts asValue)', async (t) => {
  const long = binding('3001', `sip:3001@10.0.0.9;${'x'.repeat(600)}`, 50_000);
  const short = binding('3002', 'sip:3002@10.0.0.9', 50_000);
  await putBinding(store, long);
  await putBinding(store, short);
  t.same(bindingsOf(store, '3001'), [long]);
  t.same(bindingsOf(store, '3002'), [short], 'not the longer value before it');
});

t.test('status and time left', async (t) => {
  const b = binding('1', 'k', 100_000, { expiresS: 600 });
  t.equal(bindingStatus(b, 0), 'registered');
  t.equal(bindingStatus(b, 100_000 - 60_000), 'expiring', 'a tenth of 600 s left');
  t.equal(bindingStatus(b, 100_000), 'expired');
  t.equal(expiresInS(b, 40_500), 60);
  t.equal(expiresInS(b, 200_000), 0);
  t.equal(formatAddress('::1', 5060), '[::1]:5060');
  t.equal(formatAddress('10.1.2.3', 5060), '10.1.2.3:5060');
});

t.test('history is ordered, filtered and pruned by age and count', async (t) => {
  const day = 86_400_000;
  for (let i = 0; i < 10; i++) {
    await appendEvent(store, { atMs: i * day, type: i % 2 === 0 ? 'registered' : 'expired', number: String(1000 + (i % 3)), source: '', userAgent: '', detail: '' });
  }
  t.equal(queryEvents(store, {}).length, 10);
  t.same(queryEvents(store, { type: 'expired' }).map((e) => e.atMs / day), [1, 3, 5, 7, 9]);
  t.same(queryEvents(store, { number: '1000' }).map((e) => e.atMs / day), [0, 3, 6, 9]);
  t.same(queryEvents(store, { sinceMs: 7 * day }).map((e) => e.atMs / day), [7, 8, 9]);
  t.same(queryEvents(store, { limit: 2 }).map((e) => e.atMs / day), [8, 9], 'a limit keeps the newest');
  t.same(queryEvents(store, { limit: 2, newestFirst: true }).map((e) => e.atMs / day), [9, 8]);
  const removedByAge = await pruneEvents(store, 10 * day, 5, 1_000);
  await store.events.committed;
  t.equal(removedByAge, 5, 'rows older than 5 days go');
  const removedByCount = await pruneEvents(store, 10 * day, 30, 3);
  await store.events.committed;
  t.equal(removedByCount, 2);
  t.same(queryEvents(store, {}).map((e) => e.atMs / day), [7, 8, 9]);
});

t.test('rows written together are one value, read back row by row, counted and pruned', async (t) => {
  const s = openStore(mkdtempSync(join(tmpdir(), 'sipreg-rows-')));
  t.teardown(() => s.close());
  const w = new EventWriter();
  await s.root.transaction(() => {
    for (let i = 0; i < 5; i++) w.begin(10_000 + 2 * i, 'refreshed').text(`200${i}`).next().text('192.0.2.1:5060').next().text('ua').next().text(`row ${i}`).endRow();
    w.putIn(s);
  });
  await appendEvent(s, { atMs: 10_003, type: 'rejected', number: '9', source: '', userAgent: '', detail: 'between' });
  t.equal(entryCount(s.events), 2, 'five rows in one value, one in another');
  t.equal(historyRows(s), 6);
  t.same(queryEvents(s, {}).map((e) => e.detail), ['row 0', 'row 1', 'between', 'row 2', 'row 3', 'row 4'], 'ordered by time across values');
  t.same(queryEvents(s, { newestFirst: true, limit: 3 }).map((e) => e.detail), ['row 4', 'row 3', 'row 2']);
  t.same(queryEvents(s, { sinceMs: 10_005 }).map((e) => e.detail), ['row 3', 'row 4'], 'rows are filtered by their own time');
  t.same(queryEvents(s, { type: 'refreshed', number: '2001' }).map((e) => e.detail), ['row 1']);
  // Values go oldest first by their newest row: 'between' (10,003) before the commit (10,008).
  t.equal(await pruneEvents(s, 10_010, 30, 5), 1, 'one row over the bound');
  t.same(queryEvents(s, {}).map((e) => e.detail), ['row 0', 'row 1', 'row 2', 'row 3', 'row 4']);
  t.equal(await pruneEvents(s, 10_010, 30, 2), 5, 'over the bound: a value goes whole');
  t.equal(historyRows(s), 0);
});

t.test('a number holding more bindings than a reader starts with loses none of them', async (t) => {
  const s = openStore(mkdtempSync(join(tmpdir(), 'sipreg-many-')));
  t.teardown(() => s.close());
  // Lapsed bindings stay until the sweep visits: a number can hold more than the live maximum.
  await s.root.transaction(() => { for (let i = 0; i < 70; i++) putBindingIn(s, binding('5001', `sip:5001@10.0.1.${i}`, 1_000 + i)); });
  await putBinding(s, binding('5001', 'sip:5001@10.0.2.1', 99_000));
  t.equal(bindingsOf(s, '5001').length, 71);
  t.equal(bindingCount(s), 71);
  t.same(countBindings(s), { total: 71, nat: 0 });
});

t.test('newest first with a limit over many values', async (t) => {
  const s = openStore(mkdtempSync(join(tmpdir(), 'sipreg-tail-')));
  t.teardown(() => s.close());
  await s.root.transaction(() => {
    const w = new EventWriter();
    for (let i = 0; i < 300; i++) {
      w.begin(i * 1000, 'refreshed').text('1').next().text('').next().text('').next().text(`r${i}`).endRow();
      if (i % 3 === 2) w.putIn(s); // values of three rows, three seconds apart
    }
  });
  t.same(queryEvents(s, { newestFirst: true, limit: 4 }).map((e) => e.detail), ['r299', 'r298', 'r297', 'r296']);
  t.same(queryEvents(s, { limit: 2 }).map((e) => e.detail), ['r298', 'r299']);
  t.equal(queryEvents(s, {}).length, 300);
});

t.test('a value is keyed by its newest row, so a query from a time finds every row from then on', async (t) => {
  const s = openStore(mkdtempSync(join(tmpdir(), 'sipreg-newest-')));
  t.teardown(() => s.close());
  await s.root.transaction(() => {
    const w = new EventWriter();
    // A commit whose rows are not in time order (the clock stepped back between two REGISTERs).
    w.begin(5_000, 'refreshed').text('1').next().text('').next().text('').next().text('late').endRow();
    w.begin(3_000, 'refreshed').text('1').next().text('').next().text('').next().text('early').endRow();
    w.putIn(s);
  });
  t.same(queryEvents(s, { sinceMs: 4_000 }).map((e) => e.detail), ['late']);
  t.same(queryEvents(s, { sinceMs: 2_000 }).map((e) => e.detail), ['early', 'late']);
  t.same(queryEvents(s, { newestFirst: true, sinceMs: 4_000 }).map((e) => e.detail), ['late']);
});
