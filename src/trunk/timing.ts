/**
 * Every duration the trunk client uses, with its reason, and the pure functions that turn a server's
 * answer into the next deadline. Kept apart from the state machine so the rules read (and are tested)
 * as a table.
 */
import { assert } from '../assert.js';
import { TIMER_DELAY_MAX_MS } from '../timers.js';

import { T1_MS, T2_MS, TIMER_F_MS } from '../sip/timers.js';

// RFC 3261 §17.1.2.2 and Table 4: non-INVITE client transaction over UDP. Timer E starts at T1 and
// doubles up to T2; after a provisional response it fires every T2; Timer F ends the transaction.
export { T1_MS, T2_MS, TIMER_F_MS };

// How long `stop()` (SIGTERM) and a reload waits for the answer to an un-REGISTER, per trunk, all
// trunks in parallel. Long enough for a challenge round trip with two retransmissions on a slow link,
// short enough that a dead upstream does not hold the shutdown near the service's 35 s stop deadline.
export const UNREGISTER_WAIT_MS = 5_000;

// Trunks starting together (start-up, restart after an outage) are spread over 0..2 s so a restart
// does not fire every REGISTER in one burst.
export const START_SPREAD_MS = 2_000;

// Auto mode refreshes this long before the granted expiry lapses: 10 % of it, at least 5 s, so a
// refresh that needs a challenge round trip and a few retransmissions still lands in time.
export const REFRESH_MARGIN_MIN_S = 5;
export const REFRESH_MARGIN_PERCENT = 10;

// Many NAT devices drop idle UDP mappings after 30-120 s (RFC 4787 §4.3 asks for at least 2 min,
// far from all comply). A trunk behind NAT whose expiry is longer than this needs a keepalive.
export const NAT_PINHOLE_SAFE_S = 120;

// Consecutive credential failures (challenge repeated after credentials, 403) before an operator
// alert; the trunk keeps retrying after it.
export const CREDENTIAL_ALERT_COUNT = 3;

// Within one attempt: how many 423s (each raising the asked expiry) and stale-nonce re-challenges are
// followed before the attempt is called failed. Guards against servers that loop.
export const INTERVAL_TOO_BRIEF_MAX = 2;
export const STALE_NONCE_MAX = 2;

// The largest Retry-After we honour, so a misconfigured upstream cannot park a trunk for days.
export const RETRY_AFTER_MAX_S = 3_600;

// The longest grant a refresh is planned on: one day. RFC 3261 §10.3 lets a registrar only shorten
// the expiry we ask (at most 7200 s, SS_SIP_USER_AGENT_EXPIRE), or raise it through a 423's
// Min-Expires. A longer grant (a misconfigured or hostile upstream: `Expires: 3000000`, a Contact
// `expires=4294967295`) is refreshed as if it were this long: the refresh timer stays far
// below the 2^31-1 ms a node timer holds (beyond it node fires at once: a REGISTER storm), and an
// upstream that lost our binding without telling (restart, database loss) has it back within a day.
export const GRANTED_EXPIRES_MAX_S = 86_400;

assert(T2_MS > T1_MS, 'T2_MS > T1_MS');
assert(TIMER_F_MS === 32_000, 'TIMER_F_MS === 32_000');
assert(UNREGISTER_WAIT_MS < TIMER_F_MS, 'UNREGISTER_WAIT_MS < TIMER_F_MS');
assert(GRANTED_EXPIRES_MAX_S >= 7_200, 'GRANTED_EXPIRES_MAX_S >= 7_200'); // SS_SIP_USER_AGENT_EXPIRE's largest period is planned as granted
assert(GRANTED_EXPIRES_MAX_S * 1000 < TIMER_DELAY_MAX_MS, 'GRANTED_EXPIRES_MAX_S * 1000 < TIMER_DELAY_MAX_MS');
assert(RETRY_AFTER_MAX_S * 1000 < TIMER_DELAY_MAX_MS, 'RETRY_AFTER_MAX_S * 1000 < TIMER_DELAY_MAX_MS');

/**
 * The expiry to ask for: the fixed register period, or in Auto mode SS_SIP_USER_AGENT_AUTO_EXPIRE,
 * raised to the Min-Expires a server once demanded with a 423 (RFC 3261 §10.2.8: remember it).
 */
export function askedExpiresS(fixedS: number | null, autoAskS: number, minExpiresS: number): number {
  const base = fixedS ?? autoAskS;
  return Math.max(base, minExpiresS);
}

/**
 * Milliseconds from a 200 OK to the refresh.
 * Auto: granted − max(5 s, 10 %), but never later than half the grant, so that even a grant of a few
 * seconds is refreshed with half of it to spare. Fixed: about 50 % of the asked period, and never
 * later than the Auto rule applied to what was granted (a server may grant less than asked).
 * A grant longer than GRANTED_EXPIRES_MAX_S counts as that long.
 */
export function refreshDelayMs(grantedS: number, fixedS: number | null): number {
  assert(grantedS > 0, 'grantedS > 0');
  const grantedMs = Math.min(grantedS, GRANTED_EXPIRES_MAX_S) * 1000;
  const marginMs = Math.max(REFRESH_MARGIN_MIN_S * 1000, (grantedMs * REFRESH_MARGIN_PERCENT) / 100);
  // For short grants the margin rule would refresh before the middle (or at once): use the middle.
  const autoMs = Math.max(grantedMs - marginMs, grantedMs / 2);
  const delayMs = fixedS === null ? autoMs : Math.min((fixedS * 1000) / 2, autoMs);
  assert(delayMs < grantedMs, 'delayMs < grantedMs'); // the refresh always starts before the registration lapses
  return Math.round(delayMs);
}

/** Milliseconds to wait after a failure: exactly SS_SIP_USER_AGENT_RETRY_DELAY, or a 503's longer Retry-After. */
export function retryDelayMs(retryDelayS: number, retryAfterS: number | null): number {
  assert(retryDelayS > 0, 'retryDelayS > 0');
  if (retryAfterS !== null && retryAfterS > retryDelayS) return Math.min(retryAfterS, RETRY_AFTER_MAX_S) * 1000;
  return retryDelayS * 1000;
}

/** Retransmission interval after the n-th send (0-based), per Timer E: 500, 1000, 2000, 4000, 4000 ... */
export function retransmitIntervalMs(sendIndex: number, provisional: boolean): number {
  if (provisional) return T2_MS;
  return Math.min(T1_MS * 2 ** Math.min(sendIndex, 4), T2_MS);
}
