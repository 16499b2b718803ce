// The store's size limit (issue 19): the budget's arithmetic, the page figures, the prune by bytes, the
// gate on history writes, and the service's keeper holding a store within its budget while history
// pours in.
import t from 'tap';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EventWriter, SPACE_KEY, StoreFlush, appendEvent, budgetBytesFor, historyExcessBytes, historyRows, mapSizeFor, measureStore,
  openStore, pruneHistoryIn, putBinding, queryEvents, readSpaceRecord, reserveBytesFor, storeLimits, storedBytes,
  type SpaceRecord, type Store, type StoreFigures,
} from '../../src/store/index.js';
import { StoreSpaceKeeper } from '../../src/service/store-space.js';
import { defaultParams } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import { binding } from '../console/fixtures/seed.js';

const MiB = 1024 * 1024;
const tmp = (): string => mkdtempSync(join(tmpdir(), 'sipreg-budget-'));

t.test('the budget: SS_STORE_MAX_MB, else half the file system within its bounds', async (t) => {
  t.equal(budgetBytesFor(100, 32 * MiB), 100 * MiB, 'a configured budget is taken as it is (the file system check still holds)');
  t.equal(budgetBytesFor(0, 32 * MiB), 16 * MiB, 'auto: half of a 32 MiB file system');
  t.equal(budgetBytesFor(0, 64 * 1024 * MiB), storeLimits.budgetAutoMaxBytes, 'auto: never more than the cap');
  t.equal(budgetBytesFor(0, 2 * MiB), storeLimits.budgetMinBytes, 'auto: never less than the minimum');
  t.equal(budgetBytesFor(0, 64 * 1024 * MiB, 32), 256 * MiB, '32-bit (armv7): auto never more than 256 MiB');
  t.equal(budgetBytesFor(2048, 64 * 1024 * MiB, 32), 256 * MiB, '32-bit: nor a configured budget');
  t.equal(budgetBytesFor(100, 32 * MiB, 32), 100 * MiB, '32-bit: a configured budget below the cap is taken');
  t.equal(budgetBytesFor(0, 32 * MiB, 32), 16 * MiB, '32-bit: auto on a small file system as on 64-bit');
  t.equal(budgetBytesFor(2048, 64 * 1024 * MiB, 64), 2048 * MiB, '64-bit: no such cap');
  t.equal(mapSizeFor(budgetBytesFor(0, 64 * 1024 * MiB, 32)), 512 * MiB, '32-bit: the map is at most 512 MiB');
  t.equal(mapSizeFor(16 * MiB), 32 * MiB, 'the map covers twice the budget');
  t.equal(mapSizeFor(3 * MiB + 1) % MiB, 0, 'in whole MiB');
});

const figures = (over: Partial<StoreFigures>): StoreFigures => ({
  pageSize: 4096, fileBytes: 0, filePages: 0, usedPages: 0, freePages: 0, historyRows: 0, historyPages: 0, keptPages: 0, samplesPages: 0, ...over,
});

t.test('what history must give up: the budget less the reserve; while full, the reserve inside the file', async (t) => {
  const budget = 16 * MiB;
  const reserve = 2 * MiB;
  t.equal(historyExcessBytes(figures({ usedPages: 3000 }), budget, reserve, false), 0, '12 MiB used of 14 allowed');
  t.equal(historyExcessBytes(figures({ usedPages: 4096 }), budget, reserve, false), 2 * MiB, '16 MiB used: 2 over');
  t.equal(historyExcessBytes(figures({ usedPages: 1000, freePages: 100 }), budget, reserve, true), reserve - 100 * 4096,
    'full file system: free the reserve inside the file');
  t.equal(historyExcessBytes(figures({ usedPages: 1000, freePages: 600 }), budget, reserve, true), 0, 'the reserve is free already');
  t.equal(reserveBytesFor(figures({ keptPages: 10 })), storeLimits.reserveMinBytes, 'at least the minimum');
  t.equal(reserveBytesFor(figures({ keptPages: 5000 })), 5000 * 4096, 'at least what is never pruned (one commit can rewrite all of it)');
});

t.test('a value\'s page bytes: a leaf node, or overflow pages of its own', async (t) => {
  t.equal(storedBytes(100, 24, 4096), 8 + 24 + 100 + 2);
  t.equal(storedBytes(5000, 24, 4096), 2 * 4096 + 8 + 24 + 8 + 2, '5,000 B: two overflow pages');
  t.equal(storedBytes(4080, 24, 4096), 4096 + 42, 'exactly one page with its header');
});

