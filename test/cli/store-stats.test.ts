// The store's room as operators see it (issue 19): `sipreg stats` (text and --json), the console's
// status lines, the Prometheus textfile; with the running service's record (budget, alert, prune
// figures, memory) and without it.
import t from 'tap';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/index.js';
import {
  EventWriter, SPACE_KEY, measureStore, openStore, readService, storeReport, type ServiceRecord, type SpaceRecord,
} from '../../src/store/index.js';
import { loadConfig } from '../../src/config/index.js';
import { readStatus, statusLines } from '../../src/ops/status.js';
import { configInForce } from '../../src/ops/config-follow.js';
import { renderTextfile } from '../../src/stats/prometheus.js';
import { counters } from '../../src/stats/counters.js';
import { makeEnv, withOpenStore } from '../console/fixtures/seed.js';
import { hostname } from 'node:os';

function sink(): Writable & { text: string } {
  const w = new Writable({ write(chunk, _enc, cb) { w.text += String(chunk); cb(); } }) as Writable & { text: string };
  w.text = '';
  return w;
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = sink();
  const stderr = sink();
  const code = await main(argv, { stdout, stderr, env: {} });
  return { code, out: stdout.text, err: stderr.text };
}

const env = makeEnv('store-stats');
const c = ['-c', env.configFile];
const MiB = 1024 * 1024;

await withOpenStore(env.dataDir, async (s) => {
  const w = new EventWriter();
  for (let v = 0; v < 100; v++) {
    await s.root.transaction(() => {
      for (let r = 0; r < 20; r++) w.begin(Date.now(), 'registered').text('1001').next().text('192.0.2.1:5060').next().text('ua').next().text('d'.repeat(200)).endRow();
      w.putIn(s);
    });
  }
});

t.test('without the service: live figures, the budget from the config and the file system', async (t) => {
  const r = await run(['stats', '--json', ...c]);
  t.equal(r.code, 0, r.err);
  const store = (JSON.parse(r.out) as { store: Record<string, unknown> }).store;
  t.equal(store['history_rows'], 2000);
  t.ok((store['history_bytes'] as number) >= 2000 * 200, `history bytes (${store['history_bytes']})`);
  t.equal((store['used_pages'] as number) + (store['free_pages'] as number), store['file_pages']);
  t.equal(store['used_bytes'], (store['used_pages'] as number) * (store['page_size'] as number));
  t.equal(store['budget_auto'], true);
  t.ok((store['budget_bytes'] as number) >= 4 * MiB && (store['budget_bytes'] as number) <= 1024 * MiB);
  t.ok((store['file_system_free_bytes'] as number) > 0 && (store['file_system_bytes'] as number) >= (store['file_system_free_bytes'] as number));
  t.equal(store['full'], false);
  t.same([store['prune'], store['service_memory'], store['history_rows_not_written']], [null, null, null], 'the service\'s figures only while it runs');
  const text = await run(['stats', ...c]);
  t.match(text.out, /\nStore:\n  file +[\d.]+ KiB: \d+ pages used \([\d.]+ KiB\), \d+ free \([\d.]+ KiB\)\n  page size +4096 B, \d+ pages in the file\n/);
  t.match(text.out, /\n  budget +[\d.]+ (MiB|GiB) \(auto: half the file system, at most 1 GiB\)\n  reserve +2\.0 MiB kept for binding changes\n/);
  for (const l of text.out.trimEnd().split('\n')) t.ok(l.length <= 80, `fits: ${l}`);
  t.match(text.out, /\n  history +2,000 rows in \d+ pages/);
  t.match(text.out, /\n  file system +[\d.]+ \wiB free of [\d.]+ \wiB\n/);
  t.notMatch(text.out, /pruned|RSS/, 'no service figures');
});

