/**
 * The trunk's side of HTTP Digest (RFC 3261 §22.2, RFC 7616, RFC 8760): which offered challenge to
 * answer, and the Authorization value for each REGISTER. The hashing is sip/'s `buildAuthorization`.
 */
import { randomBytes } from 'node:crypto';
import { DigestAlgorithm, algorithmName, buildAuthorization, type DigestChallenge } from '../sip/index.js';

/** A challenge being answered, with its nonce count (RFC 7616 §3.4: nc counts uses of one nonce). */
export interface DigestState {
  readonly challenge: DigestChallenge;
  readonly stale: boolean;
  nc: number;
}

/**
 * Why a challenge without qop is not answered, or null when it may be. The answer to such a
 * challenge (RFC 2069) has no cnonce and no nonce-count: whoever captures it can replay it for as long
 * as the upstream accepts the nonce, and a forged 401 without qop would downgrade us to it. Only MD5
 * had that form (RFC 2617 §3.2.2.1), and only a trunk with `allow_md5_without_qop` answers it;
 * RFC 7616 §3.3 makes qop mandatory for the SHA-2 algorithms, and the -sess ones need the cnonce.
 */
function withoutQopRefusal(challenge: DigestChallenge, allowMd5WithoutQop: boolean): string | null {
  if (challenge.qopAuth) return null;
  if (challenge.algorithm !== DigestAlgorithm.MD5) {
    return `${algorithmName(challenge.algorithm)} digest without qop is refused (RFC 7616 requires qop=auth)`;
  }
  if (allowMd5WithoutQop) return null;
  return 'MD5 digest without qop is refused (RFC 2069 form: no cnonce or nonce-count, a captured answer replays); ' +
    'set allow_md5_without_qop: true on this trunk if the provider offers nothing better';
}

/**
 * The challenge to answer among those of one response: the first we can answer, in the server's
 * order (RFC 8760 §2.4: the server lists its preferred algorithm first). A string says why none can be.
 */
export function pickChallenge(offers: readonly (DigestChallenge | string)[], allowMd5WithoutQop: boolean): DigestState | string {
  let why = 'the response carries no challenge';
  for (const offer of offers) {
    if (typeof offer === 'string') {
      why = offer;
      continue;
    }
    const refusal = withoutQopRefusal(offer, allowMd5WithoutQop);
    if (refusal !== null) {
      why = refusal;
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
