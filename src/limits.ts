// The bounds of sipreg, in sections (wire, registrar, guard tables, store, operator), each with the reason
// for its value [TigerBeetle constants.zig]. Names end with their unit (`...Max` counts or bytes as stated,
// `...Ms`, `...S`). Relations between bounds are asserted at load, so a bad edit fails at start-up rather
// than under load. The RFC 3261 timers are in sip/timers.ts, the trunk client's timing (its own waits,
// spreads and retries) in trunk/timing.ts, the longest delay a node timer honours in timers.ts.
import { totalmem } from 'node:os';
import { assert } from './assert.js';

/** bytes of RAM below which the box is a small gateway and the fixed tables are sized down (a 256 or 512 MiB box). */
export const SMALL_BOX_MEMORY_BYTES = 1024 * 1024 * 1024;

/** Completed transactions cached on a box with `memoryBytes` of RAM (limits.transactionCacheMax says why). */
export function transactionCacheFor(memoryBytes: number): number {
  return memoryBytes < SMALL_BOX_MEMORY_BYTES ? 8_192 : 32_768;
}

// ---------------------------------------------------------------------------------------------------------
// Wire (src/sip): datagrams, headers, responses, server transactions.
export const limits = {
  // bytes; RFC 3261 §18.1.1 moves requests over 1300 B to TCP, so a UDP SIP datagram is small:
  // 8 KiB is generous headroom (RFC 4475's longreq is 3.5 KB). Larger datagrams are dropped and counted.
  messageSizeMax: 8192,
  // A REGISTER carries about a dozen header lines; RFC 4475's longreq has 47. Past this: 'ERR_SIP_HEADERS_MAX'.
  headerCountMax: 64,
  // bytes of one header field including its folded continuation lines; past this 'ERR_SIP_HEADER_TOO_LONG'.
  // A digest Authorization with SHA-256 and long nonces is about 400 B.
  headerLengthMax: 2048,
  // Contact values in one request (all Contact lines, comma-separated ones counted singly). Bounds what
  // one REGISTER can ask of the store; past this 'ERR_SIP_CONTACTS_MAX'.
  contactsPerRequestMax: 16,
  // bytes of a response we write, and of a response slot: twice registerOkSizeMax. The writer returns
  // 'ERR_SIP_WRITE_OVERFLOW' rather than exceed it. (At 4096 a 200 listing six phones with push
  // parameters did not fit its half slot and the sixth phone was answered 500.)
  responseSizeMax: 8192,
  // bytes of a REGISTER's 200 OK: the registrar writes it into the lower half of a response slot and
  // keeps the upper half for the 500 it sends instead when the commit fails, so both are ready before the
  // commit settles. A 200 that does not fit is answered `500 Server Internal Error - Response Too Large`.
  // SERVER_REGISTRAR_MAX_BINDINGS (at most 10) contacts of the longest realistic form (IPv6 with port,
  // +sip.instance, reg-id, RFC 8599 push parameters: ~300 B each with ;expires) plus Via/From/To fit
  // with room (test/registrar/ok-size.test.ts writes that 200: about 3.4 KB).
  registerOkSizeMax: 4096,
  // bytes asked for each SIP socket's kernel receive buffer (SO_RCVBUF). Datagrams arriving while the
  // event loop is busy (a burst, a GC pause, sending a commit batch's answers) wait here; when it is full
  // the kernel drops them and phones retransmit only after 500 ms. Under SIPp at 8,000 registrations/s,
  // Linux's default (208 KiB, ~400 REGISTERs) let the service's socket drop 25,000-113,000 datagrams in
  // 8 s; with 4 MiB none, as long as the service kept up on average (saturated, no buffer helps). The
  // kernel caps it at net.core.rmem_max: the appliance image raises that
  // (image/rootfs/etc/sysctl.d/60-sipreg.conf) and the service warns at start when it got less.
  socketReceiveBufferSize: 4 * 1024 * 1024,
  // Responses in flight on the sockets (dgram may queue a send and holds the buffer until its callback).
  // None free: the response is dropped and counted (sendDropsNoSlot), the client retransmits (RFC 3261 §17.1.2).
  responseSlotCount: 256,
  // Completed non-INVITE server transactions kept to answer retransmissions (RFC 3261 §17.2.2). Each
  // keeps its final response in a slot of transactionResponseSlotSize (24 MiB off-heap in all, plus
  // 8 MiB of keys; pages are touched only when used). At an appliance's normal rate (hundreds of phones)
  // it covers the whole of Timer J; at 6,000 authenticated registrations/s (12,000 transactions/s) it
  // still covers 2.7 s, past a phone's second retransmission (T1 = 500 ms, then 1 s): a late copy of a
  // REGISTER is answered from here instead of being processed again (its nonce-count would be a replay).
  // The cache is a ring, so after a while every slot has been written and all 32 MiB are resident. On a
  // box with less than smallBoxMemoryBytes (a 256 MiB gateway, where that was a third of the service's
  // RSS and pushed its code out of memory) it holds 8,192: 8 MiB, the whole of Timer J up to 256
  // transactions/s and past the second retransmission up to 4,000/s, beyond what such a box serves.
  transactionCacheMax: transactionCacheFor(totalmem()),
  // bytes of a cached response kept in the transaction's own slot: a 401 or a 200 with a contact or two
  // (~400-700 B). Larger answers (a 200 listing many bindings) take one of the large slots below.
  transactionResponseSlotSize: 768,
  // responseSizeMax slots for larger cached answers (4 MiB, touched only when used). None free: that answer is not cached and
  // a retransmission of its request is processed again.
  transactionLargeResponseCount: 512,
  // bytes of a transaction key (branch + sent-by + source + method); longer keys are not cached.
  transactionKeySizeMax: 256,
  // Entries one bucket of the transaction index may chain: what one lookup walks at most. The index has
  // two buckets per entry and a secret random hash key per start, so with 32,768 entries a chain holds
  // half an entry on average and reaching 17 has odds near 1e-20 per bucket: the bound costs ordinary
  // traffic nothing. It holds whatever the keys (an unkeyed FNV-1a index let crafted Via branches chain
  // all 32,768 entries into one bucket: ~7x the service's CPU per datagram, and a sweep of them held the
  // event loop for hundreds of ms to seconds); a full bucket gives up its oldest entry.
  transactionProbeMax: 16,
  // Cache slots the periodic transaction sweep looks at per pass, and how often it runs: a full round
  // of 32,768 slots every 8 s, well inside Timer J (entries found expired on lookup go anyway). A pass
  // removes at most this many entries, each unlinked within one chain of transactionProbeMax.
  transactionSweepSliceMax: 4096,
  transactionSweepIntervalMs: 1_000,
  // UDP sockets one transport binds (sip.listen entries; the config refuses more).
  listenAddressCountMax: 16,
  // bytes of a digest hash input assembled by the registrar (method:uri, HA1:nonce:nc:cnonce:qop:HA2);
  // a header longer than this cannot pass, so the credentials simply fail.
  digestInputSizeMax: 2048,
  // bytes; a digest response value is 32 (MD5) or 64 (SHA-256/SHA-512-256) hex digits.
  digestResponseSizeMax: 128,
} as const;

