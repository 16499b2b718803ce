// The SIP parser (RFC 3261 §7, §20, §25): fills a SipMessage with offsets into the datagram. It never
// throws on packet content (asserts guard only the caller's arguments), never allocates per message
// and never makes a string. Failures are string-literal codes; the first one found is returned.
import assert from 'node:assert';
import { limits } from '../limits.js';
import {
  CR, LF, SP, HT, COLON, SEMI, COMMA, EQUAL, DQUOTE, LAQUOT, RAQUOT, AT, QUESTION, LBRACKET, RBRACKET, SLASH,
  charClass, C_TOKEN, C_WS, C_HEX, C_HOST, C_SCHEME, skipWs, skipToken, skipQuoted, trimEnd, equalsLower,
  lowerBytes, readUint, NUMBER_INVALID, equalsBytes, isWs,
} from './scan.js';
import {
  SipMessage, Hdr, Method, headerNames, methodNames, Scheme, RPORT_ABSENT, RPORT_EMPTY,
  H_SIZE, H_TYPE, H_NAME_S, H_VALUE_S, H_VALUE_E,
  U_START, U_END, U_SCHEME, U_USER_S, U_USER_E, U_PASS_S, U_PASS_E, U_HOST_S, U_HOST_E, U_PORT, U_PARAMS_S,
  U_PARAMS_E, U_HEADERS_S, U_HEADERS_E,
  N_START, N_END, N_DISPLAY_S, N_DISPLAY_E, N_DISPLAY_QUOTED, N_STAR, N_PARAMS_S, N_PARAMS_E, N_TAG_S, N_TAG_E,
  N_EXPIRES, N_Q, N_INSTANCE_S, N_INSTANCE_E, N_REGID, N_URI, N_SIZE,
  V_HEADER, V_START, V_END, V_TRANSPORT_S, V_TRANSPORT_E, V_HOST_S, V_HOST_E, V_PORT, V_BRANCH_S, V_BRANCH_E,
  V_RPORT, V_RPORT_NAME_E, V_RECEIVED_S, V_RECEIVED_E, V_MADDR_S, V_MADDR_E,
} from './message.js';
import type { HeaderType, MethodId } from './message.js';

/** Every way parse can refuse a datagram. Each has a 400 reason phrase in `failureResponse`. */
export type ParseFailure =
  | 'ERR_SIP_TOO_LARGE' // datagram above limits.messageSizeMax: dropped, never answered
  | 'ERR_SIP_EMPTY' // only CRLFs or nothing: a keepalive (RFC 5626 §4.4.1), ignore silently
  | 'ERR_SIP_NO_CRLF' // a line not ended by CRLF, or no empty line ending the headers (RFC 3261 §7)
  | 'ERR_SIP_START_LINE' // request or status line not in the form of RFC 3261 §7.1/§7.2
  | 'ERR_SIP_VERSION' // SIP-Version other than SIP/2.0 (answer 505, RFC 3261 §8.2.1... §21.5.7)
  | 'ERR_SIP_STATUS' // status code not 3 digits in 100..699 (RFC 3261 §7.2)
  | 'ERR_SIP_REQUEST_URI' // Request-URI unparseable (RFC 3261 §19.1, RFC 5118 §4.2)
  | 'ERR_SIP_HEADERS_MAX' // more header lines than limits.headerCountMax
  | 'ERR_SIP_HEADER_TOO_LONG' // one header field (with folds) above limits.headerLengthMax
  | 'ERR_SIP_BAD_HEADER' // a header line without a token name and a colon (RFC 3261 §7.3.1)
  | 'ERR_SIP_DUPLICATE_HEADER' // a single-valued header repeated (RFC 4475 §3.3.8)
  | 'ERR_SIP_CONTENT_LENGTH' // not digits, conflicting, or larger than the body (RFC 3261 §18.3)
  | 'ERR_SIP_MISSING_HEADER' // no Via, From, To, Call-ID or CSeq (RFC 3261 §8.1.1)
  | 'ERR_SIP_VIA' // top Via unparseable (RFC 3261 §20.42)
  | 'ERR_SIP_FROM'
  | 'ERR_SIP_TO'
  | 'ERR_SIP_CALL_ID'
  | 'ERR_SIP_CSEQ' // not a 32-bit number and a method, or method differs from the request's (RFC 3261 §8.2.2... §20.16)
  | 'ERR_SIP_MAX_FORWARDS' // not a number in 0..255 (RFC 3261 §20.22)
  | 'ERR_SIP_CONTACT' // a Contact value unparseable, or `*` mixed with others (RFC 3261 §10.2.2, §20.10)
  | 'ERR_SIP_CONTACTS_MAX' // more Contact values than limits.contactsPerRequestMax
  | 'ERR_SIP_EXPIRES'; // Expires or Min-Expires not delta-seconds (RFC 3261 §20.19, §20.23)

/** Every ParseFailure, for tests and counters keyed by code. */
export const parseFailures: readonly ParseFailure[] = [
  'ERR_SIP_TOO_LARGE', 'ERR_SIP_EMPTY', 'ERR_SIP_NO_CRLF', 'ERR_SIP_START_LINE', 'ERR_SIP_VERSION', 'ERR_SIP_STATUS',
  'ERR_SIP_REQUEST_URI', 'ERR_SIP_HEADERS_MAX', 'ERR_SIP_HEADER_TOO_LONG', 'ERR_SIP_BAD_HEADER',
  'ERR_SIP_DUPLICATE_HEADER', 'ERR_SIP_CONTENT_LENGTH', 'ERR_SIP_MISSING_HEADER', 'ERR_SIP_VIA', 'ERR_SIP_FROM',
  'ERR_SIP_TO', 'ERR_SIP_CALL_ID', 'ERR_SIP_CSEQ', 'ERR_SIP_MAX_FORWARDS', 'ERR_SIP_CONTACT',
  'ERR_SIP_CONTACTS_MAX', 'ERR_SIP_EXPIRES',
];

