// SipMessage: one reusable object that the parser fills with byte offsets into the received datagram
// [Kamailio `str`, esbuild `Loc`]. Nothing is copied and no string is made until an accessor is called.
// The views (UriView, NameAddrView, ViaView) are made once with the message and read its tables.
import { assert } from '../assert.js';
import { limits } from '../limits.js';
import { BACKSLASH, LBRACKET, RBRACKET, equalsStringFold, equalsString, skipWs, trimEnd, skipToken, SEMI, EQUAL, DQUOTE, skipQuoted, COMMA, isWs } from './scan.js';

/** Request methods the stack knows by number (RFC 3261 §7.1 and extensions); others are Method.Other. */
export const Method = {
  Other: 0, REGISTER: 1, OPTIONS: 2, INVITE: 3, ACK: 4, BYE: 5, CANCEL: 6, SUBSCRIBE: 7, NOTIFY: 8,
  MESSAGE: 9, INFO: 10, PRACK: 11, UPDATE: 12, REFER: 13, PUBLISH: 14,
} as const;
export type MethodId = (typeof Method)[keyof typeof Method];
export const methodNames: readonly string[] = [
  '', 'REGISTER', 'OPTIONS', 'INVITE', 'ACK', 'BYE', 'CANCEL', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'INFO',
  'PRACK', 'UPDATE', 'REFER', 'PUBLISH',
];

/** Header types resolved at parse time; anything else is Hdr.Other and is kept in the table unparsed. */
export const Hdr = {
  Other: 0, Via: 1, From: 2, To: 3, CallId: 4, CSeq: 5, Contact: 6, ContentLength: 7, ContentType: 8,
  MaxForwards: 9, Expires: 10, MinExpires: 11, UserAgent: 12, Server: 13, Require: 14, ProxyRequire: 15,
  Supported: 16, Unsupported: 17, Allow: 18, Authorization: 19, ProxyAuthorization: 20,
  WwwAuthenticate: 21, ProxyAuthenticate: 22, RetryAfter: 23, Date: 24, Subject: 25, ContentEncoding: 26,
  Event: 27, ReferTo: 28, AllowEvents: 29, SessionExpires: 30, RecordRoute: 31, Route: 32, Path: 33,
  Accept: 34, Timestamp: 35, Privacy: 36, Warning: 37, Identity: 38, ReferredBy: 39, AcceptContact: 40,
  RejectContact: 41, RequestDisposition: 42,
} as const;
export type HeaderType = (typeof Hdr)[keyof typeof Hdr];
export const HEADER_TYPE_COUNT = 43;

/** Canonical names, and compact forms (RFC 3261 §7.3.3, IANA registry) where one exists. */
export const headerNames: ReadonlyArray<readonly [HeaderType, string, string]> = [
  [Hdr.Via, 'Via', 'v'], [Hdr.From, 'From', 'f'], [Hdr.To, 'To', 't'], [Hdr.CallId, 'Call-ID', 'i'],
  [Hdr.CSeq, 'CSeq', ''], [Hdr.Contact, 'Contact', 'm'], [Hdr.ContentLength, 'Content-Length', 'l'],
  [Hdr.ContentType, 'Content-Type', 'c'], [Hdr.MaxForwards, 'Max-Forwards', ''], [Hdr.Expires, 'Expires', ''],
  [Hdr.MinExpires, 'Min-Expires', ''], [Hdr.UserAgent, 'User-Agent', ''], [Hdr.Server, 'Server', ''],
  [Hdr.Require, 'Require', ''], [Hdr.ProxyRequire, 'Proxy-Require', ''], [Hdr.Supported, 'Supported', 'k'],
  [Hdr.Unsupported, 'Unsupported', ''], [Hdr.Allow, 'Allow', ''], [Hdr.Authorization, 'Authorization', ''],
  [Hdr.ProxyAuthorization, 'Proxy-Authorization', ''], [Hdr.WwwAuthenticate, 'WWW-Authenticate', ''],
  [Hdr.ProxyAuthenticate, 'Proxy-Authenticate', ''], [Hdr.RetryAfter, 'Retry-After', ''], [Hdr.Date, 'Date', ''],
  [Hdr.Subject, 'Subject', 's'], [Hdr.ContentEncoding, 'Content-Encoding', 'e'], [Hdr.Event, 'Event', 'o'],
  [Hdr.ReferTo, 'Refer-To', 'r'], [Hdr.AllowEvents, 'Allow-Events', 'u'], [Hdr.SessionExpires, 'Session-Expires', 'x'],
  [Hdr.RecordRoute, 'Record-Route', ''], [Hdr.Route, 'Route', ''], [Hdr.Path, 'Path', ''], [Hdr.Accept, 'Accept', ''],
  [Hdr.Timestamp, 'Timestamp', ''], [Hdr.Privacy, 'Privacy', ''], [Hdr.Warning, 'Warning', ''],
  [Hdr.Identity, 'Identity', 'y'], [Hdr.ReferredBy, 'Referred-By', 'b'], [Hdr.AcceptContact, 'Accept-Contact', 'a'],
  [Hdr.RejectContact, 'Reject-Contact', 'j'], [Hdr.RequestDisposition, 'Request-Disposition', 'd'],
];
assert(headerNames.length === HEADER_TYPE_COUNT - 1, 'headerNames.length === HEADER_TYPE_COUNT - 1');

