/**
 * The trunk's side of HTTP Digest (RFC 3261 §22.2, RFC 7616, RFC 8760): which offered challenge to
 * answer, and the Authorization value for each REGISTER. The hashing is sip/'s `buildAuthorization`.
 */
import { randomBytes } from 'node:crypto';
import { buildAuthorization, type DigestChallenge } from '../sip/index.js';

/** A challenge being answered, with its nonce count (RFC 7616 §3.4: nc counts uses of one nonce). */
export interface DigestState {
  readonly challenge: DigestChallenge;
  readonly stale: boolean;
  nc: number;
}

/**
 * The challenge to answer among those of one response: the first we can answer, in the server's
 * order (RFC 8760 §2.4: the server lists its preferred algorithm first). A string says why none can be.
 */
export function pickChallenge(offers: readonly (DigestChallenge | string)[]): DigestState | string {
  let why = 'the response carries no challenge';
  for (const offer of offers) {
    if (typeof offer === 'string') {
      why = offer;
      continue;
    }
    return { challenge: offer, stale: offer.stale === true, nc: 0 };
  }
  return why;
}

/** The next Authorization value for this challenge; counts the nonce's use. */
export function answerChallenge(state: DigestState, method: string, uri: string, username: string, password: string): string {
  state.nc++;
  return buildAuthorization(state.challenge, {
    username, password, method, uri, cnonce: randomBytes(8).toString('hex'), nc: state.nc,
  });
}
