// Bounds of the registrar, each with its reason (STYLE.md: limits with why, relations asserted at load).
// Kept beside the code that uses them because src/limits.ts belongs to the wire layer; the same rules apply.
import assert from 'node:assert';
import { limits } from '../limits.js';

export const registrarLimits = {
  // Nonces whose nonce-count is remembered (RFC 7616 §3.4.5 replay check). ~120 B of heap each, so
  // ~8 MiB at most; at 20,000 authentications/s it covers the ~3 s between a 401 and the phone's
  // answer many times over. A nonce that falls out is answered 401 stale=true, never accepted twice.
  nonceCountTableMax: 65_536,
  // REGISTERs decided but waiting for their LMDB commit. Past this the service is behind its disk:
  // new REGISTERs get 503 with Retry-After (issue 4 "503 when overloaded") rather than queueing
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

assert(registrarLimits.pendingCommitsMax >= limits.responseSlotCount);
assert(registrarLimits.deferredMax >= 1);
assert(registrarLimits.commitBatchEarly >= 1 && registrarLimits.commitBatchEarly <= registrarLimits.pendingCommitsMax / 4);
assert(registrarLimits.sweepBatchMax >= 1);
assert(registrarLimits.nonceCountTableMax >= 1024);
assert(registrarLimits.lockoutEventsPerSecondMax >= 1);
assert(registrarLimits.lockoutEventsPerSecondMax <= registrarLimits.rejectEventsPerSecondMax);
assert(registrarLimits.writeBackNumbersMax >= 1);