/** URI schemes told apart (RFC 3261 §19.1, RFC 3966); any other scheme is opaque (Scheme.Other). */
export const Scheme = { None: 0, Other: 1, Sip: 2, Sips: 3, Tel: 4 } as const;
export type SchemeId = (typeof Scheme)[keyof typeof Scheme];

// Layout of a parsed URI inside an Int32Array (absent ranges have start -1; an absent port is -1).
export const U_START = 0, U_END = 1, U_SCHEME = 2, U_USER_S = 3, U_USER_E = 4, U_PASS_S = 5, U_PASS_E = 6,
  U_HOST_S = 7, U_HOST_E = 8, U_PORT = 9, U_PARAMS_S = 10, U_PARAMS_E = 11, U_HEADERS_S = 12, U_HEADERS_E = 13,
  U_SIZE = 14;

// Layout of a name-addr / addr-spec with its header parameters (From, To, each Contact).
export const N_START = 0, N_END = 1, N_DISPLAY_S = 2, N_DISPLAY_E = 3, N_DISPLAY_QUOTED = 4, N_STAR = 5,
  N_PARAMS_S = 6, N_PARAMS_E = 7, N_TAG_S = 8, N_TAG_E = 9, N_EXPIRES = 10, N_Q = 11, N_INSTANCE_S = 12,
  N_INSTANCE_E = 13, N_REGID = 14, N_URI = 15, N_SIZE = N_URI + U_SIZE;

// Layout of the top Via (RFC 3261 §20.42). V_RPORT: -2 absent, -1 present without value, else the value.
export const V_HEADER = 0, V_START = 1, V_END = 2, V_TRANSPORT_S = 3, V_TRANSPORT_E = 4, V_HOST_S = 5,
  V_HOST_E = 6, V_PORT = 7, V_BRANCH_S = 8, V_BRANCH_E = 9, V_RPORT = 10, V_RPORT_NAME_E = 11,
  V_RECEIVED_S = 12, V_RECEIVED_E = 13, V_MADDR_S = 14, V_MADDR_E = 15, V_SIZE = 16;
export const RPORT_ABSENT = -2;
export const RPORT_EMPTY = -1;

// Header table: four int32 per header line.
export const H_TYPE = 0, H_NAME_S = 1, H_VALUE_S = 2, H_VALUE_E = 3, H_SIZE = 4;

const EMPTY = Buffer.alloc(0);

/** Returns a string for buf[start, end), or '' for an absent range. */
function text(buf: Buffer, start: number, end: number): string {
  if (start < 0 || end <= start) return '';
  return buf.toString('utf8', start, end);
}

