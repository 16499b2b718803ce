// Granted expiry of one contact (RFC 3261 §10.3 step 7, with the NAT expiry and the jitter).
// Pure and allocation-free: the answer is written into a reusable result object.
import type { Params } from '../config/types.js';
import type { ByteText } from '../store/bytes.js';

/** Where the asked interval came from; named in events so the console's "Why" screen can say it. */
export const ExpirySource = { ContactParam: 0, ExpiresHeader: 1, Account: 2, Default: 3 } as const;
export type ExpirySourceId = (typeof ExpirySource)[keyof typeof ExpirySource];
export const expirySourceNames: readonly string[] = ['contact expires param', 'Expires header', 'account expire', 'SS_ENDPOINT_EXPIRE'];

export const ExpiryOutcome = { Grant: 0, Remove: 1, TooBrief: 2 } as const;
export type ExpiryOutcomeId = (typeof ExpiryOutcome)[keyof typeof ExpiryOutcome];

export class ExpiryResult {
  outcome: ExpiryOutcomeId = ExpiryOutcome.Grant;
  askedS = 0;
  source: ExpirySourceId = ExpirySource.Default;
  grantedS = 0;
  clamped = false;       // above SS_ENDPOINT_MAX_EXPIRE
  natLimited = false;    // shortened to SS_ENDPOINT_NAT_EXPIRE
  jitterS = 0;           // taken off by SS_ENDPOINT_EXPIRE_JITTER
}

/**
 * contact `expires` param, else the Expires header, else the phone's configured `expire`, else
 * SS_ENDPOINT_EXPIRE. 0 removes. A nonzero ask under SS_ENDPOINT_MIN_EXPIRE is 423 (the caller answers
 * with Min-Expires); above SS_ENDPOINT_MAX_EXPIRE it is clamped. A NATed contact gets at most
 * SS_ENDPOINT_NAT_EXPIRE. Then the jitter takes a random 0..N % off, never going under the minimum,
 * so a population that registered together does not refresh together.
 *
 * `random` is a number in [0, 1) (Math.random() in service; fixed in tests).
 */
export function computeExpiry(out: ExpiryResult, contactParamS: number, headerS: number, accountS: number | null,
  params: Params, nat: boolean, random: number): ExpiryResult {
  let asked: number;
  if (contactParamS >= 0) { asked = contactParamS; out.source = ExpirySource.ContactParam; }
  else if (headerS >= 0) { asked = headerS; out.source = ExpirySource.ExpiresHeader; }
  else if (accountS !== null) { asked = accountS; out.source = ExpirySource.Account; }
  else { asked = params.endpointExpiresS; out.source = ExpirySource.Default; }
  out.askedS = asked;
  out.clamped = false;
  out.natLimited = false;
  out.jitterS = 0;
  if (asked === 0) {
    out.outcome = ExpiryOutcome.Remove;
    out.grantedS = 0;
    return out;
  }
  const minS = params.endpointMinExpiresS;
  if (asked < minS) {
    out.outcome = ExpiryOutcome.TooBrief;
    out.grantedS = 0;
    return out;
  }
  let granted = asked;
  if (granted > params.endpointMaxExpiresS) { granted = params.endpointMaxExpiresS; out.clamped = true; }
  if (nat && granted > params.endpointNatExpiresS) { granted = params.endpointNatExpiresS; out.natLimited = true; }
  if (params.expiresJitterPercent > 0) {
    const floorS = granted < minS ? granted : minS;
    let cut = Math.floor(granted * (params.expiresJitterPercent / 100) * random);
    if (granted - cut < floorS) cut = granted - floorS;
    granted -= cut;
    out.jitterS = cut;
  }
  out.outcome = ExpiryOutcome.Grant;
  out.grantedS = granted;
  return out;
}

/** Why this expiry, in words, for an event's detail: written into `t` (no string is made). */
export function describeExpiry(t: ByteText, r: ExpiryResult, params: Params): ByteText {
  t.int(r.grantedS).text(' s (asked ').int(r.askedS).text(' s by ').text(expirySourceNames[r.source]!);
  if (r.clamped) t.text(', clamped to SS_ENDPOINT_MAX_EXPIRE ').int(params.endpointMaxExpiresS);
  if (r.natLimited) t.text(', NAT: SS_ENDPOINT_NAT_EXPIRE ').int(params.endpointNatExpiresS);
  if (r.jitterS > 0) t.text(', -').int(r.jitterS).text(' s SS_ENDPOINT_EXPIRE_JITTER');
  return t.text(')');
}
