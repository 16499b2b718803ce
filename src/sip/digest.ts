// HTTP Digest for SIP (RFC 3261 §22.4, RFC 2617, RFC 7616, RFC 8760): liberal parsing of
// Authorization / WWW-Authenticate values in place, HA1/HA2/response for MD5 and SHA-256 (and their
// -sess forms, and SHA-512-256), constant-time verification for the registrar and an Authorization
// builder for the trunk client.
import { assert } from '../assert.js';
import { timingSafeEqual } from 'node:crypto';
import { hash } from './one-shot-hash.js';
import { limits } from '../limits.js';
import { COMMA, DQUOTE, EQUAL, BACKSLASH, skipWs, skipToken, skipQuoted, equalsLower, lowerBytes, isWs } from './scan.js';
import { H_SIZE, H_VALUE_S, H_VALUE_E } from './message.js';
import type { SipMessage } from './message.js';

/** Digest algorithms (RFC 7616 §3.3, RFC 8760 §2). */
export const DigestAlgorithm = {
  Unknown: 0, MD5: 1, MD5Sess: 2, SHA256: 3, SHA256Sess: 4, SHA512_256: 5, SHA512_256Sess: 6,
} as const;
export type DigestAlgorithmId = (typeof DigestAlgorithm)[keyof typeof DigestAlgorithm];
const algorithmNames = ['', 'MD5', 'MD5-sess', 'SHA-256', 'SHA-256-sess', 'SHA-512-256', 'SHA-512-256-sess'] as const;
const algorithmHashes = ['', 'md5', 'md5', 'sha256', 'sha256', 'sha512-256', 'sha512-256'] as const;
const algorithmLower = algorithmNames.map((n) => lowerBytes(n));

export function algorithmName(a: DigestAlgorithmId): string { return algorithmNames[a]; }
export function isSessAlgorithm(a: DigestAlgorithmId): boolean { return a === 2 || a === 4 || a === 6; }

export type DigestFailure =
  | 'ERR_SIP_AUTH_SCHEME' // not the Digest scheme (RFC 4475 §3.3.7: a registrar challenges again)
  | 'ERR_SIP_DIGEST'; // Digest, but its parameter list is not parseable

// Parameter slots.
const P_USERNAME = 0, P_REALM = 1, P_NONCE = 2, P_URI = 3, P_RESPONSE = 4, P_ALGORITHM = 5, P_CNONCE = 6,
  P_OPAQUE = 7, P_QOP = 8, P_NC = 9, P_STALE = 10, P_DOMAIN = 11, P_USERHASH = 12, P_COUNT = 13;
const paramLower = ['username', 'realm', 'nonce', 'uri', 'response', 'algorithm', 'cnonce', 'opaque', 'qop', 'nc',
  'stale', 'domain', 'userhash'].map((n) => lowerBytes(n));
assert(paramLower.length === P_COUNT, 'paramLower.length === P_COUNT');
const L_DIGEST = lowerBytes('digest');
const L_AUTH = lowerBytes('auth');
const L_TRUE = lowerBytes('true');

/** Parsed Digest credentials or challenge: offsets into the message; strings on demand. */
export class DigestParams {
  buf: Buffer = Buffer.alloc(0);
  /** start, end, quoted (1/0) per parameter; start -1 when absent. */
  readonly table = new Int32Array(P_COUNT * 3);

