// Writers: responses to a parsed request (the registrar's hot path, no allocation per message) and
// outbound requests (REGISTER, OPTIONS) for trunks and NAT keepalives. Everything is written into a
// caller-supplied Buffer; nothing is ever written past its end (the writer reports an overflow instead).
import { assert } from '../assert.js';
import { randomBytes } from 'node:crypto';
import { limits } from '../limits.js';
import { EQUAL, FNV_OFFSET, copyBytes, fnv1a, writeUint } from './scan.js';
import {
  Hdr, H_SIZE, H_VALUE_S, H_VALUE_E, N_TAG_S, V_HEADER, V_START, V_END, V_BRANCH_S, V_BRANCH_E,
  V_RPORT_NAME_E, RPORT_EMPTY, V_RPORT,
} from './message.js';
import type { SipMessage } from './message.js';

export type WriteFailure = 'ERR_SIP_WRITE_OVERFLOW';

/** Where a datagram came from (node:dgram's RemoteInfo satisfies it). */
export interface RemoteAddress { readonly address: string; readonly port: number }

const EMPTY = Buffer.alloc(0);
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * Writes one response. Use: `w.begin(buf, msg, 200, 'OK', rinfo).header(...).contact(...).finish()`.
 * `begin` writes the status line and the headers copied from the request (RFC 3261 §8.2.6.2: Via in
 * order, From, To with a tag added, Call-ID, CSeq); each method after it appends one header line; `finish`
 * adds `Content-Length: 0` and the empty line and returns the length or 'ERR_SIP_WRITE_OVERFLOW'.
 * One writer is reused for every response; it keeps only numbers and references between calls.
 */
export class ResponseWriter {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private end = 0;
  private overflow = false;

  begin(buf: Buffer, msg: SipMessage, statusCode: number, reason: string, source: RemoteAddress,
    sizeMax: number = Math.min(buf.length, limits.responseSizeMax)): this {
    assert(msg.isRequest, 'msg.isRequest');
    assert(msg.headersOk, 'msg.headersOk');
    assert(msg.viaOk, 'msg.viaOk');
    assert(statusCode >= 100 && statusCode <= 699, 'statusCode >= 100 && statusCode <= 699');
    assert(sizeMax <= buf.length, 'sizeMax <= buf.length');
    this.buf = buf;
    this.pos = 0;
    this.end = sizeMax;
    this.overflow = false;
    this.latin1('SIP/2.0 ');
    this.num(statusCode);
    this.latin1(' ');
    this.utf8(reason);
    this.crlf();
    this.copyVias(msg, source);
    const first = msg.firstHeader;
    if (first[Hdr.From]! >= 0) this.copyHeader('From: ', msg, first[Hdr.From]!);
    if (first[Hdr.To]! >= 0) {
      this.latin1('To: ');
      this.copyValue(msg, first[Hdr.To]!);
      // RFC 3261 §8.2.6.2: a UAS adds a To tag (not required on 100). Derived from Call-ID, branch and
      // From tag, so a retransmission of the same request gets the same tag (§12.1.1).
      if (statusCode > 100 && msg.toTable[N_TAG_S]! < 0) {
        this.latin1(';tag=');
        this.toTag(msg);
      }
      this.crlf();
    }
    if (first[Hdr.CallId]! >= 0) this.copyHeader('Call-ID: ', msg, first[Hdr.CallId]!);
    if (first[Hdr.CSeq]! >= 0) this.copyHeader('CSeq: ', msg, first[Hdr.CSeq]!);
    return this;
  }

  /** `Name: value` (value written as UTF-8). */
  header(name: string, value: string): this {
    this.latin1(name);
    this.latin1(': ');
    this.utf8(value);
    this.crlf();
    return this;
  }

  /** `Name: n` for a non-negative integer, without making a string. */
  headerNum(name: string, n: number): this {
    this.latin1(name);
    this.latin1(': ');
    this.num(n);
    this.crlf();
    return this;
  }

  /** Header lines encoded once at startup (each ending in CRLF), e.g. `Allow: ...\r\nSupported: ...\r\n`. */
  raw(lines: Buffer): this {
    if (this.overflow) return this;
    if (this.pos + lines.length > this.end) { this.overflow = true; return this; }
    this.pos += copyBytes(lines, 0, lines.length, this.buf, this.pos);
    return this;
  }

