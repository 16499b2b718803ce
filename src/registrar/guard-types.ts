import type { Config } from '../config/types.js';

/**
 * The registrar's protection against brute force and floods, as the REGISTER path calls it.
 * Implemented in registrar/guard.ts. Every method is synchronous and allocation-light: it runs on
 * the hot path before any digest work is done.
 */
export type SourceVerdict =
  | 'ok'
  | 'acl_denied'      // static acl.deny match, or acl.allow set and no match: drop silently
  | 'rate_limited'    // per-source token bucket empty: drop silently, counted
  | 'overloaded'      // global cap reached: answer 503 with a randomised Retry-After
  | 'address_locked'; // whole address suspended (scanner): drop, or 403 when SS_REGISTER_LOCKOUT_DROP is Off

export type NumberVerdict =
  | 'ok'
  | 'pair_locked'       // this number from this source suspended after SS_ENDPOINT_REGISTER_RETRY failures: drop (or 403)
  | 'number_held'       // an operator's kick-and-hold (`sipreg unregister N --hold S`): refused after the digest
  | 'number_suspended'; // SS_REGISTER_NUMBER_FAILURES reached from all sources: refused after the digest from
                        // sources the number is not registered from

/**
 * Sources: an IPv4 address, or the /64 of an IPv6 address (net/sourceOf); every rate, count and lockout
 * below is per source. The registrar calls authFailed only for a request whose nonce was issued to its
 * source address, so a failure always took a round trip to where it is counted.
 */
export interface Guard {
  /** Before parsing further than the start line and Via: ACL, address lockout, rate limits. */
  checkSource(address: string, nowMs: number): SourceVerdict;
  /** Once a number is known: the To user, and the digest username when it is another. */
  checkNumber(number: string, address: string, nowMs: number): NumberVerdict;
  /** A refused digest answer (not the first, unauthenticated REGISTER). Persists the suspension and
   *  records `locked_out` when this failure crosses SS_ENDPOINT_REGISTER_RETRY, the scanner rule or
   *  SS_REGISTER_NUMBER_FAILURES; returns true in that case. */
  authFailed(number: string, address: string, userAgent: string, nowMs: number): boolean;
  /** A REGISTER that authenticated: the failure count of this number from this source starts again. */
  authSucceeded(number: string, address: string): void;
  reload(config: Config): void;
}
