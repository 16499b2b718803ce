// The store soak's short variant (issue 19; the ten-minute one is `make soak-store`): 2,000 phones
// re-registering for 40 s with history rows of ~0.3 KB, on a 12 MiB file system whose auto budget (6 MiB)
// keeps a fraction of what is written. No 500, no lost binding, history pruned to the budget,
// the file system never near full. Needs root (the tmpfs), as `make test` has.
import t from 'tap';
import { runStoreSoak, soakReport, type SoakOptions } from '../soak/store-load.js';
import { assertSoak } from '../soak/assert.js';

t.test('history pours in: pruned to the budget, every REGISTER answered 200, every binding kept', async (t) => {
  const o: SoakOptions = { phones: 2000, fileSystemMiB: 12, seconds: 40, ratePerS: 500, padBytes: 100, progress: (l) => t.comment(l) };
  const f = await runStoreSoak(o);
  for (const line of soakReport(o, f)) t.comment(line);
  assertSoak(t, o, f, 2, false);
});