  /** `Contact: <nameAddr>;expires=N` (RFC 3261 §10.3 step 8); nameAddr as stored, without expires. */
  contact(nameAddr: string, expiresS: number): this {
    this.latin1('Contact: ');
    this.utf8(nameAddr);
    this.latin1(';expires=');
    this.num(expiresS);
    this.crlf();
    return this;
  }

  /**
   * The same from bytes: `Contact: <uri>[;+sip.instance="instance"];expires=N`, uri and instance being
   * src[uriStart, +uriLength) and src[instanceStart, +instanceLength) (instanceLength < 0: none).
   */
  contactBytes(src: Buffer, uriStart: number, uriLength: number, instanceStart: number, instanceLength: number, expiresS: number): this {
    this.latin1('Contact: <');
    this.bytes(src, uriStart, uriStart + uriLength);
    this.latin1('>');
    if (instanceLength >= 0) {
      this.latin1(';+sip.instance="');
      this.bytes(src, instanceStart, instanceStart + instanceLength);
      this.latin1('"');
    }
    this.latin1(';expires=');
    this.num(expiresS);
    this.crlf();
    return this;
  }

  /** Ends the header section with `Content-Length: 0`; returns the message length or the failure. */
  finish(): number | WriteFailure {
    this.latin1('Content-Length: 0\r\n\r\n');
    if (this.overflow) return 'ERR_SIP_WRITE_OVERFLOW';
    return this.pos;
  }

  // --- internals --------------------------------------------------------------------------------------

