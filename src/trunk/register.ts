/**
 * The bytes of a trunk REGISTER (RFC 3261 §10.2). One function, fed a plain description, so the state
 * machine never deals with header syntax. The bytes come from sip/'s request writer.
 */
import { writeRequest, type WriteFailure } from '../sip/index.js';
import { limits } from '../limits.js';

export interface RegisterContact {
  readonly uri: string;
  readonly expiresS: number | null; // an `expires` parameter on this Contact (used for the stale NAT contact)
}

export interface RegisterSpec {
  readonly requestUri: string;
  readonly viaHost: string;        // sent-by host: our socket's address (IPv6 in brackets)
  readonly viaPort: number;
  readonly branch: string;
  readonly fromUri: string;        // address-of-record; To is the same (§10.2)
  readonly fromTag: string;
  readonly callId: string;
  readonly cseq: number;
  readonly contacts: readonly RegisterContact[];
  readonly expiresS: number;
  readonly privacy: 'id' | 'none' | null;
  readonly userAgent: string;
  readonly authorization: string | null;       // Authorization header value (answer to a 401)
  readonly proxyAuthorization: string | null;  // Proxy-Authorization header value (answer to a 407)
}

/** Encodes the contacts of one REGISTER: `<uri>` or `<uri>;expires=N`, comma-separated (RFC 3261 §20.10). */
export function contactValue(contacts: readonly RegisterContact[]): string {
  return contacts.map((c) => (c.expiresS === null ? `<${c.uri}>` : `<${c.uri}>;expires=${c.expiresS}`)).join(', ');
}

/** The REGISTER's bytes, or 'ERR_SIP_WRITE_OVERFLOW' when it does not fit a datagram we would accept. */
export function writeRegister(spec: RegisterSpec): Buffer | WriteFailure {
  const extra: [string, string][] = [];
  let authorization: string | undefined;
  let proxyAuthorization = false;
  if (spec.authorization !== null) authorization = spec.authorization;
  if (spec.proxyAuthorization !== null) {
    if (authorization === undefined) {
      authorization = spec.proxyAuthorization;
      proxyAuthorization = true;
    } else {
      extra.push(['Proxy-Authorization', spec.proxyAuthorization]);
    }
  }
  // The service endpoint sends from slots of limits.responseSizeMax bytes; a larger REGISTER would be dropped there.
  const buf = Buffer.allocUnsafe(limits.responseSizeMax);
  const n = writeRequest(buf, {
    method: 'REGISTER',
    requestUri: spec.requestUri,
    viaHost: spec.viaHost,
    viaPort: spec.viaPort,
    branch: spec.branch,
    from: spec.fromUri,
    fromTag: spec.fromTag,
    to: spec.fromUri,
    callId: spec.callId,
    cseq: spec.cseq,
    contact: contactValue(spec.contacts),
    expiresS: spec.expiresS,
    ...(authorization === undefined ? {} : { authorization, proxyAuthorization }),
    ...(spec.privacy === null ? {} : { privacy: spec.privacy }),
    userAgent: spec.userAgent,
    extraHeaders: extra,
  }, limits.responseSizeMax);
  if (typeof n === 'string') return n;
  return buf.subarray(0, n);
}
