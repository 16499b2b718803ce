// What the store soak must show, for both of its lengths (test/soak/store-load.ts).
import type { Test } from 'tap';
import type { SoakFigures, SoakOptions } from './store-load.js';

/**
 * `overfill`: how many times over the history written would fill the budget (checked, so the soak proves
 * something). `timed`: also hold the prune's event-loop time to a bound — only in `make soak-store`, on a
 * machine left to it; in `make test` (shared, loaded CI cores) the figure is printed, not asserted: a
 * wall-clock bound there fails on the machine's load, not on the code.
 */
export function assertSoak(t: Test, o: SoakOptions, f: SoakFigures, overfill: number, timed: boolean): void {
  const s = f.store;
  t.equal(f.failed, 0, `every SIPp call ended with its 200 (${f.successful} of ${f.calls})`);
  t.equal(f.successful, f.calls);
  t.equal(f.counters['registers_rejected'], 0, 'no 500 (nor any other refusal)');
  t.equal(f.counters['store_write_failures'], 0, 'no store write failed');
  t.same(f.missing, [], `no lost binding (${f.bound} of ${f.phones} bound)`);
  const prune = s.prune;
  t.ok(prune !== null && prune.rows > 0, `history was pruned (${prune?.rows} rows)`);
  t.ok((prune?.rows ?? 0) + s.history_rows >= overfill * s.history_rows, `history written ${overfill} times what the budget keeps, or more`);
  t.ok(s.used_bytes <= s.budget_bytes, `used pages within the budget at the end (${s.used_bytes} of ${s.budget_bytes} B)`);
  t.ok(f.historyBytesMax <= s.budget_bytes - s.reserve_bytes + 2 * 1048576, `history never far past the budget less the reserve (at most ${f.historyBytesMax} B)`);
  t.ok(f.fileBytesMax <= s.budget_bytes * 1.25, `the store file stayed near its budget (at most ${f.fileBytesMax} of ${s.budget_bytes} B)`);
  t.ok(f.fileSystemMinFreeBytes >= s.reserve_bytes, `the file system never came near full (least free ${f.fileSystemMinFreeBytes} B)`);
  t.equal(f.storeFullSeen, false, 'so history never had to stop');
  if (!timed) {
    t.comment(`prune transactions: largest ${prune?.batch_ms_max} ms on the event loop (asserted by make soak-store)`);
    return;
  }
  t.ok((prune?.batch_ms_max ?? Infinity) < 50, `each prune transaction short on the event loop (largest ${prune?.batch_ms_max} ms)`);
}