const UINT32_MAX = 0xffffffff;

// --- startup tables ---------------------------------------------------------------------------------

interface NameEntry { readonly lower: Uint8Array; readonly type: HeaderType }
/** Header names by length; each entry ASCII-lower-cased. Lookups fold the input with `c | 0x20`. */
const namesByLength: NameEntry[][] = [];
for (const [type, full, compact] of headerNames) {
  for (const name of compact === '' ? [full] : [full, compact]) {
    const list = namesByLength[name.length] ?? (namesByLength[name.length] = []);
    list.push({ lower: lowerBytes(name), type });
  }
}

/** Resolves a header name (token bytes, so `| 0x20` folds letters only) to its type. */
function headerTypeOf(buf: Buffer, start: number, end: number): HeaderType {
  const list = namesByLength[end - start];
  if (list === undefined) return Hdr.Other;
  const c0 = buf[start]! | 0x20;
  for (let i = 0; i < list.length; i++) {
    const entry = list[i]!;
    if (entry.lower[0] !== c0) continue;
    if (equalsLower(buf, start, end, entry.lower)) return entry.type;
  }
  return Hdr.Other;
}

const methodBytes: Buffer[] = methodNames.map((m) => Buffer.from(m, 'latin1'));
/** Method names are case-sensitive (RFC 3261 §7.1): compared byte for byte. */
function methodOf(buf: Buffer, start: number, end: number): MethodId {
  for (let m = 1; m < methodBytes.length; m++) {
    const b = methodBytes[m]!;
    if (b.length === end - start && b[0] === buf[start] && equalsBytes(buf, start, end, b, 0, b.length)) {
      return m as MethodId;
    }
  }
  return Method.Other;
}

const L_SIP = lowerBytes('sip');
const L_SIPS = lowerBytes('sips');
const L_TEL = lowerBytes('tel');
const L_SIP_VERSION = lowerBytes('sip/2.0');
const L_SIP_SLASH = lowerBytes('sip/');
const L_TAG = lowerBytes('tag');
const L_EXPIRES = lowerBytes('expires');
const L_Q = lowerBytes('q');
const L_INSTANCE = lowerBytes('+sip.instance');
const L_REGID = lowerBytes('reg-id');
const L_BRANCH = lowerBytes('branch');
const L_RPORT = lowerBytes('rport');
const L_RECEIVED = lowerBytes('received');
const L_MADDR = lowerBytes('maddr');

// --- URI (RFC 3261 §19.1.1, §25.1; RFC 3966 for tel) -------------------------------------------------

/**
 * Parses the URI in buf[s, e) into t at base b. `headersAllowed` is false for an addr-spec outside
 * `<>`, where RFC 3261 §20 forbids '?', ',' and ';' in the URI itself.
 */
function parseUri(buf: Buffer, s: number, e: number, t: Int32Array, b: number, headersAllowed: boolean): boolean {
  t.fill(-1, b, b + 14);
  if (s >= e) return false;
  t[b + U_START] = s;
  t[b + U_END] = e;
  for (let i = s; i < e; i++) if ((charClass[buf[i]!]! & C_WS) !== 0) return false; // no LWS inside (RFC 4475 §3.1.2.8)
  let p = s;
  while (p < e && (charClass[buf[p]!]! & C_SCHEME) !== 0) p++;
  if (p === s || p >= e || buf[p] !== COLON) return false;
  if (equalsLower(buf, s, p, L_SIP)) t[b + U_SCHEME] = Scheme.Sip;
  else if (equalsLower(buf, s, p, L_SIPS)) t[b + U_SCHEME] = Scheme.Sips;
  else if (equalsLower(buf, s, p, L_TEL)) t[b + U_SCHEME] = Scheme.Tel;
  else { t[b + U_SCHEME] = Scheme.Other; return p + 1 < e; } // opaque: RFC 4475 §3.3.2 must parse
  p++;
  if (t[b + U_SCHEME] === Scheme.Tel) {
    // tel:number;params — the number is kept as the "user" (RFC 3966 §3).
    const userS = p;
    while (p < e && buf[p] !== SEMI) p++;
    if (p === userS) return false;
    t[b + U_USER_S] = userS; t[b + U_USER_E] = p;
    if (p < e) { t[b + U_PARAMS_S] = p; t[b + U_PARAMS_E] = e; }
    return true;
  }
  // userinfo: everything before the first '@' (userinfo cannot contain an unescaped '@', §25.1).
  let at = -1;
  for (let i = p; i < e; i++) if (buf[i] === AT) { at = i; break; }
  if (at >= 0) {
    if (at === p) return false;
    let colon = -1;
    for (let i = p; i < at; i++) if (buf[i] === COLON) { colon = i; break; }
    t[b + U_USER_S] = p;
    t[b + U_USER_E] = colon >= 0 ? colon : at;
    if (colon >= 0) { t[b + U_PASS_S] = colon + 1; t[b + U_PASS_E] = at; }
    p = at + 1;
  }
  const hostS = p;
  if (p < e && buf[p] === LBRACKET) {
    // IPv6reference (RFC 5118 §4.1): hex digits, ':' and '.' between brackets; the 3-colon form
    // of RFC 5118 §4.10 is tolerated because colons are not counted.
    p++;
    while (p < e && buf[p] !== RBRACKET) {
      const c = buf[p]!;
      if ((charClass[c]! & C_HEX) === 0 && c !== COLON && c !== 0x2e) return false;
      p++;
    }
    if (p >= e || p === hostS + 1) return false;
    p++;
  } else {
    while (p < e && (charClass[buf[p]!]! & C_HOST) !== 0) p++;
  }
  if (p === hostS) return false;
  t[b + U_HOST_S] = hostS; t[b + U_HOST_E] = p;
  if (p < e && buf[p] === COLON) {
    const portS = ++p;
    while (p < e && buf[p] !== SEMI && buf[p] !== QUESTION) p++;
    const port = readUint(buf, portS, p, 65535, false);
    if (port === NUMBER_INVALID || port > 65535) return false; // RFC 5118 §4.2: unbracketed IPv6 lands here
    t[b + U_PORT] = port;
  }
  if (p < e && buf[p] === SEMI) {
    const paramsS = p;
    while (p < e && buf[p] !== QUESTION) p++;
    t[b + U_PARAMS_S] = paramsS; t[b + U_PARAMS_E] = p;
  }
  if (p < e && buf[p] === QUESTION) {
    if (!headersAllowed) return false; // RFC 4475 §3.1.2.13: headers need the <> form
    t[b + U_HEADERS_S] = p + 1; t[b + U_HEADERS_E] = e;
    p = e;
  }
  return p === e;
}