  private get(i: number): string {
    const s = this.table[i * 3]!;
    const e = this.table[i * 3 + 1]!;
    if (s < 0) return '';
    if (this.table[i * 3 + 2] === 1) {
      for (let p = s; p < e; p++) {
        if (this.buf[p] === BACKSLASH) {
          const out = Buffer.allocUnsafe(e - s);
          let n = 0;
          for (let q = s; q < e; q++) {
            if (this.buf[q] === BACKSLASH && q + 1 < e) q++;
            out[n++] = this.buf[q]!;
          }
          return out.toString('utf8', 0, n);
        }
      }
    }
    return this.buf.toString('utf8', s, e);
  }
  has(i: number): boolean { return this.table[i * 3]! >= 0; }
  get hasUsername(): boolean { return this.has(P_USERNAME); }
  get hasResponse(): boolean { return this.has(P_RESPONSE); }
  get hasQop(): boolean { return this.has(P_QOP); }
  get hasOpaque(): boolean { return this.has(P_OPAQUE); }
  username(): string { return this.get(P_USERNAME); }
  realm(): string { return this.get(P_REALM); }
  nonce(): string { return this.get(P_NONCE); }
  uri(): string { return this.get(P_URI); }
  response(): string { return this.get(P_RESPONSE); }
  cnonce(): string { return this.get(P_CNONCE); }
  opaque(): string { return this.get(P_OPAQUE); }
  qop(): string { return this.get(P_QOP); }
  ncText(): string { return this.get(P_NC); }
  domain(): string { return this.get(P_DOMAIN); }
  /** The algorithm; MD5 when absent (RFC 2617 §3.2.1), Unknown for anything not supported. */
  get algorithm(): DigestAlgorithmId {
    const s = this.table[P_ALGORITHM * 3]!;
    if (s < 0) return DigestAlgorithm.MD5;
    const e = this.table[P_ALGORITHM * 3 + 1]!;
    for (let a = 1; a < algorithmLower.length; a++) {
      if (equalsLower(this.buf, s, e, algorithmLower[a]!)) return a as DigestAlgorithmId;
    }
    return DigestAlgorithm.Unknown;
  }
  /** nc as a number (8 hex digits, RFC 7616 §3.4), or -1 when absent or malformed. */
  get nc(): number {
    const s = this.table[P_NC * 3]!;
    const e = this.table[P_NC * 3 + 1]!;
    if (s < 0 || e - s < 1 || e - s > 8) return -1;
    let n = 0;
    for (let p = s; p < e; p++) {
      const c = this.buf[p]! | 0x20;
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x61 + 10 : -1;
      if (d < 0) return -1;
      n = n * 16 + d;
    }
    return n;
  }
  /** stale=true in a challenge (RFC 7616 §3.3). */
  get stale(): boolean {
    const s = this.table[P_STALE * 3]!;
    return s >= 0 && equalsLower(this.buf, s, this.table[P_STALE * 3 + 1]!, L_TRUE);
  }
  /** Whether qop is, or (in a challenge) lists, "auth". */
  get qopAuth(): boolean {
    const s = this.table[P_QOP * 3]!;
    if (s < 0) return false;
    const e = this.table[P_QOP * 3 + 1]!;
    let p = s;
    while (p < e) {
      p = skipWs(this.buf, p, e);
      const ts = p;
      while (p < e && this.buf[p] !== COMMA && !isWs(this.buf[p]!)) p++;
      if (equalsLower(this.buf, ts, p, L_AUTH)) return true;
      while (p < e && (this.buf[p] === COMMA || isWs(this.buf[p]!))) p++;
    }
    return false;
  }
}

/**
 * Parses `Digest k=v, k="v", ...` in buf[start, end) into out. Liberal (RFC 3261 §22.4): any
 * case for the scheme and names, any order, LWS around '=' and ',', quoted or unquoted values (e.g.
 * `algorithm=MD5` or `algorithm="MD5"`), unknown parameters skipped, empty items tolerated.
 */
export function parseDigest(out: DigestParams, buf: Buffer, start: number, end: number): DigestFailure | null {
  assert(start >= 0 && end <= buf.length && start <= end, 'start >= 0 && end <= buf.length && start <= end');
  out.buf = buf;
  out.table.fill(-1);
  let p = skipWs(buf, start, end);
  const schemeE = skipToken(buf, p, end);
  if (!equalsLower(buf, p, schemeE, L_DIGEST)) return 'ERR_SIP_AUTH_SCHEME';
  p = schemeE;
  if (p < end && !isWs(buf[p]!)) return 'ERR_SIP_DIGEST';
  for (;;) {
    while (p < end && (isWs(buf[p]!) || buf[p] === COMMA)) p++;
    if (p >= end) break;
    const nameS = p;
    p = skipToken(buf, p, end);
    const nameE = p;
    if (nameE === nameS) return 'ERR_SIP_DIGEST';
    p = skipWs(buf, p, end);
    if (p >= end || buf[p] !== EQUAL) return 'ERR_SIP_DIGEST';
    p = skipWs(buf, p + 1, end);
    let valS: number, valE: number, quoted = 0;
    if (p < end && buf[p] === DQUOTE) {
      const q = skipQuoted(buf, p, end);
      if (q < 0) return 'ERR_SIP_DIGEST';
      valS = p + 1; valE = q; quoted = 1;
      p = q + 1;
    } else {
      valS = p;
      while (p < end && buf[p] !== COMMA && !isWs(buf[p]!)) p++;
      valE = p;
    }
    for (let k = 0; k < P_COUNT; k++) {
      if (equalsLower(buf, nameS, nameE, paramLower[k]!)) {
        if (out.table[k * 3]! < 0) { out.table[k * 3] = valS; out.table[k * 3 + 1] = valE; out.table[k * 3 + 2] = quoted; }
        break;
      }
    }
    p = skipWs(buf, p, end);
    if (p < end && buf[p] !== COMMA) return 'ERR_SIP_DIGEST';
  }
  return null;
}

