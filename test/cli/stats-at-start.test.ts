// `sipreg stats` right after the service starts shows this run's figures: its memory, the store's room
// and its counters, not nothing (a new store) nor what an earlier run left (until the first flush, 30 s
// by default, both happened: the appliance's small-box test read "no service memory", and a restarted
// service showed the last run's counters as "since the service started").
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SPACE_KEY, openStore, type SpaceRecord } from '../../src/store/index.js';
import { exitOf, freeUdpPort, runSipreg, spawnSipreg, waitForLine, writeConfig } from '../helpers/sipreg.js';
import { SipClient } from '../registrar/sipclient.js';
import { parseMeminfo, parsePressure } from '../../src/stats/box-memory.js';

const MiB = 1024 * 1024;

function serviceMemory(file: string): { rss_bytes: number; heap_used_bytes: number } | null {
  const r = runSipreg(['stats', '-c', file, '--json']);
  if (r.status !== 0) throw new Error(`stats: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { store: { service_memory: { rss_bytes: number; heap_used_bytes: number } | null } }).store.service_memory;
}

async function start(t: Test, file: string): Promise<void> {
  const child = spawnSipreg(['run', '-c', file]);
  t.teardown(() => { child.kill('SIGKILL'); });
  await waitForLine(child, (l) => l.includes('"msg":"sipreg started"'));
}

t.test('a new store: the service memory is there as soon as the service is up', async (t) => {
  const port = await freeUdpPort();
  const file = writeConfig(`sip: {listen: ["127.0.0.1:${port}"], realm: test}\ndata_dir: "@DATA@"\n`);
  await start(t, file);
  const mem = serviceMemory(file);
  t.ok(mem !== null, 'service_memory is not null right after start (default 30 s flush interval)');
  t.ok(mem !== null && mem.rss_bytes > 10 * MiB && mem.heap_used_bytes > MiB, `plausible figures: ${JSON.stringify(mem)}`);
  // The box's memory beside it (what a 256 MiB gateway runs short of), as the kernel says it now.
  const r = runSipreg(['stats', '-c', file, '--json']);
  const box = (JSON.parse(r.stdout) as { store: { box_memory: { total_bytes: number; available_bytes: number; pressure_some_avg60: number | null } | null } }).store.box_memory;
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const total = Number(/^MemTotal:\s+(\d+) kB$/m.exec(meminfo)![1]) * 1024;
  t.equal(box?.total_bytes, total, 'box memory: the total /proc/meminfo says');
  t.ok(box !== null && box.available_bytes > 0 && box.available_bytes <= total, `available within it (${box?.available_bytes})`);
  t.ok(box?.pressure_some_avg60 === null || (box!.pressure_some_avg60 >= 0 && box!.pressure_some_avg60 <= 100), 'pressure a share of time, or null without PSI');
  const text = runSipreg(['stats', '-c', file]).stdout;
  t.match(text, /box memory +[\d.]+ [KMG]i?B available of [\d.]+ [KMG]i?B/, 'and a line of `sipreg stats`');
});

t.test('an earlier run\'s record is replaced at start, not shown as this run\'s', async (t) => {
  const port = await freeUdpPort();
  const file = writeConfig(`sip: {listen: ["127.0.0.1:${port}"], realm: test}\ndata_dir: "@DATA@"\n`);
  const dataDir = join(dirname(file), 'data');
  const store = openStore(dataDir);
  const old = {
    atMs: 1, budgetBytes: 1, budgetAuto: false, reserveBytes: 1, fileSystemTotalBytes: 1, fileSystemFreeBytes: 1, full: false, fullSinceMs: null,
    historyRowsNotWritten: 0, pruneBatches: 0, prunedRows: 0, prunedBytes: 0, pruneBatchMsLast: 0, pruneBatchMsMax: 0, pruneBatchMsTotal: 0,
    rssBytes: 7, heapUsedBytes: 7, heapTotalBytes: 7, externalBytes: 7,
  } satisfies SpaceRecord;
  await store.meta.put(SPACE_KEY, old);
  await store.close();
  await start(t, file);
  const mem = serviceMemory(file);
  t.ok(mem !== null && mem.rss_bytes !== 7 && mem.heap_used_bytes !== 7, `this run's memory, not the stale record: ${JSON.stringify(mem)}`);
});

t.test('after a restart the counters are this run\'s, not the last run\'s, and stats asks for them now', async (t) => {
  const port = await freeUdpPort();
  const file = writeConfig(`sip: {listen: ["127.0.0.1:${port}"], realm: test}\ndata_dir: "@DATA@"\naccounts:\n  - {number: "1001", auth_mode: ip, allow: ["127.0.0.0/8"]}\n`);
  const counters = (): { counters_at: string | null; counters: Record<string, number> | null } => {
    const r = runSipreg(['stats', '-c', file, '--json']);
    return JSON.parse(r.stdout) as { counters_at: string | null; counters: Record<string, number> | null };
  };
  const first = spawnSipreg(['run', '-c', file]);
  t.teardown(() => { first.kill('SIGKILL'); });
  await waitForLine(first, (l) => l.includes('"msg":"sipreg started"'));
  const client = await SipClient.open(port);
  t.equal((await client.register({ user: '1001', expires: 600 })).status, 200);
  client.close();
  t.equal(counters().counters?.['registers_accepted'], 1, 'the registration just answered is counted at once (stats asked for a flush)');
  first.kill('SIGTERM');
  await exitOf(first);
  t.equal(counters().counters?.['registers_accepted'], 1, 'with the service stopped: its last run\'s counters');
  await start(t, file);
  const now = counters();
  t.not(now.counters?.['registers_accepted'], 1, `a new run does not show the last run's counters as its own (${JSON.stringify(now.counters?.['registers_accepted'])})`);
});

t.test('box memory: /proc/meminfo and /proc/pressure/memory as the kernel writes them', async (t) => {
  const meminfo = 'MemTotal:         232456 kB\nMemFree:           10240 kB\nMemAvailable:      19012 kB\nBuffers:               0 kB\n';
  t.same(parseMeminfo(meminfo), { totalBytes: 232456 * 1024, availableBytes: 19012 * 1024 });
  t.equal(parseMeminfo('MemTotal:  1000 kB\n'), null, 'a kernel without MemAvailable (before 3.14): nothing claimed');
  t.same(parsePressure('some avg10=51.91 avg60=46.39 avg300=17.96 total=72423470\nfull avg10=20.00 avg60=10.00 avg300=4.00 total=1\n'),
    { some10: 51.91, some60: 46.39 });
  t.equal(parsePressure(''), null);
});