// --- parameters (RFC 3261 §25.1 generic-param) -------------------------------------------------------

/** End of an unquoted gen-value: token, host or IPv6 characters (liberally, anything but separators). */
function skipParamValue(buf: Buffer, p: number, end: number): number {
  while (p < end) {
    const c = buf[p]!;
    if (c === SEMI || c === COMMA || c === DQUOTE || c === LAQUOT || c === RAQUOT || (charClass[c]! & C_WS) !== 0) break;
    p++;
  }
  return p;
}

/** Parses "0.5", "1", "1.000" into thousandths (RFC 3261 §20.10 qvalue), or -1. */
function readQ(buf: Buffer, s: number, e: number): number {
  if (s >= e) return -1;
  const c0 = buf[s]!;
  if (c0 !== 0x30 && c0 !== 0x31) return -1;
  let q = (c0 - 0x30) * 1000;
  let p = s + 1;
  if (p === e) return q;
  if (buf[p] !== 0x2e) return -1;
  p++;
  let scale = 100;
  for (; p < e; p++) {
    const c = buf[p]!;
    if (c < 0x30 || c > 0x39 || scale === 0) return -1;
    q += (c - 0x30) * scale;
    scale = scale / 10 | 0;
  }
  return q > 1000 ? -1 : q;
}

// Scratch for the current parameter, to keep the helpers free of per-call objects.
let paramNameS = 0, paramNameE = 0, paramValS = -1, paramValE = -1;

/**
 * Parses one `;name[=value]` at p (p at ';', after optional LWS). Returns the position after it, or -1.
 * Sets the module scratch paramName*, paramVal* (value -1 when the parameter has none).
 */
function parseParam(buf: Buffer, p: number, end: number): number {
  p = skipWs(buf, p + 1, end);
  paramNameS = p;
  p = skipToken(buf, p, end);
  paramNameE = p;
  if (paramNameE === paramNameS) return -1; // RFC 4475 §3.1.2.1: empty parameters are invalid
  p = skipWs(buf, p, end);
  paramValS = -1; paramValE = -1;
  if (p >= end || buf[p] !== EQUAL) return paramNameE; // no value: the parameter ends with its name
  p = skipWs(buf, p + 1, end);
  if (p < end && buf[p] === DQUOTE) {
    const q = skipQuoted(buf, p, end);
    if (q < 0) return -1;
    paramValS = p; paramValE = q + 1;
    return q + 1;
  }
  paramValS = p;
  p = skipParamValue(buf, p, end);
  paramValE = p;
  return p;
}

// --- name-addr / addr-spec (RFC 3261 §20.10, §20.20, §20.39) ----------------------------------------

/**
 * Parses one name-addr or addr-spec with its header parameters from buf[p, end) into t at base b.
 * For a Contact, stops at a top-level ',' (commas inside quotes and <> do not count). Returns the
 * position after the element, or -1.
 */