async function writeHistory(store: Store, values: number, rowsPerValue: number, atMs: number, detailBytes = 300): Promise<void> {
  const w = new EventWriter();
  for (let v = 0; v < values; v++) {
    await store.root.transaction(() => {
      for (let r = 0; r < rowsPerValue; r++) {
        w.begin(atMs + v, 'registered').text(String(100000 + r)).next().text('192.0.2.1:5060').next().text('ua').next().text('d'.repeat(detailBytes)).endRow();
      }
      w.putIn(store);
    });
  }
}

t.test('figures from LMDB\'s statistics; the prune by bytes goes oldest first, in bounded transactions', async (t) => {
  const store = openStore(tmp());
  t.teardown(() => store.close());
  await putBinding(store, binding('2001'));
  await writeHistory(store, 400, 10, 1_000_000); // ~3.3 KB values: an overflow page each
  const f = measureStore(store);
  t.equal(f.fileBytes, statSync(join(store.dataDir, 'data.mdb')).size, 'the file\'s size');
  t.equal(f.usedPages + f.freePages, f.filePages, 'used and free pages make the file');
  t.equal(f.historyRows, 4000);
  t.ok(f.historyPages >= 400, `history pages (${f.historyPages})`);
  t.ok(f.keptPages >= 2, `bindings and meta are kept pages (${f.keptPages})`);
  const limits = { cutoffMs: 0, countMax: 1_000_000, bytesToFree: 100 * 4096, valuesMax: 30, bytesMax: 1 * MiB };
  const first = await store.root.transaction(() => pruneHistoryIn(store, limits, f.pageSize));
  t.equal(first.values, 30, 'at most valuesMax values in one transaction');
  t.equal(first.more, true, 'and says more is due');
  t.equal(first.rows, 300);
  const second = await store.root.transaction(() => pruneHistoryIn(store, { ...limits, bytesToFree: 100 * 4096 - first.bytes, valuesMax: 1000 }, f.pageSize));
  t.equal(second.more, false, 'the bytes asked for are freed');
  t.ok(first.bytes + second.bytes >= 100 * 4096, `bytes freed (${first.bytes + second.bytes})`);
  const after = measureStore(store);
  t.ok(f.historyPages - after.historyPages >= 95, `the pages went (${f.historyPages} -> ${after.historyPages})`);
  t.equal(historyRows(store), 4000 - first.rows - second.rows, 'rows counted');
  t.equal(queryEvents(store, { limit: 1 })[0]?.atMs, 1_000_000 + 399, 'the newest rows are kept');
  t.equal(queryEvents(store, {}).length, historyRows(store));
  t.ok(queryEvents(store, {})[0]!.atMs >= 1_000_000 + first.values + second.values, 'the oldest went');
  const bounded = await store.root.transaction(() => pruneHistoryIn(store, { ...limits, valuesMax: 1000, bytesMax: 64 * 1024, bytesToFree: MiB }, f.pageSize));
  t.ok(bounded.bytes >= 64 * 1024 && bounded.bytes < 64 * 1024 + 8192 && bounded.more, `bytesMax bounds a transaction (${bounded.bytes} B)`);
});

t.test('while history is paused, rows are counted and not written; the store_full row is', async (t) => {
  const store = openStore(tmp());
  t.teardown(() => store.close());
  store.space.historyPaused = true;
  t.equal(await appendEvent(store, { atMs: 1, type: 'registered', number: '1', source: '', userAgent: '', detail: '' }), false);
  const w = new EventWriter();
  await store.root.transaction(() => {
    for (let i = 0; i < 3; i++) w.begin(2, 'refreshed').text('1').next().text('').next().text('').next().text('').endRow();
    w.putIn(store);
  });
  t.equal(historyRows(store), 0, 'nothing written');
  t.equal(store.space.historyRowsNotWritten, 4, 'four rows counted');
  t.equal(await appendEvent(store, { atMs: 3, type: 'store_full', number: '', source: '', userAgent: '', detail: 'full' }, true), true);
  t.same(queryEvents(store, {}).map((e) => e.type), ['store_full']);
  store.space.historyPaused = false;
  await appendEvent(store, { atMs: 4, type: 'registered', number: '1', source: '', userAgent: '', detail: '' });
  t.equal(historyRows(store), 2, 'written again');
});

