import type { Config } from '../config/types.js';

/**
 * The registrar's protection against brute force and floods (issue 4), as the REGISTER path calls it.
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
  | 'pair_locked'     // this number from this address suspended after SS_ENDPOINT_REGISTER_RETRY failures
  | 'number_held';    // an operator's kick-and-hold (`sipreg unregister N --hold S`): 403

export interface Guard {
  /** Before parsing further than the start line and Via: ACL, address lockout, rate limits. */
  checkSource(address: string, nowMs: number): SourceVerdict;
  /** Once the AOR's number is known. */
  checkNumber(number: string, address: string, nowMs: number): NumberVerdict;
  /** A wrong digest response (not the first, unauthenticated REGISTER). Persists the suspension and
   *  records `locked_out` when this failure crosses SS_ENDPOINT_REGISTER_RETRY or the scanner rule;
   *  returns true in that case. */
  authFailed(number: string, address: string, userAgent: string, nowMs: number): boolean;
  /** A REGISTER that authenticated: the failure count of this number from this address starts again. */
  authSucceeded(number: string, address: string): void;
  reload(config: Config): void;
}