/** parseDigest over header `index` of msg (an Authorization, Proxy-Authorization or *-Authenticate line). */
export function parseDigestHeader(out: DigestParams, msg: SipMessage, index: number): DigestFailure | null {
  assert(index >= 0 && index < msg.headerCount, 'index >= 0 && index < msg.headerCount');
  return parseDigest(out, msg.buf, msg.headers[index * H_SIZE + H_VALUE_S]!, msg.headers[index * H_SIZE + H_VALUE_E]!);
}

// --- hashing ------------------------------------------------------------------------------------------

/** Lower-case hex of H(data). crypto.hash is the one-shot form: no Hash object per call. */
function h(alg: DigestAlgorithmId, data: string): string {
  assert(alg !== DigestAlgorithm.Unknown, 'alg !== DigestAlgorithm.Unknown');
  return hash(algorithmHashes[alg], data, 'hex');
}

/** HA1 = H(username:realm:password) (RFC 7616 §3.4.2); precompute it at load for each algorithm offered. */
export function computeHa1(alg: DigestAlgorithmId, username: string, realm: string, password: string): string {
  return h(alg, `${username}:${realm}:${password}`);
}

/** For -sess algorithms: HA1' = H(HA1:nonce:cnonce) (RFC 7616 §3.4.2). */
export function sessionHa1(alg: DigestAlgorithmId, ha1: string, nonce: string, cnonce: string): string {
  return h(alg, `${ha1}:${nonce}:${cnonce}`);
}

/** HA2 = H(method:digest-uri) for qop=auth or no qop (RFC 7616 §3.4.3). */
export function computeHa2(alg: DigestAlgorithmId, method: string, uri: string): string {
  return h(alg, `${method}:${uri}`);
}

/**
 * response = H(HA1:nonce:nc:cnonce:qop:HA2) with qop, or H(HA1:nonce:HA2) without (RFC 2069 compatibility,
 * RFC 2617 §3.2.2.1). `ha1` is already the session HA1 for -sess algorithms.
 */
export function computeResponse(alg: DigestAlgorithmId, ha1: string, nonce: string, ncText: string, cnonce: string,
  qop: string, ha2: string): string {
  if (qop === '') return h(alg, `${ha1}:${nonce}:${ha2}`);
  return h(alg, `${ha1}:${nonce}:${ncText}:${cnonce}:${qop}:${ha2}`);
}

const expectedScratch = Buffer.alloc(limits.digestResponseSizeMax);
const receivedScratch = Buffer.alloc(limits.digestResponseSizeMax);
const expectedViews: Buffer[] = [];
const receivedViews: Buffer[] = [];
/** scratch[0, n) as a view made once per length, so a call passing it to node:crypto allocates nothing. */
function scratchView(views: Buffer[], scratch: Buffer, n: number): Buffer {
  let v = views[n];
  if (v === undefined) { v = scratch.subarray(0, n); views[n] = v; }
  return v;
}

// The hash inputs of verifyDigest are assembled here from the parameters' bytes in the message (no
// string per parameter, no concatenation); crypto.hash takes an exact-length view, one per length,
// made the first time that length is met.
const inputScratch = Buffer.alloc(limits.digestInputSizeMax);
const inputViews: Buffer[] = [];
function inputView(n: number): Buffer { return scratchView(inputViews, inputScratch, n); }
const COLON = 0x3a;

