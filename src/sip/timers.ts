/**
 * The RFC 3261 timers for UDP (§17, Table 4), named once: the server transactions (transactions.ts) keep
 * answers for Timer J, the trunk client (trunk/timing.ts) retransmits on Timer E and gives up at Timer F.
 */
import { assert } from '../assert.js';
import { limits } from '../limits.js';

/** ms; the round-trip time estimate. */
export const T1_MS = 500;
/** ms; the longest retransmission interval for non-INVITE requests. */
export const T2_MS = 4_000;
/** ms; Timer F: a non-INVITE client transaction gives up (64*T1). */
export const TIMER_F_MS = 64 * T1_MS;
/** ms; Timer J: a completed non-INVITE server transaction keeps answering retransmissions (64*T1 over UDP). */
export const TIMER_J_MS = 64 * T1_MS;

assert(T2_MS > T1_MS, 'T2_MS > T1_MS');
assert(TIMER_F_MS === 32_000 && TIMER_J_MS === 32_000, 'TIMER_F_MS === 32_000 && TIMER_J_MS === 32_000');
// The transaction sweep goes round the whole cache within Timer J.
assert(Math.ceil(limits.transactionCacheMax / limits.transactionSweepSliceMax) * limits.transactionSweepIntervalMs <= TIMER_J_MS, 'Math.ceil(limits.transactionCacheMax / limits.transactionSweepSliceMax) * limits.transactionSweepIntervalMs <= TIMER_J_MS');