  // Short strings are written with a charCodeAt loop: each Buffer#write is a call into C++ that costs
  // more than copying a header name byte by byte (bench/sip/parse.bench.ts).
  private latin1(s: string): void {
    if (this.overflow) return;
    const n = s.length;
    if (this.pos + n > this.end) { this.overflow = true; return; }
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i) & 0xff;
    this.pos = p;
  }

  private utf8(s: string): void {
    if (this.overflow) return;
    const n = s.length;
    if (this.pos + n <= this.end) {
      // ASCII fast path; the first non-ASCII character hands the whole string to the encoder.
      const buf = this.buf;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[this.pos + i] = c;
      }
      if (i === n) { this.pos += n; return; }
    }
    const bytes = Buffer.byteLength(s, 'utf8');
    if (this.pos + bytes > this.end) { this.overflow = true; return; }
    this.pos += this.buf.write(s, this.pos, bytes, 'utf8');
  }

  private crlf(): void {
    if (this.overflow) return;
    if (this.pos + 2 > this.end) { this.overflow = true; return; }
    this.buf[this.pos++] = 0x0d;
    this.buf[this.pos++] = 0x0a;
  }

  private num(n: number): void {
    if (this.overflow) return;
    const p = writeUint(this.buf, this.pos, this.end, n);
    if (p < 0) { this.overflow = true; return; }
    this.pos = p;
  }

  private bytes(src: Buffer, start: number, end: number): void {
    if (this.overflow || end <= start) return;
    if (this.pos + (end - start) > this.end) { this.overflow = true; return; }
    this.pos += copyBytes(src, start, end, this.buf, this.pos);
  }

  private copyValue(msg: SipMessage, i: number): void {
    this.bytes(msg.buf, msg.headers[i * H_SIZE + H_VALUE_S]!, msg.headers[i * H_SIZE + H_VALUE_E]!);
  }

  private copyHeader(prefix: string, msg: SipMessage, i: number): void {
    this.latin1(prefix);
    this.copyValue(msg, i);
    this.crlf();
  }

  /**
   * Copies every Via line in order (RFC 3261 §8.2.6.2). In the top via-parm, RFC 3261 §18.2.1 adds
   * `received=<source>` when the sent-by host is not the source address, RFC 3581 §4 fills in an empty
   * `rport` with the source port and then always adds `received`. An existing `received` is kept as is.
   */
  private copyVias(msg: SipMessage, source: RemoteAddress): void {
    const v = msg.viaTable;
    const top = v[V_HEADER]!;
    for (let i = msg.firstHeader[Hdr.Via]!; i >= 0; i = msg.nextHeader(Hdr.Via, i)) {
      this.latin1('Via: ');
      if (i !== top) {
        this.copyValue(msg, i);
        this.crlf();
        continue;
      }
      const buf = msg.buf;
      const valueS = msg.headers[i * H_SIZE + H_VALUE_S]!;
      const valueE = msg.headers[i * H_SIZE + H_VALUE_E]!;
      const entryE = v[V_END]!;
      assert(v[V_START] === valueS, 'v[V_START] === valueS');
      let p = valueS;
      if (v[V_RPORT] === RPORT_EMPTY) {
        let at = v[V_RPORT_NAME_E]!;
        const hasEqual = buf[at] === EQUAL;
        if (hasEqual) at++;
        this.bytes(buf, p, at);
        if (!hasEqual) this.latin1('=');
        this.num(source.port);
        p = at;
      }
      this.bytes(buf, p, entryE);
      const needReceived = msg.via.hasRport || !msg.via.hostIs(source.address);
      if (needReceived && !msg.via.hasReceived) {
        this.latin1(';received=');
        this.latin1(source.address);
      }
      this.bytes(buf, entryE, valueE);
      this.crlf();
    }
  }

  /** 16 hex digits from two FNV-1a passes over Call-ID, top branch (or whole top Via) and From tag. */
  private toTag(msg: SipMessage): void {
    if (this.overflow) return;
    if (this.pos + 16 > this.end) { this.overflow = true; return; }
    const buf = msg.buf;
    const v = msg.viaTable;
    const bs = v[V_BRANCH_S]! >= 0 ? v[V_BRANCH_S]! : v[V_START]!;
    const be = v[V_BRANCH_S]! >= 0 ? v[V_BRANCH_E]! : v[V_END]!;
    let h1 = fnv1a(buf, msg.callIdStart, msg.callIdEnd, FNV_OFFSET);
    h1 = fnv1a(buf, bs, be, h1);
    let h2 = fnv1a(buf, bs, be, 0x9e3779b9);
    h2 = fnv1a(buf, msg.callIdStart, msg.callIdEnd, h2);
    const fs = msg.fromTable[N_TAG_S]!;
    if (fs >= 0) {
      const fe = msg.fromTable[N_TAG_S + 1]!;
      h1 = fnv1a(buf, fs, fe, h1);
      h2 = fnv1a(buf, fs, fe, h2);
    }
    for (let k = 28; k >= 0; k -= 4) this.buf[this.pos++] = HEX[(h1 >>> k) & 15]!;
    for (let k = 28; k >= 0; k -= 4) this.buf[this.pos++] = HEX[(h2 >>> k) & 15]!;
  }
}

/** Where to send a response (out.address, out.port); filled in place to allocate nothing. */
export interface ResponseTarget { address: string; port: number }

/**
 * The response destination for a request received over UDP (RFC 3261 §18.2.2, RFC 3581 §4):
 * - top Via has `rport` (RFC 3581): the source address and source port, the only way through a NAT;
 * - otherwise: the source address (which is what `received` names, §18.2.1) and the sent-by port,
 *   or 5060 when the Via has none. `maddr` (multicast) is not honoured: a registrar answers the source.
 * For requests that came through a NAT without rport this port may be wrong; registrars that want to
 * always answer the source can ignore this and use rinfo directly.
 */
export function responseTarget(msg: SipMessage, source: RemoteAddress, out: ResponseTarget): void {
  assert(msg.viaOk, 'msg.viaOk');
  out.address = source.address;
  if (msg.via.hasRport) {
    out.port = source.port;
    return;
  }
  // Port 0 is no destination (a send to it throws): answer where the request came from instead.
  out.port = msg.via.port > 0 ? msg.via.port : msg.via.port === 0 ? source.port : 5060;
}

// --- outbound requests ----------------------------------------------------------------------------------