function parseNameAddr(buf: Buffer, p: number, end: number, t: Int32Array, b: number, isContact: boolean): number {
  t.fill(-1, b, b + N_SIZE);
  t[b + N_STAR] = 0;
  t[b + N_DISPLAY_QUOTED] = 0;
  p = skipWs(buf, p, end);
  if (p >= end) return -1;
  t[b + N_START] = p;
  if (isContact && buf[p] === 0x2a) {
    const q = skipWs(buf, p + 1, end);
    if (q < end && buf[q] !== COMMA) return -1;
    t[b + N_STAR] = 1;
    t[b + N_END] = p + 1;
    return q;
  }
  let laquot = -1;
  if (buf[p] === DQUOTE) {
    const q = skipQuoted(buf, p, end);
    if (q < 0) return -1; // RFC 4475 §3.1.2.6: unterminated quote
    t[b + N_DISPLAY_S] = p + 1; t[b + N_DISPLAY_E] = q; t[b + N_DISPLAY_QUOTED] = 1;
    p = skipWs(buf, q + 1, end); // RFC 4475 §3.1.1.6: LWS before '<' is optional in practice
    if (p >= end || buf[p] !== LAQUOT) return -1;
    laquot = p;
  } else {
    // A token display name runs up to '<'; reaching ';', ',' (Contact) or the end first means addr-spec.
    let q = p;
    while (q < end) {
      const c = buf[q]!;
      if (c === LAQUOT || c === SEMI || c === DQUOTE || (isContact && c === COMMA)) break;
      q++;
    }
    if (q < end && buf[q] === DQUOTE) return -1;
    if (q < end && buf[q] === LAQUOT) {
      const displayE = trimEnd(buf, p, q);
      if (displayE > p) { t[b + N_DISPLAY_S] = p; t[b + N_DISPLAY_E] = displayE; }
      laquot = q;
    }
  }
  if (laquot >= 0) {
    // Spaces just inside <> are tolerated (RFC 4475 §3.1.2.14 allows a liberal reading).
    const uriS = skipWs(buf, laquot + 1, end);
    let q = uriS;
    while (q < end && buf[q] !== RAQUOT) q++;
    if (q >= end) return -1;
    if (!parseUri(buf, uriS, trimEnd(buf, uriS, q), t, b + N_URI, true)) return -1;
    p = q + 1;
  } else {
    // addr-spec: the URI ends at LWS, ';' or (Contact) ','; what follows are header parameters
    // (RFC 3261 §20.10; RFC 4475 §3.3.12).
    const uriS = p;
    while (p < end) {
      const c = buf[p]!;
      if (c === SEMI || (charClass[c]! & C_WS) !== 0 || (isContact && c === COMMA)) break;
      p++;
    }
    if (!parseUri(buf, uriS, p, t, b + N_URI, false)) return -1;
  }
  let elementEnd = p;
  for (;;) {
    const q = skipWs(buf, p, end);
    if (q >= end) break;
    const c = buf[q]!;
    if (isContact && c === COMMA) break;
    if (c !== SEMI) return -1;
    if (t[b + N_PARAMS_S]! < 0) t[b + N_PARAMS_S] = q;
    p = parseParam(buf, q, end);
    if (p < 0) return -1;
    elementEnd = p;
    t[b + N_PARAMS_E] = p;
    if (equalsLower(buf, paramNameS, paramNameE, L_TAG)) {
      if (paramValS < 0) return -1;
      t[b + N_TAG_S] = paramValS; t[b + N_TAG_E] = paramValE;
    } else if (isContact && equalsLower(buf, paramNameS, paramNameE, L_EXPIRES)) {
      // RFC 3261 §20.10: delta-seconds; values above 2**32-1 are read as 2**32-1 (RFC 4475 §3.1.2.4).
      const v = readUint(buf, paramValS, paramValE, UINT32_MAX, true);
      if (v === NUMBER_INVALID) return -1;
      t[b + N_EXPIRES] = v > 0x7fffffff ? 0x7fffffff : v; // the table is int32: 68 years is forever here
    } else if (isContact && equalsLower(buf, paramNameS, paramNameE, L_Q)) {
      const q1000 = readQ(buf, paramValS, paramValE);
      if (q1000 < 0) return -1;
      t[b + N_Q] = q1000;
    } else if (isContact && equalsLower(buf, paramNameS, paramNameE, L_INSTANCE)) {
      if (paramValS < 0) return -1;
      t[b + N_INSTANCE_S] = paramValS; t[b + N_INSTANCE_E] = paramValE;
    } else if (isContact && equalsLower(buf, paramNameS, paramNameE, L_REGID)) {
      const v = readUint(buf, paramValS, paramValE, 0x7fffffff, false);
      if (v === NUMBER_INVALID || v > 0x7fffffff) return -1;
      t[b + N_REGID] = v;
    }
  }
  t[b + N_END] = elementEnd;
  return skipWs(buf, p, end);
}

// --- Via (RFC 3261 §20.42, RFC 3581, RFC 5118 §4.5) ------------------------------------------------