/** Undoes quoted-pair escapes (RFC 3261 §25.1) of a quoted-string's inner bytes. */
function unescapeQuoted(buf: Buffer, start: number, end: number): string {
  let hasEscape = false;
  for (let p = start; p < end; p++) if (buf[p] === BACKSLASH) { hasEscape = true; break; }
  if (!hasEscape) return text(buf, start, end);
  const out = Buffer.allocUnsafe(end - start);
  let n = 0;
  for (let p = start; p < end; p++) {
    if (buf[p] === BACKSLASH && p + 1 < end) p++;
    out[n++] = buf[p]!;
  }
  return out.toString('utf8', 0, n);
}

/**
 * Finds a `;name[=value]` parameter in buf[start, end) (a params section beginning at a ';').
 * Writes value offsets to out[0], out[1] (-1 when the parameter has no value) and returns true when found.
 */
export function findParam(buf: Buffer, start: number, end: number, name: string, out: Int32Array): boolean {
  let p = start;
  while (p < end) {
    p = skipWs(buf, p, end);
    if (p >= end || buf[p] !== SEMI) return false;
    p = skipWs(buf, p + 1, end);
    const nameS = p;
    p = skipToken(buf, p, end);
    const nameE = p;
    p = skipWs(buf, p, end);
    let valS = -1;
    let valE = -1;
    if (p < end && buf[p] === EQUAL) {
      p = skipWs(buf, p + 1, end);
      if (p < end && buf[p] === DQUOTE) {
        const q = skipQuoted(buf, p, end);
        if (q < 0) return false;
        valS = p; valE = q + 1; p = q + 1;
      } else {
        valS = p;
        while (p < end && buf[p] !== SEMI && buf[p] !== COMMA && !isWs(buf[p]!)) p++;
        valE = p;
      }
    }
    if (nameE > nameS && equalsStringFold(buf, nameS, nameE, name)) {
      out[0] = valS; out[1] = valE;
      return true;
    }
    if (p === nameS) return false; // no progress: not a parameter list
  }
  return false;
}

const paramScratch = new Int32Array(2);

/** A URI parsed in place (RFC 3261 §19.1.1). Accessors make strings; properties are numbers. */
export class UriView {
  constructor(private readonly msg: SipMessage, private readonly table: Int32Array, private readonly base: number) {}
  get present(): boolean { return this.table[this.base + U_START]! >= 0; }
  get scheme(): SchemeId { return this.table[this.base + U_SCHEME]! as SchemeId; }
  /** The port, or -1 when the URI has none (the default 5060/5061 then applies, RFC 3263). */
  get port(): number { return this.table[this.base + U_PORT]!; }
  get start(): number { return this.table[this.base + U_START]!; }
  get end(): number { return this.table[this.base + U_END]!; }
  get hasUser(): boolean { return this.table[this.base + U_USER_S]! >= 0; }
  get userStart(): number { return this.table[this.base + U_USER_S]!; }
  get userEnd(): number { return this.table[this.base + U_USER_E]!; }
  get hostStart(): number { return this.table[this.base + U_HOST_S]!; }
  get hostEnd(): number { return this.table[this.base + U_HOST_E]!; }
  raw(): string { return text(this.msg.buf, this.table[this.base + U_START]!, this.table[this.base + U_END]!); }
  /** The user part as sent (escapes not decoded; RFC 3261 §19.1.4 compares users byte-wise after decoding). */
  user(): string { return text(this.msg.buf, this.table[this.base + U_USER_S]!, this.table[this.base + U_USER_E]!); }
  password(): string { return text(this.msg.buf, this.table[this.base + U_PASS_S]!, this.table[this.base + U_PASS_E]!); }
  /** The host as written, IPv6 references with their brackets. */
  host(): string { return text(this.msg.buf, this.table[this.base + U_HOST_S]!, this.table[this.base + U_HOST_E]!); }
  /** The uri-parameters section, from its first ';' (empty if none). */
  params(): string { return text(this.msg.buf, this.table[this.base + U_PARAMS_S]!, this.table[this.base + U_PARAMS_E]!); }
  /** The headers section after '?' (empty if none). */
  headers(): string { return text(this.msg.buf, this.table[this.base + U_HEADERS_S]!, this.table[this.base + U_HEADERS_E]!); }
  /** A uri-parameter's value; '' for a parameter without value; null when absent. */
  param(name: string): string | null {
    return paramValue(this.msg.buf, this.table[this.base + U_PARAMS_S]!, this.table[this.base + U_PARAMS_E]!, name);
  }
  userEquals(s: string): boolean {
    const us = this.table[this.base + U_USER_S]!;
    return us >= 0 && equalsString(this.msg.buf, us, this.table[this.base + U_USER_E]!, s);
  }
  /** Host comparison is case-insensitive (RFC 3261 §19.1.4). */
  hostEquals(s: string): boolean {
    const hs = this.table[this.base + U_HOST_S]!;
    return hs >= 0 && equalsStringFold(this.msg.buf, hs, this.table[this.base + U_HOST_E]!, s);
  }
}