// We send only what we would accept ourselves.
assert(limits.responseSizeMax <= limits.messageSizeMax, 'limits.responseSizeMax <= limits.messageSizeMax');
// The 200 and its 500 fallback share one slot.
assert(2 * limits.registerOkSizeMax <= limits.responseSizeMax, '2 * limits.registerOkSizeMax <= limits.responseSizeMax');
// A single header can never be longer than a datagram, and a datagram has room for the header table.
assert(limits.headerLengthMax <= limits.messageSizeMax, 'limits.headerLengthMax <= limits.messageSizeMax');
assert(limits.headerCountMax >= 16, 'limits.headerCountMax >= 16'); // a REGISTER's mandatory and usual headers must fit
// Each Contact needs at least one header line or a comma, both bounded by the datagram.
assert(limits.contactsPerRequestMax >= 1, 'limits.contactsPerRequestMax >= 1');
assert(limits.contactsPerRequestMax <= limits.headerCountMax * 8, 'limits.contactsPerRequestMax <= limits.headerCountMax * 8');
assert(limits.responseSlotCount >= 1, 'limits.responseSlotCount >= 1');
assert(limits.transactionCacheMax >= limits.responseSlotCount, 'limits.transactionCacheMax >= limits.responseSlotCount'); // every in-flight answer can be cached
assert(limits.transactionCacheMax <= 65_536, 'limits.transactionCacheMax <= 65_536'); // handles pack an index in 16 bits
assert(limits.transactionResponseSlotSize >= 512 && limits.transactionResponseSlotSize <= limits.responseSizeMax, 'limits.transactionResponseSlotSize >= 512 && limits.transactionResponseSlotSize <= limits.responseSizeMax');
assert(limits.transactionKeySizeMax >= 64, 'limits.transactionKeySizeMax >= 64');
assert(limits.transactionProbeMax >= 1 && limits.transactionProbeMax <= 255, 'limits.transactionProbeMax >= 1 && limits.transactionProbeMax <= 255'); // counted in a byte
assert(limits.transactionSweepSliceMax >= 1, 'limits.transactionSweepSliceMax >= 1');
assert(limits.listenAddressCountMax >= 1, 'limits.listenAddressCountMax >= 1');