function parseTopVia(msg: SipMessage, index: number): boolean {
  const buf = msg.buf;
  const t = msg.viaTable;
  let p = msg.headers[index * H_SIZE + H_VALUE_S]!;
  const end = msg.headers[index * H_SIZE + H_VALUE_E]!;
  t[V_HEADER] = index;
  t[V_START] = p;
  t[V_RPORT] = RPORT_ABSENT;
  // sent-protocol = protocol-name SLASH protocol-version SLASH transport; SLASH = SWS "/" SWS (§25.1).
  let q = skipToken(buf, p, end);
  if (!equalsLower(buf, p, q, L_SIP)) return false;
  q = skipWs(buf, q, end);
  if (q >= end || buf[q] !== SLASH) return false;
  p = skipWs(buf, q + 1, end);
  q = skipToken(buf, p, end);
  // The version is not checked here: a SIP/7.0 request (RFC 4475 §3.1.2.16) must stay answerable with 505.
  if (q === p) return false;
  q = skipWs(buf, q, end);
  if (q >= end || buf[q] !== SLASH) return false;
  p = skipWs(buf, q + 1, end);
  q = skipToken(buf, p, end);
  if (q === p) return false;
  t[V_TRANSPORT_S] = p; t[V_TRANSPORT_E] = q;
  p = skipWs(buf, q, end);
  const hostS = p;
  if (p < end && buf[p] === LBRACKET) {
    while (p < end && buf[p] !== RBRACKET) p++;
    if (p >= end) return false;
    p++;
  } else {
    while (p < end && (charClass[buf[p]!]! & C_HOST) !== 0) p++;
  }
  if (p === hostS) return false;
  t[V_HOST_S] = hostS; t[V_HOST_E] = p;
  let entryEnd = p;
  q = skipWs(buf, p, end);
  if (q < end && buf[q] === COLON) {
    p = skipWs(buf, q + 1, end);
    q = p;
    while (q < end && (charClass[buf[q]!]! & 4) !== 0) q++;
    const port = readUint(buf, p, q, 65535, false);
    if (port === NUMBER_INVALID || port > 65535) return false;
    t[V_PORT] = port;
    p = q;
    entryEnd = q;
  }
  for (;;) {
    q = skipWs(buf, p, end);
    if (q >= end || buf[q] === COMMA) break;
    if (buf[q] !== SEMI) return false;
    p = parseParam(buf, q, end);
    if (p < 0) return false;
    entryEnd = p;
    if (equalsLower(buf, paramNameS, paramNameE, L_BRANCH)) {
      if (paramValS < 0) return false;
      t[V_BRANCH_S] = paramValS; t[V_BRANCH_E] = paramValE;
    } else if (equalsLower(buf, paramNameS, paramNameE, L_RPORT)) {
      t[V_RPORT_NAME_E] = paramNameE;
      if (paramValS < 0 || paramValE === paramValS) {
        t[V_RPORT] = RPORT_EMPTY;
      } else {
        const v = readUint(buf, paramValS, paramValE, 65535, false);
        if (v === NUMBER_INVALID || v > 65535) return false;
        t[V_RPORT] = v;
      }
    } else if (equalsLower(buf, paramNameS, paramNameE, L_RECEIVED)) {
      if (paramValS < 0) return false;
      t[V_RECEIVED_S] = paramValS; t[V_RECEIVED_E] = paramValE;
    } else if (equalsLower(buf, paramNameS, paramNameE, L_MADDR)) {
      if (paramValS < 0) return false;
      t[V_MADDR_S] = paramValS; t[V_MADDR_E] = paramValE;
    }
  }
  t[V_END] = entryEnd;
  return true;
}

// --- the message --------------------------------------------------------------------------------------

/** Index of the CR of the CRLF ending the line that starts at p, or -1 (bare LF, bare CR or no end). */
function lineEnd(buf: Buffer, p: number, end: number): number {
  for (; p < end; p++) {
    const c = buf[p];
    if (c === CR) return p + 1 < end && buf[p + 1] === LF ? p : -1;
    if (c === LF) return -1;
  }
  return -1;
}

/**
 * Parses buf[0, length) into msg. Returns null when the message is well formed enough for the
 * registrar, the trunk client and the keepalive sender to use, or the first failure found.
 * Never throws on any content; `msg` is reset first, so a failed parse leaves no stale fields.
 * The steps, in order: the start line, the header scan, the top Via (after which every failure can be
 * answered), framing, the Request-URI, the headers every message needs, the numeric ones, the contacts.
 */
export function parse(msg: SipMessage, buf: Buffer, length: number = buf.length): ParseFailure | null {
  assert(length >= 0);
  assert(length <= buf.length);
  msg.reset(buf, length);
  if (length > limits.messageSizeMax) return 'ERR_SIP_TOO_LARGE';
  // RFC 3261 §7.5: CRLFs before the start line are ignored; RFC 5626 §4.4.1 keepalives are just that.
  let p = 0;
  while (p < length && (buf[p] === CR || buf[p] === LF || buf[p] === SP || buf[p] === HT || buf[p] === 0)) p++;
  if (p >= length) return 'ERR_SIP_EMPTY';
  const startEnd = lineEnd(buf, p, length);
  if (startEnd < 0) return 'ERR_SIP_NO_CRLF';

  deferred = null;
  const startFailure = length - p >= 4 && equalsLower(buf, p, p + 4, L_SIP_SLASH)
    ? parseStatusLine(msg, buf, p, startEnd)
    : parseRequestLine(msg, buf, p, startEnd);
  if (startFailure !== null) return startFailure;
  const headerFailure = scanHeaders(msg, buf, startEnd + 2, length);
  if (headerFailure !== null) return headerFailure;

  // The top Via first: with it parsed, any later failure can still be answered with a 400 (§8.2.6).
  const viaIndex = msg.firstHeader[Hdr.Via]!;
  if (viaIndex < 0) return 'ERR_SIP_MISSING_HEADER';
  if (!parseTopVia(msg, viaIndex)) return 'ERR_SIP_VIA';
  msg.viaOk = true;
  if (deferred !== null) return deferred;

  const framingFailure = frame(msg, buf, length);
  if (framingFailure !== null) return framingFailure;
  if (msg.isRequest) {
    if (!parseUri(buf, requestUriStart, requestUriEnd, msg.requestUriTable, 0, true)) return 'ERR_SIP_REQUEST_URI';
  }
  return parseNeededHeaders(msg, buf) ?? parseNumericHeaders(msg, buf) ?? parseContacts(msg, buf);
}