/** The value of parameter `name` in the ';'-section buf[start, end) ('' without value), or null when absent
 *  (start < 0: the section is missing). */
function paramValue(buf: Buffer, start: number, end: number, name: string): string | null {
  if (start < 0) return null;
  if (!findParam(buf, start, end, name, paramScratch)) return null;
  return text(buf, paramScratch[0]!, paramScratch[1]!);
}

/** From, To or one Contact: display name, URI and header parameters. */
export class NameAddrView {
  readonly uri: UriView;
  constructor(private readonly msg: SipMessage, private readonly table: Int32Array, private readonly base: number) {
    this.uri = new UriView(msg, table, base + N_URI);
  }
  /** True for the `Contact: *` wildcard (RFC 3261 §10.2.2). */
  get star(): boolean { return this.table[this.base + N_STAR]! === 1; }
  /** The expires parameter, or -1 when absent; values above 2**32-1 read as 2**32-1. */
  get expires(): number { return this.table[this.base + N_EXPIRES]!; }
  /** The q parameter times 1000 (0..1000), or -1 when absent. */
  get q(): number { return this.table[this.base + N_Q]!; }
  /** The reg-id parameter (RFC 5626), or -1 when absent. */
  get regId(): number { return this.table[this.base + N_REGID]!; }
  get hasTag(): boolean { return this.table[this.base + N_TAG_S]! >= 0; }
  get hasInstance(): boolean { return this.table[this.base + N_INSTANCE_S]! >= 0; }
  /** The +sip.instance value as received (with its quotes, escapes not undone): see instance(). */
  get instanceStart(): number { return this.table[this.base + N_INSTANCE_S]!; }
  get instanceEnd(): number { return this.table[this.base + N_INSTANCE_E]!; }
  get start(): number { return this.table[this.base + N_START]!; }
  get end(): number { return this.table[this.base + N_END]!; }
  /** The whole element as received (name-addr or addr-spec with its parameters). */
  raw(): string { return text(this.msg.buf, this.table[this.base + N_START]!, this.table[this.base + N_END]!); }
  /** The display name, unquoted and unescaped; '' when none. */
  displayName(): string {
    const s = this.table[this.base + N_DISPLAY_S]!;
    const e = this.table[this.base + N_DISPLAY_E]!;
    if (this.table[this.base + N_DISPLAY_QUOTED]! === 1) return unescapeQuoted(this.msg.buf, s, e);
    return text(this.msg.buf, s, e);
  }
  tag(): string { return text(this.msg.buf, this.table[this.base + N_TAG_S]!, this.table[this.base + N_TAG_E]!); }
  /** The +sip.instance value (RFC 5626 §4.1) without its quotes, e.g. `<urn:uuid:...>`; '' when absent. */
  instance(): string {
    const s = this.table[this.base + N_INSTANCE_S]!;
    const e = this.table[this.base + N_INSTANCE_E]!;
    if (s >= 0 && e - s >= 2 && this.msg.buf[s] === DQUOTE) return unescapeQuoted(this.msg.buf, s + 1, e - 1);
    return text(this.msg.buf, s, e);
  }
  /** The header-parameter section after the URI, from its first ';' (empty when none). */
  params(): string { return text(this.msg.buf, this.table[this.base + N_PARAMS_S]!, this.table[this.base + N_PARAMS_E]!); }
  /** A header parameter's value ('' without value), or null when absent. Quoted values keep their quotes. */
  param(name: string): string | null {
    return paramValue(this.msg.buf, this.table[this.base + N_PARAMS_S]!, this.table[this.base + N_PARAMS_E]!, name);
  }
  tagEquals(s: string): boolean {
    const ts = this.table[this.base + N_TAG_S]!;
    return ts >= 0 && equalsString(this.msg.buf, ts, this.table[this.base + N_TAG_E]!, s);
  }
}