// ---------------------------------------------------------------------------------------------------------
// Registrar (src/registrar): what it holds in memory between a REGISTER and its commit, and its sweeps.

export const registrarLimits = {
  // Nonces whose nonce-count is remembered (RFC 7616 §3.4.5 replay check). ~120 B of heap each, so
  // ~8 MiB at most; at 20,000 authentications/s it covers the ~3 s between a 401 and the phone's
  // answer many times over. A nonce that falls out is answered 401 stale=true, never accepted twice.
  nonceCountTableMax: 65_536,
  // REGISTERs decided but waiting for their LMDB commit. Past this the service is behind its disk:
  // new REGISTERs get 503 with Retry-After rather than queueing
  // without bound. 8,192 is ~0.4 s of the 20,000/s target, far above what one commit normally holds.
  pendingCommitsMax: 8_192,
  // Changes queued that start their commit without waiting out SS_STORE_COMMIT_WINDOW_MS: the window
  // is there to bound commits a second at low and moderate rates (flash wear); a batch this large
  // already spreads its commit thin, and waiting longer would only fill pendingCommitsMax.
  commitBatchEarly: 1_024,
  // REGISTERs held back because an earlier one for the same number is still being committed
  // (serialised per number so the Call-ID/CSeq decisions read the committed store). Past it: 503.
  deferredMax: 4_096,
  // Lapsed bindings removed per sweep pass; a pass is one LMDB commit, so the event loop is never held
  // for long even after a long outage left a million bindings lapsed.
  sweepBatchMax: 1_000,
  // ms between sweep passes when the last pass found less than a full batch.
  sweepIntervalMs: 1_000,
  // Numbers whose `rejected`/`auth_failed` events are written per second at most; beyond it they are
  // counted only, so a scanner cannot flood the history (the retention bound also holds).
  rejectEventsPerSecondMax: 200,
  // `locked_out` history rows (and their warn lines) written per second at most. A suspension takes
  // several failed round trips, so more than this in one second is an attack from many sources at
  // once; the suspensions are all written to `lockouts` regardless, and one line counts the rest.
  lockoutEventsPerSecondMax: 20,
  // Numbers whose refreshes wait in memory for the next flush (write-back.ts), a few hundred bytes of
  // heap each. 100,000 covers every phone of the largest site sipreg is sized for refreshing within two
  // flush intervals; past it a refresh is committed like a change (as before write-back), never lost.
  writeBackNumbersMax: 100_000,
} as const;

