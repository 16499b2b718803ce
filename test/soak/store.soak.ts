// `make soak-store` (issue 19; minutes, not part of `make test`): 10,000 phones re-registering with a new
// Call-ID each time (a change, committed with its history row) for ten minutes at 1,000/s, with data_dir
// on a 32 MiB file system: the ~120 MB of history this writes would fill it several times over. No 500,
// no lost binding, history pruned to the budget (auto: 16 MiB), the file system never full; the figures
// (rows kept, bytes, prune time per transaction, REGISTER latency while pruning) are printed.
// SOAK_SECONDS, SOAK_RATE and SOAK_PHONES change the run. Needs root (the tmpfs) and SIPp (make test-deps).
import t from 'tap';
import { runStoreSoak, soakReport, type SoakOptions } from './store-load.js';
import { assertSoak } from './assert.js';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);

t.test('ten minutes of history on a 32 MiB file system', async (t) => {
  const o: SoakOptions = {
    phones: env('SOAK_PHONES', 10_000), fileSystemMiB: 32, seconds: env('SOAK_SECONDS', 600), ratePerS: env('SOAK_RATE', 1_000),
    padBytes: 0, progress: (l) => process.stdout.write(`# ${l}\n`),
  };
  const f = await runStoreSoak(o);
  for (const line of soakReport(o, f)) process.stdout.write(`# ${line}\n`);
  assertSoak(t, o, f, 4, true);
});