/** The top Via (RFC 3261 §18.2.1, §20.42, RFC 3581). */
export class ViaView {
  constructor(private readonly msg: SipMessage, private readonly table: Int32Array) {}
  /** Transport token as sent, e.g. 'UDP'. */
  transport(): string { return text(this.msg.buf, this.table[V_TRANSPORT_S]!, this.table[V_TRANSPORT_E]!); }
  /** sent-by host as written, IPv6 with brackets. */
  host(): string { return text(this.msg.buf, this.table[V_HOST_S]!, this.table[V_HOST_E]!); }
  get hostStart(): number { return this.table[V_HOST_S]!; }
  get hostEnd(): number { return this.table[V_HOST_E]!; }
  /** sent-by port, or -1 when absent. */
  get port(): number { return this.table[V_PORT]!; }
  get hasBranch(): boolean { return this.table[V_BRANCH_S]! >= 0; }
  branch(): string { return text(this.msg.buf, this.table[V_BRANCH_S]!, this.table[V_BRANCH_E]!); }
  /** RFC 3261 §8.1.1.7: a branch starting with the magic cookie and carrying more than the cookie. */
  get isRfc3261Branch(): boolean {
    const s = this.table[V_BRANCH_S]!;
    const e = this.table[V_BRANCH_E]!;
    return s >= 0 && e - s > 7 && equalsString(this.msg.buf, s, s + 7, 'z9hG4bK');
  }
  /** RFC 3581: the client asked for rport. */
  get hasRport(): boolean { return this.table[V_RPORT]! !== RPORT_ABSENT; }
  /** rport value, -1 when present without a value or absent. */
  get rport(): number { const v = this.table[V_RPORT]!; return v >= 0 ? v : -1; }
  get hasReceived(): boolean { return this.table[V_RECEIVED_S]! >= 0; }
  /** received parameter value (brackets kept if the sender used them, RFC 5118 §4.5). */
  received(): string { return text(this.msg.buf, this.table[V_RECEIVED_S]!, this.table[V_RECEIVED_E]!); }
  maddr(): string { return text(this.msg.buf, this.table[V_MADDR_S]!, this.table[V_MADDR_E]!); }
  /** The whole top via-parm as received. */
  raw(): string { return text(this.msg.buf, this.table[V_START]!, this.table[V_END]!); }
  /**
   * Whether the sent-by host is literally the given address (RFC 3261 §18.2.1 decides `received` by this).
   * IPv6 brackets are ignored; textual forms are compared byte for byte.
   */
  hostIs(address: string): boolean {
    let s = this.table[V_HOST_S]!;
    let e = this.table[V_HOST_E]!;
    if (s < 0) return false;
    if (this.msg.buf[s] === LBRACKET && this.msg.buf[e - 1] === RBRACKET) { s++; e--; }
    return equalsStringFold(this.msg.buf, s, e, address);
  }
}

/**
 * A parsed SIP message: the datagram plus offset tables. Reuse one per socket handler; `parse` resets it.
 * Fields are valid only after `parse` returned null (or, for `viaOk` and the header table, as documented
 * on `canRespond`) and only until the next `parse` into the same object or until the Buffer is reused.
 */