/** Appends parameter `i`'s value (quoted-pair escapes undone) at `at`; -1 when it does not fit. */
function appendParam(params: DigestParams, i: number, at: number): number {
  const s = params.table[i * 3]!;
  const e = params.table[i * 3 + 1]!;
  const quoted = params.table[i * 3 + 2] === 1;
  const buf = params.buf;
  for (let p = s; p < e; p++) {
    if (at >= inputScratch.length) return -1;
    if (quoted && buf[p] === BACKSLASH && p + 1 < e) p++;
    inputScratch[at++] = buf[p]!;
  }
  return at;
}

function appendText(text: string, at: number): number {
  if (at < 0 || at + text.length > inputScratch.length) return -1;
  return at + inputScratch.write(text, at, 'latin1');
}

function appendByte(b: number, at: number): number {
  if (at < 0 || at >= inputScratch.length) return -1;
  inputScratch[at] = b;
  return at + 1;
}

/** The expected response for a non-session algorithm, hashed over bytes; '' when an input is too long. */
function expectedByBytes(params: DigestParams, alg: DigestAlgorithmId, method: string, ha1: string, hasQop: boolean): string {
  const name = algorithmHashes[alg];
  let n = appendByte(COLON, appendText(method, 0));
  n = n < 0 ? -1 : appendParam(params, P_URI, n);
  if (n < 0) return '';
  const ha2 = hash(name, inputView(n), 'hex');
  n = appendByte(COLON, appendText(ha1, 0));
  n = n < 0 ? -1 : appendByte(COLON, appendParam(params, P_NONCE, n));
  if (hasQop) {
    n = n < 0 ? -1 : appendByte(COLON, appendParam(params, P_NC, n));
    n = n < 0 ? -1 : appendByte(COLON, appendParam(params, P_CNONCE, n));
    n = appendByte(COLON, appendText('auth', n));
  }
  n = appendText(ha2, n);
  if (n < 0) return '';
  return hash(name, inputView(n), 'hex');
}

/** The -sess algorithms (rare): the same formulas over strings. */
function expectedByStrings(params: DigestParams, alg: DigestAlgorithmId, method: string, ha1: string, hasQop: boolean): string {
  const nonce = params.nonce();
  const cnonce = params.cnonce();
  return computeResponse(alg, sessionHa1(alg, ha1, nonce, cnonce), nonce, hasQop ? params.ncText() : '', cnonce, hasQop ? 'auth' : '',
    computeHa2(alg, method, params.uri()));
}

/**
 * Server side: whether the credentials' response is right for this HA1 (computed with the same
 * algorithm as `params.algorithm`) and request method. Compares in constant time (RFC 7616 §5.12
 * asks for no timing side channel); the received hex is compared case-insensitively. Nonce
 * validity, nc monotonicity and realm/username ownership are the caller's decisions.
 */
export function verifyDigest(params: DigestParams, method: string, ha1: string): boolean {
  const alg = params.algorithm;
  if (alg === DigestAlgorithm.Unknown) return false;
  if (!params.has(P_RESPONSE) || !params.has(P_NONCE) || !params.has(P_URI)) return false;
  const hasQop = params.hasQop;
  if (hasQop && (!equalsLower(params.buf, params.table[P_QOP * 3]!, params.table[P_QOP * 3 + 1]!, L_AUTH) ||
    !params.has(P_CNONCE) || params.table[P_CNONCE * 3]! === params.table[P_CNONCE * 3 + 1]! || params.nc < 0)) return false;
  const expected = isSessAlgorithm(alg) ? expectedByStrings(params, alg, method, ha1, hasQop) : expectedByBytes(params, alg, method, ha1, hasQop);
  if (expected === '') return false;
  const rs = params.table[P_RESPONSE * 3]!;
  const re = params.table[P_RESPONSE * 3 + 1]!;
  const n = expected.length;
  assert(n <= expectedScratch.length, 'n <= expectedScratch.length');
  expectedScratch.write(expected, 0, n, 'latin1');
  // Copy the received value lower-cased into a fixed buffer of the expected length: a length mismatch
  // still runs the comparison, over the expected value against itself, and fails afterwards.
  const sameLength = re - rs === n;
  for (let i = 0; i < n; i++) {
    const c = sameLength ? params.buf[rs + i]! : expectedScratch[i]!;
    receivedScratch[i] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
  }
  const equal = timingSafeEqual(scratchView(expectedViews, expectedScratch, n), scratchView(receivedViews, receivedScratch, n));
  return equal && sameLength;
}