// Set by the start line for the steps after it (parse is synchronous: module state, no allocation).
let deferred: ParseFailure | null = null; // an answerable start-line problem, reported after the Via
let requestUriStart = 0;
let requestUriEnd = 0;

/** Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF (§7.2). */
function parseStatusLine(msg: SipMessage, buf: Buffer, p: number, startEnd: number): ParseFailure | null {
  let q = p;
  while (q < startEnd && buf[q] !== SP) q++;
  if (!equalsLower(buf, p, q, L_SIP_VERSION)) return q - p >= 4 ? 'ERR_SIP_VERSION' : 'ERR_SIP_START_LINE';
  if (q >= startEnd) return 'ERR_SIP_START_LINE';
  const codeS = q + 1;
  let codeE = codeS;
  while (codeE < startEnd && buf[codeE] !== SP) codeE++;
  const code = readUint(buf, codeS, codeE, 999, false);
  if (codeE - codeS !== 3 || code < 100 || code > 699) return 'ERR_SIP_STATUS'; // RFC 4475 §3.1.2.19
  msg.statusCode = code;
  msg.reasonStart = codeE < startEnd ? codeE + 1 : startEnd; // RFC 4475 §3.1.1.13: empty reason
  msg.reasonEnd = startEnd;
  return null;
}

/** Request-Line = Method SP Request-URI SP SIP-Version CRLF (§7.1); extra SP tolerated (RFC 4475 §3.1.2.9/10). */
function parseRequestLine(msg: SipMessage, buf: Buffer, p: number, startEnd: number): ParseFailure | null {
  const methodE = skipToken(buf, p, startEnd);
  if (methodE === p || methodE >= startEnd || buf[methodE] !== SP) return 'ERR_SIP_START_LINE';
  msg.isRequest = true;
  msg.methodStart = p; msg.methodEnd = methodE;
  msg.method = methodOf(buf, p, methodE);
  let uriS = methodE;
  while (uriS < startEnd && buf[uriS] === SP) uriS++;
  let versionE = startEnd;
  while (versionE > uriS && (buf[versionE - 1] === SP || buf[versionE - 1] === HT)) versionE--;
  let versionS = versionE;
  while (versionS > uriS && buf[versionS - 1] !== SP) versionS--;
  if (versionS <= uriS) return 'ERR_SIP_START_LINE';
  let uriE = versionS;
  while (uriE > uriS && buf[uriE - 1] === SP) uriE--;
  if (!equalsLower(buf, versionS, versionE, L_SIP_VERSION)) {
    if (versionE - versionS < 4 || !equalsLower(buf, versionS, versionS + 4, L_SIP_SLASH)) {
      return 'ERR_SIP_START_LINE';
    }
    deferred = 'ERR_SIP_VERSION'; // RFC 4475 §3.1.2.16: answer 505
  }
  requestUriStart = uriS;
  requestUriEnd = uriE;
  return null;
}

/**
 * Header lines (§7.3) from `p` to the empty line: name, optional SP/HT, colon, value; a line starting
 * with SP/HT continues the previous one (folding, §7.3.1). Each is recorded as (type, nameStart,
 * valueStart, valueEnd). Sets msg.bodyStart past the empty line.
 */
function scanHeaders(msg: SipMessage, buf: Buffer, p: number, length: number): ParseFailure | null {
  const headers = msg.headers;
  for (;;) {
    if (p >= length) return 'ERR_SIP_NO_CRLF'; // no empty line ends the header section
    const c = buf[p];
    if (c === CR) {
      if (p + 1 < length && buf[p + 1] === LF) { p += 2; break; }
      return 'ERR_SIP_NO_CRLF';
    }
    if (c === LF) return 'ERR_SIP_NO_CRLF';
    if (msg.headerCount >= limits.headerCountMax) return 'ERR_SIP_HEADERS_MAX';
    const lineS = p;
    const nameE = skipToken(buf, p, length);
    if (nameE === p) return 'ERR_SIP_BAD_HEADER';
    let q = nameE;
    while (q < length && (buf[q] === SP || buf[q] === HT)) q++;
    if (q >= length || buf[q] !== COLON) return 'ERR_SIP_BAD_HEADER';
    q++;
    let valueS = -1;
    let valueE = -1;
    for (;;) {
      if (q >= length) return 'ERR_SIP_NO_CRLF';
      const b = buf[q];
      if (b === CR) {
        if (q + 1 >= length || buf[q + 1] !== LF) return 'ERR_SIP_NO_CRLF';
        if (q + 2 < length && (buf[q + 2] === SP || buf[q + 2] === HT)) { q += 3; continue; }
        break;
      }
      if (b === LF) return 'ERR_SIP_NO_CRLF';
      if (b !== SP && b !== HT) {
        if (valueS < 0) valueS = q;
        valueE = q + 1;
      }
      q++;
    }
    if (q - lineS > limits.headerLengthMax) return 'ERR_SIP_HEADER_TOO_LONG';
    if (valueS < 0) { valueS = q; valueE = q; }
    const type = headerTypeOf(buf, lineS, nameE);
    const i = msg.headerCount++;
    headers[i * H_SIZE + H_TYPE] = type;
    headers[i * H_SIZE + H_NAME_S] = lineS;
    headers[i * H_SIZE + H_VALUE_S] = valueS;
    headers[i * H_SIZE + H_VALUE_E] = valueE;
    if (msg.firstHeader[type]! < 0) msg.firstHeader[type] = i;
    if (msg.headerTypeCount[type]! < 255) msg.headerTypeCount[type]!++;
    p = q + 2;
  }
  msg.headersOk = true;
  msg.bodyStart = p;
  return null;
}