function keeperOf(store: Store, storeMaxMiB: number, logs: string[]): { keeper: StoreSpaceKeeper; writes: StoreFlush } {
  const config = { file: 'test.yaml', params: { ...defaultParams, storeMaxMiB, eventCountMax: 100_000_000 } } as unknown as Config;
  const log = { info: (_o: unknown, m: string) => logs.push(m), warn: (_o: unknown, m: string) => logs.push(m), error: (_o: unknown, m: string) => logs.push(m), debug() {}, isLevelEnabled: () => false };
  const writes = new StoreFlush(store, 30);
  return { keeper: new StoreSpaceKeeper({ store, writes, log: log as never, config: () => config }), writes };
}

t.test('the keeper holds a store within its budget while history pours in', async (t) => {
  const store = openStore(tmp());
  t.teardown(() => store.close());
  const logs: string[] = [];
  const { keeper } = keeperOf(store, 6, logs);
  for (let i = 0; i < 300; i++) await putBinding(store, binding(String(300000 + i)));
  await keeper.start();
  t.teardown(() => keeper.stop());
  // 24 MiB of history, four times the budget, in chunks with a look after each (the service looks every second).
  let maxFile = 0;
  let maxUsed = 0;
  const base = Date.now() - 3_600_000; // within SS_EVENT_RETENTION_DAYS: only the budget prunes
  for (let chunk = 0; chunk < 48; chunk++) {
    await writeHistory(store, 50, 25, base + chunk * 1000); // ~0.5 MiB
    const between = measureStore(store);
    maxUsed = Math.max(maxUsed, between.usedPages * between.pageSize);
    await keeper.tick();
    maxFile = Math.max(maxFile, measureStore(store).fileBytes);
  }
  const f = measureStore(store);
  const rec: SpaceRecord = keeper.record(Date.now());
  t.equal(rec.budgetBytes, 6 * MiB);
  t.ok(f.usedPages * f.pageSize <= 6 * MiB - rec.reserveBytes, `used pages within the budget less the reserve after each look (${f.usedPages * f.pageSize} B)`);
  t.ok(maxUsed <= 6 * MiB - rec.reserveBytes + 0.6 * MiB, `used at most one chunk over between looks (${maxUsed} B)`);
  t.ok(maxFile <= 6 * MiB, `the file never grew past the budget (${maxFile} B)`);
  t.ok(rec.prunedRows > 0 && rec.pruneBatches > 0, `pruned ${rec.prunedRows} rows in ${rec.pruneBatches} transactions`);
  t.ok(rec.pruneBatchMsMax < 50, `each prune transaction short on the event loop (largest ${rec.pruneBatchMsMax} ms)`);
  t.equal(queryEvents(store, { newestFirst: true, limit: 1 })[0]?.atMs, base + 47 * 1000 + 49, 'the newest rows are kept');
  t.ok(f.historyRows > 5000, `history fills the budget (${f.historyRows} rows kept, ${f.historyPages * f.pageSize} B)`);
  t.equal(measureStore(store).keptPages > 0, true);
  t.equal((await import('../../src/store/index.js')).bindingCount(store), 300, 'no binding pruned');
  t.same(logs.filter((l) => l !== 'store size limit'), [], 'nothing to warn about');
});

t.test('the keeper writes its record with the flush; reserve and rows not written follow the store', async (t) => {
  const store = openStore(tmp());
  t.teardown(() => store.close());
  const { keeper, writes } = keeperOf(store, 8, []);
  writes.join({ write: (s, nowMs) => { s.meta.put(SPACE_KEY, keeper.record(nowMs)); } });
  await keeper.start();
  t.teardown(() => keeper.stop());
  t.equal(readSpaceRecord(store), null, 'nothing until the flush');
  await writes.flushNow();
  const rec = readSpaceRecord(store)!;
  t.equal(rec.budgetBytes, 8 * MiB);
  t.equal(rec.budgetAuto, false);
  t.equal(rec.full, false);
  t.ok(rec.fileSystemTotalBytes > 0 && rec.fileSystemFreeBytes > 0, 'the file system figures');
  t.ok(rec.rssBytes >= rec.heapUsedBytes, 'RSS and heap');
});