// --- challenges and credentials ------------------------------------------------------------------------

/** A challenge to send (server) or one received and copied out (client). */
export interface DigestChallenge {
  readonly realm: string;
  readonly nonce: string;
  readonly algorithm: DigestAlgorithmId;
  readonly opaque?: string;
  /** Whether qop=auth is offered; RFC 3261 §22.4 wants it, RFC 2069 peers omit it. */
  readonly qopAuth: boolean;
  readonly stale?: boolean;
}

/** Copies a parsed WWW-/Proxy-Authenticate into a DigestChallenge (client side; allocates). */
export function challengeFrom(params: DigestParams): DigestChallenge {
  const base = { realm: params.realm(), nonce: params.nonce(), algorithm: params.algorithm, qopAuth: params.qopAuth, stale: params.stale };
  return params.hasOpaque ? { ...base, opaque: params.opaque() } : base;
}

/** `Digest realm="..", nonce="..", algorithm=MD5, qop="auth"[, opaque=".."][, stale=true]` for a 401/407. */
export function formatChallenge(c: DigestChallenge): string {
  assert(c.algorithm !== DigestAlgorithm.Unknown, 'c.algorithm !== DigestAlgorithm.Unknown');
  let v = `Digest realm="${c.realm}", nonce="${c.nonce}", algorithm=${algorithmNames[c.algorithm]}`;
  if (c.qopAuth) v += ', qop="auth"';
  if (c.opaque !== undefined) v += `, opaque="${c.opaque}"`;
  if (c.stale === true) v += ', stale=true';
  return v;
}

export interface DigestCredentials {
  readonly username: string;
  readonly password: string;
  readonly method: string;
  readonly uri: string;
  /** Client nonce: at least 64 random bits, hex or base64 without quotes or backslashes. */
  readonly cnonce: string;
  /** Nonce count, 1 for the first use of a nonce (RFC 7616 §3.4). */
  readonly nc: number;
}

/** Client side: the Authorization (or Proxy-Authorization) value answering a challenge. */
export function buildAuthorization(c: DigestChallenge, cred: DigestCredentials): string {
  assert(c.algorithm !== DigestAlgorithm.Unknown, 'c.algorithm !== DigestAlgorithm.Unknown');
  assert(cred.nc >= 1 && cred.nc <= 0xffffffff, 'cred.nc >= 1 && cred.nc <= 0xffffffff');
  const alg = c.algorithm;
  const ncText = cred.nc.toString(16).padStart(8, '0');
  let ha1 = computeHa1(alg, cred.username, c.realm, cred.password);
  if (isSessAlgorithm(alg)) ha1 = sessionHa1(alg, ha1, c.nonce, cred.cnonce);
  const ha2 = computeHa2(alg, cred.method, cred.uri);
  const response = computeResponse(alg, ha1, c.nonce, ncText, cred.cnonce, c.qopAuth ? 'auth' : '', ha2);
  let v = `Digest username="${cred.username}", realm="${c.realm}", nonce="${c.nonce}", uri="${cred.uri}", ` +
    `response="${response}", algorithm=${algorithmNames[alg]}`;
  if (c.qopAuth) v += `, cnonce="${cred.cnonce}", qop=auth, nc=${ncText}`;
  if (c.opaque !== undefined) v += `, opaque="${c.opaque}"`;
  return v;
}

export const DigestParam = {
  Username: P_USERNAME, Realm: P_REALM, Nonce: P_NONCE, Uri: P_URI, Response: P_RESPONSE, Algorithm: P_ALGORITHM,
  Cnonce: P_CNONCE, Opaque: P_OPAQUE, Qop: P_QOP, Nc: P_NC, Stale: P_STALE, Domain: P_DOMAIN, Userhash: P_USERHASH,
} as const;