assert(registrarLimits.pendingCommitsMax >= limits.responseSlotCount, 'registrarLimits.pendingCommitsMax >= limits.responseSlotCount');
assert(registrarLimits.deferredMax >= 1, 'registrarLimits.deferredMax >= 1');
assert(registrarLimits.commitBatchEarly >= 1 && registrarLimits.commitBatchEarly <= registrarLimits.pendingCommitsMax / 4, 'registrarLimits.commitBatchEarly >= 1 && registrarLimits.commitBatchEarly <= registrarLimits.pendingCommitsMax / 4');
assert(registrarLimits.sweepBatchMax >= 1, 'registrarLimits.sweepBatchMax >= 1');
assert(registrarLimits.nonceCountTableMax >= 1024, 'registrarLimits.nonceCountTableMax >= 1024');
assert(registrarLimits.lockoutEventsPerSecondMax >= 1, 'registrarLimits.lockoutEventsPerSecondMax >= 1');
assert(registrarLimits.lockoutEventsPerSecondMax <= registrarLimits.rejectEventsPerSecondMax, 'registrarLimits.lockoutEventsPerSecondMax <= registrarLimits.rejectEventsPerSecondMax');
assert(registrarLimits.writeBackNumbersMax >= 1, 'registrarLimits.writeBackNumbersMax >= 1');

// ---------------------------------------------------------------------------------------------------------
// Guard tables (registrar/guard.ts): what the rate limits and the failure counts remember. Each table is a
// BoundedTable that gives up its oldest entry when full, so a flood of sources costs a bounded heap.

export const guardLimits = {
  // Source addresses tracked for rate limiting: a few MiB; well above the phones of one appliance.
  sourceTableMax: 65_536,
  // number@address pairs with failed authentications being counted.
  failurePairTableMax: 16_384,
  // Addresses with failed authentications being counted (the scanner rule).
  failureAddressTableMax: 16_384,
  // Numbers with failed authentications being counted across sources (SS_REGISTER_NUMBER_FAILURES).
  failureNumberTableMax: 16_384,
  // ms; a failure count with no new failure for this long starts again (slow guessing still meets the
  // lockout: one guess an hour is 24 a day, far too slow for a password).
  failureWindowMs: 3_600_000,
  // ms between passes of the lockout sweeper, which removes lapsed suspensions, and how many per pass at most.
  lockoutSweepIntervalMs: 60_000,
  lockoutSweepBatchMax: 1_000,
} as const;

assert(guardLimits.failurePairTableMax <= guardLimits.sourceTableMax, 'guardLimits.failurePairTableMax <= guardLimits.sourceTableMax');
assert(guardLimits.failureWindowMs >= 60_000, 'guardLimits.failureWindowMs >= 60_000');
assert(guardLimits.lockoutSweepBatchMax >= 1, 'guardLimits.lockoutSweepBatchMax >= 1');

// ---------------------------------------------------------------------------------------------------------
// Store (src/store): the size budget of data_dir's store, the prune and the compaction.

const MiB = 1024 * 1024;