t.test('with the service\'s record: its budget, the alert, prune figures and memory; three status lines', async (t) => {
  const rec: SpaceRecord = {
    atMs: Date.now(), budgetBytes: 16 * MiB, budgetAuto: false, reserveBytes: 2 * MiB, fileSystemTotalBytes: 32 * MiB,
    fileSystemFreeBytes: 1 * MiB, full: true, fullSinceMs: Date.now() - 60_000, historyRowsNotWritten: 42,
    pruneBatches: 4, prunedRows: 1000, prunedBytes: 300_000, pruneBatchMsLast: 0.5, pruneBatchMsMax: 1.25, pruneBatchMsTotal: 2,
    rssBytes: 150 * MiB, heapUsedBytes: 30 * MiB, heapTotalBytes: 40 * MiB, externalBytes: 5 * MiB,
  };
  const service: ServiceRecord = { pid: process.pid, host: hostname(), startedAtMs: Date.now() - 3_600_000, heartbeatAtMs: Date.now(), configFile: env.configFile, version: 'test', beatIntervalMs: 30_000 };
  await withOpenStore(env.dataDir, async (s) => { await s.meta.put(SPACE_KEY, rec); await s.meta.put('service', service); });
  const j = await run(['stats', '--json', ...c]);
  const store = (JSON.parse(j.out) as { store: Record<string, unknown> }).store;
  t.equal(store['budget_bytes'], 16 * MiB, 'the service\'s budget');
  t.equal(store['budget_auto'], false);
  t.equal(store['full'], true);
  t.equal(store['full_since'], new Date(rec.fullSinceMs!).toISOString());
  t.equal(store['history_rows_not_written'], 42);
  t.same(store['prune'], { batches: 4, rows: 1000, bytes: 300_000, batch_ms_last: 0.5, batch_ms_max: 1.25, batch_ms_avg: 0.5 });
  t.same(store['service_memory'], { rss_bytes: 150 * MiB, heap_used_bytes: 30 * MiB, heap_total_bytes: 40 * MiB, external_bytes: 5 * MiB });
  const text = (await run(['stats', ...c])).out;
  t.match(text, /\nALERT store full: disk free [\d.]+\w < 2\.0M kept for bindings; history paused\n/, 'the alert on the status line, before any other');
  t.match(text, /\n  pruned +1,000 rows in 4 transactions, 0\.500 ms each \(max 1\.250\)\n/);
  t.match(text, /\n  service RSS +150\.0 MiB: counts the store pages it has read\n  service heap +30\.0 MiB used of 40\.0 MiB\n/);
  t.match(text, /\n  ALERT +store full: history paused, 42 rows not written\n/);
  for (const l of text.trimEnd().split('\n')) t.ok(l.length <= 80, `fits: ${l}`);
  const config = loadConfig(env.configFile).config!;
  await withOpenStore(env.dataDir, (s) => {
    const lines = statusLines(readStatus(s, configInForce(s, config, Date.now()), Date.now()));
    t.equal(lines.length, 3, 'three status lines');
    for (const l of lines) t.ok(l.length <= 80, `fits 80 columns: ${l}`);
    t.match(lines[2], /^store [\d.]+\w \(used [\d.]+\w free [\d.]+\w\) of 16M \| history 2000 rows [\d.]+\w \| disk free [\d.]+\w$/);
  });
});

t.test('the textfile carries the same figures', async (t) => {
  await withOpenStore(env.dataDir, (s) => {
    const f = measureStore(s);
    t.ok(readService(s) !== null);
    const text = renderTextfile({ ...counters }, {
      up: true, startTimeS: 1, bindings: 0, bindingsNat: 0, lockoutsActive: 0, trunksRegistered: 0, trunksConfigured: 0,
      store: storeReport(s, 0, true), memory: { rssBytes: 100, heapUsedBytes: 50 },
    });
    for (const line of text.trimEnd().split('\n')) t.match(line, /^(# (HELP|TYPE) sipreg_[a-z_]+ .+|sipreg_[a-z_]+ -?\d+(\.\d+)?)$/, line);
    t.match(text, new RegExp(`\\nsipreg_store_file_bytes ${f.fileBytes}\\n`));
    t.match(text, new RegExp(`\\nsipreg_store_pages_used ${f.usedPages}\\n`));
    t.match(text, new RegExp(`\\nsipreg_store_pages_free ${f.freePages}\\n`));
    t.match(text, /\nsipreg_history_rows 2000\n/);
    t.match(text, new RegExp(`\\nsipreg_history_bytes ${f.historyPages * f.pageSize}\\n`));
    t.match(text, new RegExp(`\\nsipreg_store_budget_bytes ${16 * MiB}\\n`));
    t.match(text, /\nsipreg_store_full 1\n/);
    t.match(text, /\nsipreg_store_filesystem_free_bytes \d+\n/);
    t.match(text, /\n# TYPE sipreg_history_pruned_rows_total counter\nsipreg_history_pruned_rows_total 1000\n/);
    t.match(text, /\nsipreg_history_prune_seconds_total 0\.002\n/);
    t.match(text, /\nsipreg_process_resident_memory_bytes 100\n/);
    t.match(text, /\nsipreg_process_heap_used_bytes 50\n/);
  });
});