export class SipMessage {
  /** The datagram, never copied. */
  buf: Buffer = EMPTY;
  /** End of the message: the datagram's end, or the end of the body as framed by Content-Length (RFC 3261 §18.3). */
  length = 0;
  isRequest = false;
  method: MethodId = Method.Other;
  methodStart = 0; methodEnd = 0;
  statusCode = 0;
  reasonStart = 0; reasonEnd = 0;
  bodyStart = 0; bodyEnd = 0;
  /** Content-Length header value, or -1 when absent (UDP allows that, RFC 3261 §18.3). */
  contentLength = -1;
  headerCount = 0;
  /** Whether the header section was split completely (the header table is usable). */
  headersOk = false;
  /** Whether the top Via parsed: a response can be routed (RFC 3261 §18.2.2). */
  viaOk = false;
  readonly headers = new Int32Array(limits.headerCountMax * H_SIZE);
  /** Index of the first header of each type, -1 when absent. */
  readonly firstHeader = new Int16Array(HEADER_TYPE_COUNT);
  /** Number of header lines of each type. */
  readonly headerTypeCount = new Uint8Array(HEADER_TYPE_COUNT);
  readonly requestUriTable = new Int32Array(U_SIZE);
  readonly viaTable = new Int32Array(V_SIZE);
  readonly fromTable = new Int32Array(N_SIZE);
  readonly toTable = new Int32Array(N_SIZE);
  readonly contactTable = new Int32Array(limits.contactsPerRequestMax * N_SIZE);
  contactCount = 0;
  /** True when the request has `Contact: *` (alone; the parser rejects a star mixed with URIs). */
  contactStar = false;
  callIdStart = 0; callIdEnd = 0;
  cseq = 0;
  cseqMethod: MethodId = Method.Other;
  cseqMethodStart = 0; cseqMethodEnd = 0;
  /** -1 when absent (tolerated, RFC 3261 §8.1.1.6 says SHOULD be present on receipt we accept). */
  maxForwards = -1;
  /** Expires header in seconds (saturated at 2**32-1), -1 when absent. */
  expires = -1;
  /** Min-Expires header in seconds, -1 when absent. */
  minExpires = -1;
  /** Retry-After delta-seconds (RFC 3261 §20.33), -1 when absent. */
  retryAfterS = -1;

  readonly requestUri = new UriView(this, this.requestUriTable, 0);
  readonly via = new ViaView(this, this.viaTable);
  readonly from = new NameAddrView(this, this.fromTable, 0);
  readonly to = new NameAddrView(this, this.toTable, 0);
  private readonly contactViews: NameAddrView[] = [];

  constructor() {
    for (let i = 0; i < limits.contactsPerRequestMax; i++) {
      this.contactViews.push(new NameAddrView(this, this.contactTable, i * N_SIZE));
    }
  }

  /** Contact i (0 <= i < contactCount); the view is reused, read it before the next parse. */
  contact(i: number): NameAddrView {
    assert(i >= 0, 'i >= 0');
    assert(i < this.contactCount, 'i < this.contactCount');
    return this.contactViews[i]!;
  }

  /** Whether a request failing to parse can still get a 400: its header table and top Via are usable. */
  canRespond(): boolean {
    return this.isRequest && this.headersOk && this.viaOk && this.method !== Method.ACK;
  }

  methodText(): string { return text(this.buf, this.methodStart, this.methodEnd); }
  reason(): string { return text(this.buf, this.reasonStart, this.reasonEnd); }
  callId(): string { return text(this.buf, this.callIdStart, this.callIdEnd); }
  cseqMethodText(): string { return text(this.buf, this.cseqMethodStart, this.cseqMethodEnd); }
  body(): Buffer { return this.buf.subarray(this.bodyStart, this.bodyEnd); }

