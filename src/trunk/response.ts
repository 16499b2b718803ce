/**
 * What a trunk needs from a response, copied out of the SipMessage inside the endpoint's callback
 * (the endpoint reuses the message for the next datagram). Trunk responses are a few per trunk per
 * refresh period, so a small object per response is fine here (unlike the registrar's hot path).
 */
import { Hdr, DigestParams, DigestAlgorithm, challengeFrom, parseDigestHeader, type SipMessage, type DigestChallenge } from '../sip/index.js';

export interface ResponseContact {
  readonly user: string;
  readonly host: string;      // as written, IPv6 in brackets
  readonly port: number;      // -1 when absent
  readonly expiresS: number;  // -1 when absent
}

export interface Challenge {
  readonly proxy: boolean;    // 407 Proxy-Authenticate (true) or 401 WWW-Authenticate
  /** The challenge, or why we cannot answer it (not Digest, unknown algorithm, qop without auth). */
  readonly digest: DigestChallenge | string;
}

export interface TrunkResponse {
  readonly status: number;
  readonly phrase: string;
  readonly callId: string;
  readonly cseq: number;
  readonly cseqMethod: string;
  readonly viaReceived: string | null; // RFC 3261 §18.2.1 `received`
  readonly viaRport: number | null;    // RFC 3581 `rport` value
  readonly contacts: readonly ResponseContact[];
  readonly expiresS: number | null;
  readonly minExpiresS: number | null;
  readonly retryAfterS: number | null;
  readonly challenges: readonly Challenge[];
}

export function readResponse(msg: SipMessage): TrunkResponse {
  const contacts: ResponseContact[] = [];
  for (let i = 0; i < msg.contactCount; i++) {
    const c = msg.contact(i);
    if (c.star) continue;
    contacts.push({ user: c.uri.user(), host: c.uri.host(), port: c.uri.port, expiresS: c.expires });
  }
  const challenges: Challenge[] = [];
  for (const [type, proxy] of [[Hdr.WwwAuthenticate, false], [Hdr.ProxyAuthenticate, true]] as const) {
    for (let i = msg.nextHeader(type, -1); i >= 0; i = msg.nextHeader(type, i)) challenges.push({ proxy, digest: readChallenge(msg, i) });
  }
  return {
    status: msg.statusCode,
    phrase: msg.reason(),
    callId: msg.callId(),
    cseq: msg.cseq,
    cseqMethod: msg.cseqMethodText(),
    viaReceived: msg.via.hasReceived ? stripBrackets(msg.via.received()) : null,
    viaRport: msg.via.rport >= 0 ? msg.via.rport : null,
    contacts,
    expiresS: msg.expires >= 0 ? msg.expires : null,
    minExpiresS: msg.minExpires >= 0 ? msg.minExpires : null,
    retryAfterS: msg.retryAfterS >= 0 ? msg.retryAfterS : null,
    challenges,
  };
}

export function stripBrackets(host: string): string {
  return host.length >= 2 && host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

const digestScratch = new DigestParams();

function readChallenge(msg: SipMessage, index: number): DigestChallenge | string {
  const failure = parseDigestHeader(digestScratch, msg, index);
  if (failure === 'ERR_SIP_AUTH_SCHEME') return `not a Digest challenge (${msg.value(index).slice(0, 40)})`;
  if (failure !== null) return 'unparseable Digest challenge';
  if (digestScratch.algorithm === DigestAlgorithm.Unknown) return `unsupported digest algorithm in "${msg.value(index).slice(0, 80)}"`;
  // A qop list without "auth" (auth-int only) would need the body hash, which a REGISTER client does
  // not offer. No qop at all (the RFC 2069 form) is for the trunk's settings to decide: auth.ts.
  if (digestScratch.hasQop && !digestScratch.qopAuth) return `qop "${digestScratch.qop()}" without auth is not supported`;
  const challenge = challengeFrom(digestScratch);
  return challenge;
}
