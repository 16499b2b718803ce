// The data_dir's file system filled from outside (issue 19): history writes stop first (a `store_full`
// row, an alert on the status line and in `stats`), pruned history leaves room inside the store file,
// and new bindings still get 200 while the file system has no byte left; when space is back, the
// alert clears and history is written again. Needs root (a small tmpfs as data_dir), as `make test` has.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { startService, type Service } from './service.js';
import { SipClient } from '../registrar/sipclient.js';
import { tmpDir } from '../helpers/sipreg.js';
import { until } from '../helpers/wait.js';

const MiB = 1024 * 1024;

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Writes zeros to `file` until the file system has at most `leaveBytes` free (or none: ENOSPC). */
function fill(file: string, leaveBytes: number): void {
  const fd = openSync(file, 'a');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) {
      const room = freeBytes(join(file, '..')) - leaveBytes;
      if (room <= 0) break;
      try {
        writeSync(fd, chunk, 0, Math.min(chunk.length, room));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
}

interface StoreJson { full: boolean; history_rows: number; free_pages: number; page_size: number; reserve_bytes: number; history_rows_not_written: number | null }

function storeOf(svc: Service): StoreJson {
  const r = svc.cli(['stats', '--json']);
  if (r.status !== 0) throw new Error(`stats: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { store: StoreJson }).store;
}

t.test('a file system filled from outside: history stops first, bindings keep registering, the alert clears', async (t) => {
  const dir = tmpDir('sipreg-store-full-');
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mnt]);
  t.teardown(() => { try { execFileSync('umount', ['-l', mnt]); } catch { /* already gone */ } });
  const numbers = Array.from({ length: 600 }, (_, i) => String(500000 + i));
  const accounts = 'accounts:\n' + numbers.map((n) => `  - { number: "${n}", auth_mode: ip, allow: ["127.0.0.0/8"] }`).join('\n') + '\n';
  // The config and the store on the tmpfs; SS_STORE_FLUSH_INTERVAL 1 so the service's record is fresh.
  const svc = await startService('params:\n  SS_REGISTER_RATE_PER_IP: 0\n  SS_ENDPOINT_EXPIRE_JITTER: 0\n  SS_STORE_FLUSH_INTERVAL: 1\n' + accounts, { dir: mnt });
  t.teardown(() => svc.kill('SIGKILL'));
  const c = await SipClient.open(svc.port);
  t.teardown(() => c.close());
  const pad = 'p'.repeat(400); // in the Contact URI, so in each row's detail: history grows ~0.5 KB a registration
  const contactOf = (n: string): string => `<sip:${n}@127.0.0.1:${c.port};pad=${pad}>`;
  let round = 0;
  /** Registers each number with a new Call-ID (a change: one history row each); returns the status counts. */
  const registerAll = async (list: readonly string[]): Promise<Map<number, number>> => {
    const codes = new Map<number, number>();
    round++;
    for (let i = 0; i < list.length; i += 50) {
      await Promise.all(list.slice(i, i + 50).map((n) => c.register({ user: n, expires: 3600, callId: `r${round}-${n}@test`, contacts: [contactOf(n)] }, 5000)
        .then((r) => r.status, () => 0).then((s) => { codes.set(s, (codes.get(s) ?? 0) + 1); })));
    }
    return codes;
  };

  // History: ~4 MiB of it (8,000 registrations of the first 400 numbers).
  const first = numbers.slice(0, 400);
  for (let i = 0; i < 20; i++) t.same([...await registerAll(first)], [[200, 400]], `round ${i + 1}: every REGISTER 200`);
  // A change's history row is written with the next flush (every second here).
  await until('the last round\'s history flushed', () => storeOf(svc).history_rows >= 8000 || null, 10_000, { everyMs: 500 }).catch(() => {});
  const before = storeOf(svc);
  t.equal(before.full, false, 'not full yet');
  t.ok(before.history_rows >= 8000, `history written (${before.history_rows} rows)`);

  // The file system filled from outside to under the reserve: history stops, the alert shows.
  const filler = join(mnt, 'filler');
  fill(filler, before.reserve_bytes / 2);
  await until('store full', () => (storeOf(svc).full ? true : null), 15_000);
  const roomy = await until('the reserve free inside the file', () => { const s = storeOf(svc); return s.free_pages * s.page_size >= s.reserve_bytes ? s : null; }, 15_000);
  t.ok(roomy.history_rows < before.history_rows, `history pruned until the reserve is free inside the store file (${roomy.free_pages} free pages, ${before.history_rows} -> ${roomy.history_rows} rows)`);
  const events = JSON.parse(svc.cli(['events', '--json', '--type', 'store_full']).stdout) as { detail: string }[];
  t.equal(events.length, 1, 'one store_full event');
  t.match(events[0]?.detail, /nearly full.*history writes stopped/);
  const text = svc.cli(['stats']).stdout;
  t.match(text, /ALERT \S+ store full: disk free/, 'the status line shows the alert');

  // Now not one byte left on the file system: new numbers still register (room inside the file), history does not grow.
  fill(filler, 0);
  t.ok(freeBytes(mnt) < 64 * 1024, `file system full (${freeBytes(mnt)} B free)`);
  const rowsFull = storeOf(svc).history_rows;
  const newcomers = numbers.slice(400);
  t.same([...await registerAll(newcomers)], [[200, newcomers.length]], 'every new number gets 200 on a full file system');
  t.same([...await registerAll(first.slice(0, 100))], [[200, 100]], 'and every change of a known one');
  const list = JSON.parse(svc.cli(['list', '--json']).stdout) as { number: string }[];
  t.equal(list.length, numbers.length, 'every number is bound');
  // The rows of these changes meet the closed gate at the next flush (every second here).
  await until('the changes\' rows refused at a flush', () => (storeOf(svc).history_rows_not_written ?? 0) >= newcomers.length + 100 || null,
    10_000, { everyMs: 500 }).catch(() => {});
  const whileFull = storeOf(svc);
  t.ok(whileFull.history_rows <= rowsFull, `no history row written while full (${rowsFull} -> ${whileFull.history_rows})`);
  t.ok((whileFull.history_rows_not_written ?? 0) >= newcomers.length + 100, `rows counted as not written (${whileFull.history_rows_not_written})`);

  // Space back: the alert clears, history is written again.
  rmSync(filler);
  await until('alert cleared', () => (storeOf(svc).full ? null : true), 15_000);
  t.notMatch(svc.cli(['stats']).stdout, /ALERT \S+ store full/, 'the status line has no store alert');
  const back = JSON.parse(svc.cli(['events', '--json', '--type', 'store_space_back']).stdout) as { detail: string }[];
  t.equal(back.length, 1, 'one store_space_back event');
  t.match(back[0]?.detail, /history written again \(\d+ rows were not written\)/);
  const rowsBack = storeOf(svc).history_rows;
  t.same([...await registerAll(first.slice(0, 10))], [[200, 10]]);
  await until('history written again', () => (storeOf(svc).history_rows > rowsBack ? true : null), 15_000);
  const counters = (JSON.parse(svc.cli(['stats', '--json']).stdout) as { counters: Record<string, number> }).counters;
  t.equal(counters['store_write_failures'], 0, 'no store write failed at any time');
  t.equal(svc.child.exitCode, null, 'still running');
});
