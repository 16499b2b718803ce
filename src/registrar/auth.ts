// Digest authentication of a REGISTER (RFC 3261 §22, RFC 7616): the checks of its Authorization header
// against our challenge, the nonce, the Request-URI and the account's HA1, as a verdict. What a verdict
// leads to (a challenge, a 403 and the failure counted against the number, a lockout) is decided by the
// order of checks (checks.ts), the one caller of the guard.
//
// Every number goes through the same work: one without an account is verified against a derived HA1
// and fails like a wrong password. A nonce-count is spent only by a correct answer that nothing else
// refuses (spendNonceCount), so forged requests cannot fill the table and a right password never
// answers differently from a wrong one.
import type { Account, Config, DigestAlgorithm as ConfigAlgorithm } from '../config/types.js';
import {
  DigestAlgorithm, DigestParam, DigestParams, Hdr, parseDigestHeader, verifyDigest,
  type DigestAlgorithmId, type SipMessage,
} from '../sip/index.js';
import { NonceCounts, NonceIssuer } from './nonce.js';
import type { Responder } from './responder.js';
import { BACKSLASH, hasByte, type RegisterRequest } from './request.js';

const algorithmIds: Record<ConfigAlgorithm, DigestAlgorithmId> = { 'MD5': DigestAlgorithm.MD5, 'SHA-256': DigestAlgorithm.SHA256 };

/** What the digest checks say of a REGISTER's credentials. */
export type DigestVerdict =
  | 'verified'    // the response matches a real account's HA1 (its nonce-count not yet spent)
  | 'challenge'   // no credentials, none we can read, not our realm or algorithm, a nonce not ours, no qop=auth
  | 'stale'       // a nonce of an earlier start of the service, or past its lifetime: challenge, stale=true
  | 'other_user'  // the digest username is not the AOR's user (`username`)
  | 'wrong_uri'   // the digest uri is not this request's Request-URI
  | 'mismatch';   // the response does not match: a wrong password, or no such account (`accountKnown`)

export class DigestAuth {
  private readonly creds = new DigestParams();
  private readonly nonces: NonceIssuer;
  private readonly nonceCounts = new NonceCounts();
  private accounts: ReadonlyMap<string, Account> = new Map();
  private offered: DigestAlgorithmId[] = [];
  private realm = '';
  private nonceLifetimeS = 0;
  /** The checked nonce and when it was issued. */
  private nonce = '';
  private issuedAtMs = 0;
  /** The digest username of the last check, from 'other_user' on. */
  username = '';
  /** Of the last check, from 'mismatch' on: whether the username has an account. */
  accountKnown = false;

  /** `nonceSecret`: registrar/nonce.ts loadNonceSecret. */
  constructor(nonceSecret: Buffer, private readonly answers: Responder) {
    this.nonces = new NonceIssuer(nonceSecret);
  }

  reload(config: Config, accounts: ReadonlyMap<string, Account>): void {
    this.accounts = accounts;
    this.offered = config.params.authAlgorithms.map((a) => algorithmIds[a]);
    this.realm = config.sip.realm;
    this.nonceLifetimeS = config.params.nonceLifetimeS;
  }

  /** Answers 401 with a fresh nonce bound to the request's source address. */
  challenge(req: RegisterRequest, stale: boolean): void {
    this.answers.challenge(req, this.realm, this.nonces.issue(req.nowMs, req.source.address), this.offered, stale);
  }

  /** The digest checks, in order, for `req` (its number read). */
  check(req: RegisterRequest): DigestVerdict {
    const msg = req.msg;
    const index = msg.firstHeader[Hdr.Authorization]!;
    if (index < 0) return 'challenge';
    const creds = this.creds;
    // A scheme other than Digest, or credentials we cannot read: challenge again (RFC 4475 §3.3.7).
    if (parseDigestHeader(creds, msg, index) !== null || !creds.hasUsername || !creds.hasResponse) return 'challenge';
    const algorithm = creds.algorithm;
    if (!this.offered.includes(algorithm) || creds.realm() !== this.realm) return 'challenge';
    const nonce = creds.nonce();
    // The nonce is bound to the address it was sent to (nonce.ts): one fetched elsewhere is 'invalid'
    // here and gets a fresh challenge, never a failure counted against this address. One of an earlier
    // start of the service is 'stale' (the nonce-counts did not survive it).
    const check = this.nonces.check(nonce, req.nowMs, this.nonceLifetimeS, req.source.address);
    if (check !== 'ok') return check === 'stale' ? 'stale' : 'challenge';
    // RFC 3261 §22.4 asks for qop=auth in our challenge; an answer without it could be replayed freely.
    if (!creds.qopAuth || creds.nc < 1) return 'challenge';
    this.nonce = nonce;
    this.issuedAtMs = this.nonces.issuedAtMs;
    const username = creds.username();
    this.username = username;
    if (username !== req.number) return 'other_user';
    // RFC 7616 §3.4.6 / RFC 2617 §3.2.2.5: the response covers `uri`, which must be this request's
    // Request-URI, or an answer captured for one request would serve for another.
    if (!uriIsRequestUri(msg, creds)) return 'wrong_uri';
    const account = this.accounts.get(username);
    this.accountKnown = account !== undefined;
    // Unknown numbers go through the same work with a derived HA1 and fail like a wrong password.
    const real = account === undefined ? null : algorithm === DigestAlgorithm.MD5 ? account.ha1.md5 : account.ha1.sha256;
    const ha1 = real ?? this.nonces.fakeHa1(username, this.realm, algorithm === DigestAlgorithm.MD5 ? 'MD5' : 'SHA-256');
    return verifyDigest(creds, 'REGISTER', ha1) && real !== null ? 'verified' : 'mismatch';
  }

  /** The digest uri of the last check, as text (for an event's detail). */
  uriText(): string { return this.creds.uri(); }

  /**
   * After 'verified' and nothing else refusing the request: records its nonce-count. 'replay' when the
   * count does not increase, 'evicted' when the nonce may have left the table (challenge, stale=true).
   */
  spendNonceCount(): 'ok' | 'replay' | 'evicted' {
    return this.nonceCounts.accept(this.nonce, this.issuedAtMs, this.creds.nc);
  }
}

const URI_START = DigestParam.Uri * 3;
const A_UPPER = 0x41, Z_UPPER = 0x5a;

/**
 * Whether the digest `uri` is the Request-URI as the phone sent it: byte for byte, ASCII letters in any
 * case (a scheme and host are case-insensitive; phones copy the Request-URI, RFC 3261 §22.4). A quoted
 * value with backslash escapes (never seen from a phone) is compared as text.
 */
function uriIsRequestUri(msg: SipMessage, creds: DigestParams): boolean {
  const t = creds.table;
  const us = t[URI_START]!;
  const ue = t[URI_START + 1]!;
  if (us < 0) return false;
  const rs = msg.requestUri.start;
  const re = msg.requestUri.end;
  const a = creds.buf;
  const b = msg.buf;
  if (t[URI_START + 2] === 1 && hasByte(a, us, ue, BACKSLASH)) return creds.uri() === msg.requestUri.raw();
  if (ue - us !== re - rs) return false;
  for (let i = 0; i < ue - us; i++) {
    let x = a[us + i]!;
    let y = b[rs + i]!;
    if (x >= A_UPPER && x <= Z_UPPER) x |= 0x20;
    if (y >= A_UPPER && y <= Z_UPPER) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}