/**
 * Framing (§18.3): over UDP a body longer than Content-Length is truncated (RFC 4475 §3.1.1.8); a
 * shorter one, a non-number (RFC 4475 §3.1.2.3) or conflicting values (§3.3.9) are errors.
 */
function frame(msg: SipMessage, buf: Buffer, length: number): ParseFailure | null {
  const headers = msg.headers;
  const p = msg.bodyStart;
  for (let i = msg.firstHeader[Hdr.ContentLength]!; i >= 0; i = msg.nextHeader(Hdr.ContentLength, i)) {
    const v = readUint(buf, headers[i * H_SIZE + H_VALUE_S]!, headers[i * H_SIZE + H_VALUE_E]!, limits.messageSizeMax, false);
    if (v === NUMBER_INVALID) return 'ERR_SIP_CONTENT_LENGTH';
    if (msg.contentLength >= 0 && msg.contentLength !== v) return 'ERR_SIP_CONTENT_LENGTH';
    msg.contentLength = v;
  }
  if (msg.contentLength >= 0) {
    if (msg.contentLength > length - p) return 'ERR_SIP_CONTENT_LENGTH';
    msg.length = p + msg.contentLength;
  }
  msg.bodyEnd = msg.length;
  return null;
}

/** Mandatory headers (§8.1.1), the single-valued ones that must not repeat (RFC 4475 §3.3.8), and their values. */
function parseNeededHeaders(msg: SipMessage, buf: Buffer): ParseFailure | null {
  const headers = msg.headers;
  const first = msg.firstHeader;
  if (first[Hdr.From]! < 0 || first[Hdr.To]! < 0 || first[Hdr.CallId]! < 0 || first[Hdr.CSeq]! < 0) {
    return 'ERR_SIP_MISSING_HEADER';
  }
  const counts = msg.headerTypeCount;
  if (counts[Hdr.From]! > 1 || counts[Hdr.To]! > 1 || counts[Hdr.CallId]! > 1 || counts[Hdr.CSeq]! > 1 ||
    counts[Hdr.MaxForwards]! > 1) {
    return 'ERR_SIP_DUPLICATE_HEADER';
  }

  // CSeq = 1*DIGIT LWS Method (§20.16); the number is 32-bit (RFC 4475 §3.1.2.4), the method must be
  // the request's own (§8.2... RFC 4475 §3.1.2.17).
  {
    const i = first[Hdr.CSeq]!;
    const s = headers[i * H_SIZE + H_VALUE_S]!;
    const e = headers[i * H_SIZE + H_VALUE_E]!;
    let q = s;
    while (q < e && buf[q]! >= 0x30 && buf[q]! <= 0x39) q++;
    const n = readUint(buf, s, q, UINT32_MAX, false);
    if (n === NUMBER_INVALID || n > UINT32_MAX) return 'ERR_SIP_CSEQ';
    const mS = skipWs(buf, q, e);
    if (mS === q) return 'ERR_SIP_CSEQ';
    const mE = skipToken(buf, mS, e);
    if (mE === mS || mE !== e) return 'ERR_SIP_CSEQ';
    msg.cseq = n;
    msg.cseqMethodStart = mS; msg.cseqMethodEnd = mE;
    msg.cseqMethod = methodOf(buf, mS, mE);
    if (msg.isRequest && !equalsBytes(buf, mS, mE, buf, msg.methodStart, msg.methodEnd)) return 'ERR_SIP_CSEQ';
  }

  // Call-ID = word ["@" word] (§20.8): any non-LWS bytes, at least one.
  {
    const i = first[Hdr.CallId]!;
    const s = headers[i * H_SIZE + H_VALUE_S]!;
    const e = headers[i * H_SIZE + H_VALUE_E]!;
    if (s >= e) return 'ERR_SIP_CALL_ID';
    for (let q = s; q < e; q++) if (isWs(buf[q]!)) return 'ERR_SIP_CALL_ID';
    msg.callIdStart = s; msg.callIdEnd = e;
  }

  {
    const i = first[Hdr.From]!;
    const e = headers[i * H_SIZE + H_VALUE_E]!;
    const q = parseNameAddr(buf, headers[i * H_SIZE + H_VALUE_S]!, e, msg.fromTable, 0, false);
    if (q !== e) return 'ERR_SIP_FROM';
  }
  {
    const i = first[Hdr.To]!;
    const e = headers[i * H_SIZE + H_VALUE_E]!;
    const q = parseNameAddr(buf, headers[i * H_SIZE + H_VALUE_S]!, e, msg.toTable, 0, false);
    if (q !== e) return 'ERR_SIP_TO';
  }
  return null;
}