  headerType(i: number): HeaderType { assert(i >= 0 && i < this.headerCount, 'i >= 0 && i < this.headerCount'); return this.headers[i * H_SIZE + H_TYPE]! as HeaderType; }
  headerName(i: number): string {
    assert(i >= 0 && i < this.headerCount, 'i >= 0 && i < this.headerCount');
    const s = this.headers[i * H_SIZE + H_NAME_S]!;
    let e = s;
    while (e < this.buf.length && this.buf[e] !== 0x3a && !isWs(this.buf[e]!)) e++;
    return text(this.buf, s, e);
  }
  valueStart(i: number): number { return this.headers[i * H_SIZE + H_VALUE_S]!; }
  valueEnd(i: number): number { return this.headers[i * H_SIZE + H_VALUE_E]!; }
  /** Header i's value, trimmed, folds kept as received. */
  value(i: number): string {
    assert(i >= 0 && i < this.headerCount, 'i >= 0 && i < this.headerCount');
    return text(this.buf, this.headers[i * H_SIZE + H_VALUE_S]!, this.headers[i * H_SIZE + H_VALUE_E]!);
  }
  /** The next header of `type` after index `after` (pass -1 to start), or -1. */
  nextHeader(type: HeaderType, after: number): number {
    for (let i = after + 1; i < this.headerCount; i++) {
      if (this.headers[i * H_SIZE + H_TYPE] === type) return i;
    }
    return -1;
  }
  /** First header value of a type, or null when absent. */
  headerValue(type: HeaderType): string | null {
    const i = this.firstHeader[type]!;
    return i < 0 ? null : this.value(i);
  }
  has(type: HeaderType): boolean { return this.firstHeader[type]! >= 0; }
  userAgent(): string | null { return this.headerValue(Hdr.UserAgent); }
  server(): string | null { return this.headerValue(Hdr.Server); }
  date(): string | null { return this.headerValue(Hdr.Date); }

  /**
   * Whether any header of `type` (Require, Proxy-Require, Supported, Allow, ...) lists `option`
   * (option-tags compare case-insensitively here, RFC 3261 §19.2 says case-sensitive; liberal).
   */
  hasOption(type: HeaderType, option: string): boolean {
    for (let i = this.nextHeader(type, -1); i >= 0; i = this.nextHeader(type, i)) {
      const end = this.headers[i * H_SIZE + H_VALUE_E]!;
      let p = this.headers[i * H_SIZE + H_VALUE_S]!;
      while (p < end) {
        p = skipWs(this.buf, p, end);
        const s = p;
        while (p < end && this.buf[p] !== COMMA) p++;
        const e = trimEnd(this.buf, s, p);
        if (equalsStringFold(this.buf, s, e, option)) return true;
        p++;
      }
    }
    return false;
  }

  /** Every option-tag of every header of `type`, in order (allocates; Require is rare in REGISTERs). */
  options(type: HeaderType): string[] {
    const out: string[] = [];
    for (let i = this.nextHeader(type, -1); i >= 0; i = this.nextHeader(type, i)) {
      const end = this.headers[i * H_SIZE + H_VALUE_E]!;
      let p = this.headers[i * H_SIZE + H_VALUE_S]!;
      while (p < end) {
        p = skipWs(this.buf, p, end);
        const s = p;
        while (p < end && this.buf[p] !== COMMA) p++;
        const e = trimEnd(this.buf, s, p);
        if (e > s) out.push(text(this.buf, s, e));
        p++;
      }
    }
    return out;
  }

  /** Sets every field to its empty value; parse calls it first. */
  reset(buf: Buffer, length: number): void {
    this.buf = buf;
    this.length = length;
    this.isRequest = false;
    this.method = Method.Other;
    this.methodStart = 0; this.methodEnd = 0;
    this.statusCode = 0;
    this.reasonStart = 0; this.reasonEnd = 0;
    this.bodyStart = length; this.bodyEnd = length;
    this.contentLength = -1;
    this.headerCount = 0;
    this.headersOk = false;
    this.viaOk = false;
    this.firstHeader.fill(-1);
    this.headerTypeCount.fill(0);
    this.requestUriTable.fill(-1);
    this.viaTable.fill(-1);
    this.fromTable.fill(-1);
    this.toTable.fill(-1);
    this.contactCount = 0;
    this.contactStar = false;
    this.callIdStart = 0; this.callIdEnd = 0;
    this.cseq = 0;
    this.cseqMethod = Method.Other;
    this.cseqMethodStart = 0; this.cseqMethodEnd = 0;
    this.maxForwards = -1;
    this.expires = -1;
    this.minExpires = -1;
    this.retryAfterS = -1;
  }
}
