// Bounds of the store's size (issue 19), each with its reason (STYLE.md: limits with why, relations
// asserted at load). Kept beside the code that uses them, as registrar/limits.ts is.
import assert from 'node:assert';

const MiB = 1024 * 1024;

export const storeLimits = {
  // SS_STORE_MAX_MB = 0 (auto): at most this share of the data_dir's file system. The other half is for
  // what shares the partition (logs, the config history) and for `sipreg compact`, whose copy is as
  // large as the used part of the store and sits beside it until it replaces the file.
  budgetAutoFileSystemShare: 0.5,
  // bytes; the auto budget is never more than this. At the defaults the store holds at most
  // SS_EVENT_MAX (1,000,000) history rows, ~240 MiB at the ~250 B of page space a row takes (README
  // "Store size"), and the bindings of the largest site sipreg is sized for (100,000 phones, ~33 MiB
  // with their expiry index): 1 GiB holds both with room. A bigger store only makes the compacting copy
  // (start-up, `sipreg compact`) and backups slower; an operator who wants more says so.
  budgetAutoMaxBytes: 1024 * MiB,
  // bytes; on a 32-bit process (armv7) no budget, configured or auto, is more than this. The map is twice
  // the budget (mapSizeBudgetFactor) and must fit the 3 GiB a 32-bit process has (Debian's armhf kernels
  // split 3G/1G) beside Node (~75 MiB mapped), its heap (V8 reserves its spaces up front) and the thread
  // stacks, and never be remapped: lmdb-js keeps each old map, so a remap of a big map exhausts the
  // address space where 64 bits would not notice. A 512 MiB map leaves over 2 GiB for the rest; 256 MiB
  // hold the bindings of 100,000 phones and the whole history of 10,000 (README "Store size").
  budget32BitMaxBytes: 256 * MiB,
  // bytes; the smallest budget (SS_STORE_MAX_MB's minimum, and the auto one on a tiny file system):
  // the reserve below plus a few thousand history rows.
  budgetMinBytes: 4 * MiB,
  // bytes; room kept for binding changes, inside the budget (history stops short of it) and on the file
  // system (history writes stop when less than this is free). At least the size of what is never pruned
  // (bindings, their expiry index, lockouts, trunk state, meta): one commit rewrites at most every page
  // of what it touches, so with that much free the largest commit of binding changes still fits. And
  // never less than this: at 2,000 changes/s history grows ~750 KB/s (issue 19), and the file system
  // is looked at every spaceCheckIntervalMs, so 2 MiB is two seconds of that.
  reserveMinBytes: 2 * MiB,
  // History writes resume when the file system has this many reserves free again (hysteresis: a file
  // system hovering at the reserve does not flip the alert every second).
  resumeReserveFactor: 1.5,
  // ms between looks at the file system (statfs) and at the store's page counts; each prunes if needed.
  spaceCheckIntervalMs: 1_000,
  // History values removed in one prune transaction at most. The removal runs on the event loop inside
  // the write transaction (lmdb-js runs transaction callbacks on the main thread) and the registrar's
  // next commit waits for it: 128 values (a value holds the rows of one commit) take about a
  // millisecond (the soak's figures are in README "Store size").
  pruneBatchValuesMax: 128,
  // bytes of history removed in one prune transaction at most: 1 MiB frees 256 pages, whose freelist
  // entry the commit writes; more per commit would only make that commit slower to reach the disk.
  pruneBatchBytesMax: 1 * MiB,
  // Prune transactions in one round at most (one round per spaceCheckIntervalMs): 1 GiB of history,
  // so even a budget lowered from the maximum is reached in one round; the next round goes on.
  pruneBatchesPerRoundMax: 1_024,
  // The start-up compaction runs when more than this share of the file is free pages.
  compactFreeShare: 0.5,
  // bytes; and only when the file is at least this large (compacting a small file gains nothing).
  compactFileMinBytes: 8 * MiB,
  // The map lmdb-js is opened with, as a multiple of the budget: the file can run past the budget by
  // free pages not yet reused, and a map that covers it is never remapped (lmdb-js keeps each old map
  // until the process ends, so every remap adds to the RSS). Past it lmdb-js's LMDB grows the map by
  // itself: the size limit is ours (the prune and the file system check), not LMDB's.
  mapSizeBudgetFactor: 2,
} as const;

assert(storeLimits.budgetAutoFileSystemShare > 0 && storeLimits.budgetAutoFileSystemShare <= 0.5); // room for the compacting copy
assert(storeLimits.budgetMinBytes > storeLimits.reserveMinBytes);
assert(storeLimits.budgetAutoMaxBytes >= storeLimits.budgetMinBytes);
assert(storeLimits.budget32BitMaxBytes >= storeLimits.budgetMinBytes && storeLimits.budget32BitMaxBytes * storeLimits.mapSizeBudgetFactor <= 1024 * MiB);
assert(storeLimits.resumeReserveFactor > 1);
assert(storeLimits.pruneBatchValuesMax >= 1);
assert(storeLimits.pruneBatchBytesMax >= 64 * 1024); // a registrar value (one commit's rows) is at most a few hundred KiB
assert(storeLimits.pruneBatchesPerRoundMax * storeLimits.pruneBatchBytesMax >= storeLimits.budgetAutoMaxBytes);
assert(storeLimits.compactFreeShare >= 0.5 && storeLimits.compactFreeShare < 1);
assert(storeLimits.mapSizeBudgetFactor >= 1);