/** Max-Forwards, Expires, Min-Expires, Retry-After: absent reads as -1. */
function parseNumericHeaders(msg: SipMessage, buf: Buffer): ParseFailure | null {
  const headers = msg.headers;
  const first = msg.firstHeader;
  if (first[Hdr.MaxForwards]! >= 0) {
    const i = first[Hdr.MaxForwards]!;
    const v = readUint(buf, headers[i * H_SIZE + H_VALUE_S]!, headers[i * H_SIZE + H_VALUE_E]!, 255, false);
    if (v === NUMBER_INVALID || v > 255) return 'ERR_SIP_MAX_FORWARDS';
    msg.maxForwards = v;
  }
  if (first[Hdr.Expires]! >= 0) {
    const i = first[Hdr.Expires]!;
    const v = readUint(buf, headers[i * H_SIZE + H_VALUE_S]!, headers[i * H_SIZE + H_VALUE_E]!, UINT32_MAX, true);
    if (v === NUMBER_INVALID) return 'ERR_SIP_EXPIRES';
    msg.expires = v;
  }
  if (first[Hdr.MinExpires]! >= 0) {
    const i = first[Hdr.MinExpires]!;
    const v = readUint(buf, headers[i * H_SIZE + H_VALUE_S]!, headers[i * H_SIZE + H_VALUE_E]!, UINT32_MAX, true);
    if (v === NUMBER_INVALID) return 'ERR_SIP_EXPIRES';
    msg.minExpires = v;
  }
  if (first[Hdr.RetryAfter]! >= 0) {
    // Retry-After = delta-seconds [comment] *(SEMI retry-param) (§20.33): the leading digits, liberally.
    const i = first[Hdr.RetryAfter]!;
    const s = headers[i * H_SIZE + H_VALUE_S]!;
    const e = headers[i * H_SIZE + H_VALUE_E]!;
    let q = s;
    while (q < e && buf[q]! >= 0x30 && buf[q]! <= 0x39) q++;
    const v = readUint(buf, s, q, UINT32_MAX, true);
    msg.retryAfterS = v === NUMBER_INVALID ? -1 : v;
  }
  return null;
}

/** Every Contact line, each possibly holding several comma-separated values (§7.3.1). */
function parseContacts(msg: SipMessage, buf: Buffer): ParseFailure | null {
  const headers = msg.headers;
  const first = msg.firstHeader;
  for (let i = first[Hdr.Contact]!; i >= 0; i = msg.nextHeader(Hdr.Contact, i)) {
    const e = headers[i * H_SIZE + H_VALUE_E]!;
    let q = headers[i * H_SIZE + H_VALUE_S]!;
    for (;;) {
      if (msg.contactCount >= limits.contactsPerRequestMax) return 'ERR_SIP_CONTACTS_MAX';
      q = parseNameAddr(buf, q, e, msg.contactTable, msg.contactCount * N_SIZE, true);
      if (q < 0) return 'ERR_SIP_CONTACT';
      if (msg.contactTable[msg.contactCount * N_SIZE + N_STAR] === 1) msg.contactStar = true;
      msg.contactCount++;
      if (q >= e) break;
      if (buf[q] !== COMMA) return 'ERR_SIP_CONTACT';
      q++;
    }
  }
  if (msg.contactStar && msg.contactCount > 1) return 'ERR_SIP_CONTACT'; // §10.2.2: '*' stands alone
  return null;
}

/** Status code and reason phrase to answer a failed request with, naming the problem. */
export function failureResponse(code: ParseFailure): { readonly status: number; readonly reason: string } {
  return failureResponses[code];
}

const failureResponses: Record<ParseFailure, { readonly status: number; readonly reason: string }> = {
  ERR_SIP_TOO_LARGE: { status: 513, reason: 'Message Too Large' },
  ERR_SIP_EMPTY: { status: 400, reason: 'Bad Request - Empty Message' },
  ERR_SIP_NO_CRLF: { status: 400, reason: 'Bad Request - Malformed Line Ends' },
  ERR_SIP_START_LINE: { status: 400, reason: 'Bad Request - Malformed Request Line' },
  ERR_SIP_VERSION: { status: 505, reason: 'Version Not Supported' },
  ERR_SIP_STATUS: { status: 400, reason: 'Bad Request - Malformed Status Line' },
  ERR_SIP_REQUEST_URI: { status: 400, reason: 'Bad Request - Malformed Request-URI' },
  ERR_SIP_HEADERS_MAX: { status: 400, reason: 'Bad Request - Too Many Headers' },
  ERR_SIP_HEADER_TOO_LONG: { status: 400, reason: 'Bad Request - Header Too Long' },
  ERR_SIP_BAD_HEADER: { status: 400, reason: 'Bad Request - Malformed Header Line' },
  ERR_SIP_DUPLICATE_HEADER: { status: 400, reason: 'Bad Request - Repeated Single-Value Header' },
  ERR_SIP_CONTENT_LENGTH: { status: 400, reason: 'Bad Request - Bad Content-Length' },
  ERR_SIP_MISSING_HEADER: { status: 400, reason: 'Bad Request - Missing Mandatory Header' },
  ERR_SIP_VIA: { status: 400, reason: 'Bad Request - Malformed Via' },
  ERR_SIP_FROM: { status: 400, reason: 'Bad Request - Malformed From' },
  ERR_SIP_TO: { status: 400, reason: 'Bad Request - Malformed To' },
  ERR_SIP_CALL_ID: { status: 400, reason: 'Bad Request - Malformed Call-ID' },
  ERR_SIP_CSEQ: { status: 400, reason: 'Bad Request - Bad CSeq' },
  ERR_SIP_MAX_FORWARDS: { status: 400, reason: 'Bad Request - Bad Max-Forwards' },
  ERR_SIP_CONTACT: { status: 400, reason: 'Bad Request - Malformed Contact' },
  ERR_SIP_CONTACTS_MAX: { status: 400, reason: 'Bad Request - Too Many Contacts' },
  ERR_SIP_EXPIRES: { status: 400, reason: 'Bad Request - Bad Expires' },
};