export const storeLimits = {
  // SS_STORE_MAX_MB = 0 (auto): at most this share of the data_dir's file system. The other half is for
  // what shares the partition (logs, the config history) and for `sipreg compact`, whose copy is as
  // large as the used part of the store and sits beside it until it replaces the file.
  budgetAutoFileSystemShare: 0.5,
  // bytes; the auto budget is never more than this. At the defaults the store holds at most
  // SS_EVENT_MAX (1,000,000) history rows, ~240 MiB at the ~250 B of page space a row takes
  // (docs/architecture.md "Store size"), and the bindings of the largest site sipreg is sized for (100,000 phones, ~33 MiB
  // with their expiry index): 1 GiB holds both with room. A bigger store only makes the compacting copy
  // (start-up, `sipreg compact`) and backups slower; an operator who wants more says so.
  budgetAutoMaxBytes: 1024 * MiB,
  // bytes; on a 32-bit process (armv7) no budget, configured or auto, is more than this. The map is twice
  // the budget (mapSizeBudgetFactor) and must fit the 3 GiB a 32-bit process has (Debian's armhf kernels
  // split 3G/1G) beside Node (~75 MiB mapped), its heap (V8 reserves its spaces up front) and the thread
  // stacks, and never be remapped: lmdb-js keeps each old map, so a remap of a big map exhausts the
  // address space where 64 bits would not notice. A 512 MiB map leaves over 2 GiB for the rest; 256 MiB
  // hold the bindings of 100,000 phones and the whole history of 10,000 (docs/operations.md "Store size").
  budget32BitMaxBytes: 256 * MiB,
  // bytes; the smallest budget (SS_STORE_MAX_MB's minimum, and the auto one on a tiny file system):
  // the reserve below plus a few thousand history rows.
  budgetMinBytes: 4 * MiB,
  // bytes; room kept for binding changes, inside the budget (history stops short of it) and on the file
  // system (history writes stop when less than this is free). At least the size of what is never pruned
  // (bindings, their expiry index, lockouts, trunk state, meta): one commit rewrites at most every page
  // of what it touches, so with that much free the largest commit of binding changes still fits. And
  // never less than this: at 2,000 changes/s history grows ~750 KB/s, and the file system
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
  // millisecond (the soak's figures are in docs/architecture.md "Store size").
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
  // ms; `sipreg events` and the console's history screens ask the running service to flush so they show
  // what was just answered: at most one such flush per this long, so a script polling history cannot turn
  // the write-back into a commit (and an fdatasync) a second on flash. A request inside it waits for the
  // flush at its end (one for all of them).
  flushOnRequestMinMs: 5_000,
} as const;

assert(storeLimits.budgetAutoFileSystemShare > 0 && storeLimits.budgetAutoFileSystemShare <= 0.5, 'storeLimits.budgetAutoFileSystemShare > 0 && storeLimits.budgetAutoFileSystemShare <= 0.5'); // room for the compacting copy
assert(storeLimits.budgetMinBytes > storeLimits.reserveMinBytes, 'storeLimits.budgetMinBytes > storeLimits.reserveMinBytes');
assert(storeLimits.budgetAutoMaxBytes >= storeLimits.budgetMinBytes, 'storeLimits.budgetAutoMaxBytes >= storeLimits.budgetMinBytes');
assert(storeLimits.budget32BitMaxBytes >= storeLimits.budgetMinBytes && storeLimits.budget32BitMaxBytes * storeLimits.mapSizeBudgetFactor <= 1024 * MiB, 'storeLimits.budget32BitMaxBytes >= storeLimits.budgetMinBytes && storeLimits.budget32BitMaxBytes * storeLimits.mapSizeBudgetFactor <= 1024 * MiB');
assert(storeLimits.resumeReserveFactor > 1, 'storeLimits.resumeReserveFactor > 1');
assert(storeLimits.pruneBatchValuesMax >= 1, 'storeLimits.pruneBatchValuesMax >= 1');
assert(storeLimits.pruneBatchBytesMax >= 64 * 1024, 'storeLimits.pruneBatchBytesMax >= 64 * 1024'); // a registrar value (one commit's rows) is at most a few hundred KiB
assert(storeLimits.pruneBatchesPerRoundMax * storeLimits.pruneBatchBytesMax >= storeLimits.budgetAutoMaxBytes, 'storeLimits.pruneBatchesPerRoundMax * storeLimits.pruneBatchBytesMax >= storeLimits.budgetAutoMaxBytes');
assert(storeLimits.compactFreeShare >= 0.5 && storeLimits.compactFreeShare < 1, 'storeLimits.compactFreeShare >= 0.5 && storeLimits.compactFreeShare < 1');
assert(storeLimits.mapSizeBudgetFactor >= 1, 'storeLimits.mapSizeBudgetFactor >= 1');
assert(storeLimits.flushOnRequestMinMs >= 1_000, 'storeLimits.flushOnRequestMinMs >= 1_000');