/** An outbound REGISTER or OPTIONS (RFC 3261 §8.1.1, §10.2). */
export interface RequestSpec {
  readonly method: string;
  readonly requestUri: string;
  /** Our address as the Via sent-by; IPv6 without brackets is bracketed. */
  readonly viaHost: string;
  readonly viaPort: number;
  /** Starts with the magic cookie z9hG4bK (RFC 3261 §8.1.1.7); see newBranch(). */
  readonly branch: string;
  readonly transport?: string;
  readonly maxForwards?: number;
  /** name-addr or bare URI (bare URIs are put in <>). */
  readonly from: string;
  readonly fromTag: string;
  readonly to: string;
  readonly toTag?: string;
  readonly callId: string;
  readonly cseq: number;
  readonly contact?: string;
  readonly expiresS?: number;
  /** The value for Authorization (or Proxy-Authorization when `proxyAuthorization` is true). */
  readonly authorization?: string;
  readonly proxyAuthorization?: boolean;
  readonly privacy?: string;
  readonly userAgent?: string;
  readonly extraHeaders?: ReadonlyArray<readonly [string, string]>;
}

/**
 * Writes an outbound request into buf and returns its length, or 'ERR_SIP_WRITE_OVERFLOW'. The Via has
 * `;rport` so the far end answers through our NAT binding (RFC 3581 §3). Not on the hot path.
 */
export function writeRequest(buf: Buffer, spec: RequestSpec, sizeMax: number = Math.min(buf.length, limits.responseSizeMax)): number | WriteFailure {
  assert(spec.branch.startsWith('z9hG4bK'), 'spec.branch.startsWith(\'z9hG4bK\')');
  assert(spec.cseq >= 0 && spec.cseq <= 0x7fffffff, 'spec.cseq >= 0 && spec.cseq <= 0x7fffffff'); // RFC 3261 §8.1.1.5: below 2**31
  assert(spec.viaPort > 0 && spec.viaPort <= 65535, 'spec.viaPort > 0 && spec.viaPort <= 65535');
  assert(sizeMax <= buf.length, 'sizeMax <= buf.length');
  const viaHost = spec.viaHost.includes(':') && !spec.viaHost.startsWith('[') ? `[${spec.viaHost}]` : spec.viaHost;
  const lines: string[] = [];
  lines.push(`${spec.method} ${spec.requestUri} SIP/2.0`);
  lines.push(`Via: SIP/2.0/${spec.transport ?? 'UDP'} ${viaHost}:${spec.viaPort};branch=${spec.branch};rport`);
  lines.push(`Max-Forwards: ${spec.maxForwards ?? 70}`);
  lines.push(`From: ${angle(spec.from)};tag=${spec.fromTag}`);
  lines.push(`To: ${angle(spec.to)}${spec.toTag !== undefined ? `;tag=${spec.toTag}` : ''}`);
  lines.push(`Call-ID: ${spec.callId}`);
  lines.push(`CSeq: ${spec.cseq} ${spec.method}`);
  if (spec.contact !== undefined) lines.push(`Contact: ${angle(spec.contact)}`);
  if (spec.expiresS !== undefined) lines.push(`Expires: ${spec.expiresS}`);
  if (spec.authorization !== undefined) {
    lines.push(`${spec.proxyAuthorization === true ? 'Proxy-Authorization' : 'Authorization'}: ${spec.authorization}`);
  }
  if (spec.privacy !== undefined) lines.push(`Privacy: ${spec.privacy}`);
  if (spec.userAgent !== undefined) lines.push(`User-Agent: ${spec.userAgent}`);
  for (const [name, value] of spec.extraHeaders ?? []) lines.push(`${name}: ${value}`);
  lines.push('Content-Length: 0', '', '');
  const text = lines.join('\r\n');
  const n = Buffer.byteLength(text, 'utf8');
  if (n > sizeMax) return 'ERR_SIP_WRITE_OVERFLOW';
  return buf.write(text, 0, n, 'utf8');
}

function angle(s: string): string {
  return s.includes('<') ? s : `<${s}>`;
}

/** A fresh RFC 3261 branch: the magic cookie and 96 random bits. */
export function newBranch(): string {
  return `z9hG4bK${randomBytes(12).toString('hex')}`;
}

/** A fresh tag (RFC 3261 §19.3: at least 32 random bits). */
export function newTag(): string {
  return randomBytes(8).toString('hex');
}

/** A fresh Call-ID, globally unique (RFC 3261 §8.1.1.4). */
export function newCallId(host: string): string {
  return `${randomBytes(16).toString('hex')}@${host}`;
}