// ---------------------------------------------------------------------------------------------------------
// Operator (src/cli, src/console): what the admin commands and the console accept.

export const serviceLimits = {
  // ms; how long the watchdog (WatchdogSec=30s in the unit) is stretched while a reload reads the config
  // on the event loop: 10,000 accounts take ~5 s on a busy x86 core and several times that on a small
  // ARM box; a reload still blocked after this is a hung service, restarted.
  reloadWatchdogMs: 300_000,
  // ms; the longest a reload waits for systemd-notify to hand systemd the stretched watchdog.
  notifyWaitMs: 5_000,
  // ms; while starting (before READY=1), every startExtendEveryMs the loop tells systemd "startExtendMs more"
  // (EXTEND_TIMEOUT_USEC=), up to startExtendTotalMs after the config was read: a start that makes
  // progress is not cut by TimeoutStartSec=180s, one blocked for startExtendMs is.
  startExtendEveryMs: 10_000,
  startExtendMs: 60_000,
  startExtendTotalMs: 900_000,
  // ms; the loop's beat (service/housekeeping.ts), and how late one may come before the service logs
  // "event loop blocked" (a warning: the journal and a console forwarding notices show it).
  loopBeatMs: 1_000,
  loopBlockedWarnMs: 2_000,
} as const;

assert(serviceLimits.reloadWatchdogMs >= 60_000, 'serviceLimits.reloadWatchdogMs >= 60_000');
assert(serviceLimits.notifyWaitMs < serviceLimits.reloadWatchdogMs, 'serviceLimits.notifyWaitMs < serviceLimits.reloadWatchdogMs');
assert(serviceLimits.startExtendMs >= 3 * serviceLimits.startExtendEveryMs, 'serviceLimits.startExtendMs >= 3 * serviceLimits.startExtendEveryMs');
assert(serviceLimits.startExtendTotalMs >= serviceLimits.startExtendMs, 'serviceLimits.startExtendTotalMs >= serviceLimits.startExtendMs');

export const operatorLimits = {
  // s; the longest an operator's forced un-registration can hold the number refused (`unregister --hold`,
  // the console's Unregister): a week covers a weekend and a holiday; a longer ban belongs in the config.
  holdSMax: 7 * 86_400,
  // bytes; the largest config file `sipreg config apply --consume` reads from the push drop-box (the
  // appliance's /etc/sipreg/push.yaml, writable by admin): a config of 100,000 accounts is ~6 MiB, so 64
  // MiB is room for any real one and still refuses a file made to fill the service user's memory.
  pushFileBytesMax: 64 * 1024 * 1024,
  // ms; a file in the push drop-box is taken once its size and time stood still this long (the path unit
  // watches the directory and may fire when a copy starts), or after pushSettleMaxMs whatever it does: a
  // copy stalled longer than that is read as it is, refused when cut, and can be copied again.
  pushSettleMs: 1_000,
  pushSettleMaxMs: 60_000,
} as const;

assert(operatorLimits.holdSMax >= 3_600, 'operatorLimits.holdSMax >= 3_600');
assert(operatorLimits.pushFileBytesMax >= 8 * 1024 * 1024, 'operatorLimits.pushFileBytesMax >= 8 * 1024 * 1024');
assert(operatorLimits.pushSettleMaxMs > 10 * operatorLimits.pushSettleMs, 'operatorLimits.pushSettleMaxMs > 10 * operatorLimits.pushSettleMs');
