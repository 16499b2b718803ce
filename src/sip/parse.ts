// The SIP parser (RFC 3261 §7, §20, §25): fills a SipMessage with offsets into the datagram. It never
// throws on packet content (asserts guard only the caller's arguments), never allocates per message
// and never makes a string. Failures are the codes of parse-failures.ts; the first one found is returned.
// The steps live one per file: start-line.ts, header-scan.ts, via.ts, eager-headers.ts (with name-addr.ts,
// uri.ts and params.ts under them); this file runs them in order and frames the body.
import { assert } from '../assert.js';
import { limits } from '../limits.js';
import { CR, LF, SP, HT, readUint, NUMBER_INVALID } from './scan.js';
import { SipMessage, Hdr, H_SIZE, H_VALUE_S, H_VALUE_E } from './message.js';
import type { ParseFailure } from './parse-failures.js';
import { parseStartLine, startLine } from './start-line.js';
import { scanHeaders } from './header-scan.js';
import { parseTopVia } from './via.js';
import { parseUri } from './uri.js';
import { parseNeededHeaders, parseNumericHeaders, parseContacts } from './eager-headers.js';

/**
 * Parses buf[0, length) into msg. Returns null when the message is well formed enough for the
 * registrar, the trunk client and the keepalive sender to use, or the first failure found.
 * Never throws on any content; `msg` is reset first, so a failed parse leaves no stale fields.
 * The steps, in order: the start line, the header scan, the top Via (after which every failure can be
 * answered), framing, the Request-URI, the headers every message needs, the numeric ones, the contacts.
 */
export function parse(msg: SipMessage, buf: Buffer, length: number = buf.length): ParseFailure | null {
  assert(length >= 0, 'length >= 0');
  assert(length <= buf.length, 'length <= buf.length');
  msg.reset(buf, length);
  if (length > limits.messageSizeMax) return 'ERR_SIP_TOO_LARGE';
  // RFC 3261 §7.5: CRLFs before the start line are ignored; RFC 5626 §4.4.1 keepalives are just that.
  let p = 0;
  while (p < length && (buf[p] === CR || buf[p] === LF || buf[p] === SP || buf[p] === HT || buf[p] === 0)) p++;
  if (p >= length) return 'ERR_SIP_EMPTY';
  const startEnd = lineEnd(buf, p, length);
  if (startEnd < 0) return 'ERR_SIP_NO_CRLF';

  const startFailure = parseStartLine(msg, buf, p, startEnd);
  if (startFailure !== null) return startFailure;
  const headerFailure = scanHeaders(msg, buf, startEnd + 2, length);
  if (headerFailure !== null) return headerFailure;

  // The top Via first: with it parsed, any later failure can still be answered with a 400 (§8.2.6).
  const viaIndex = msg.firstHeader[Hdr.Via]!;
  if (viaIndex < 0) return 'ERR_SIP_MISSING_HEADER';
  if (!parseTopVia(msg, viaIndex)) return 'ERR_SIP_VIA';
  msg.viaOk = true;
  if (startLine.deferred !== null) return startLine.deferred;

  const framingFailure = frame(msg, buf, length);
  if (framingFailure !== null) return framingFailure;
  if (msg.isRequest) {
    const t = msg.requestUriTable;
    if (!parseUri(buf, startLine.requestUriStart, startLine.requestUriEnd, t, 0, true)) return 'ERR_SIP_REQUEST_URI';
  }
  return parseNeededHeaders(msg, buf) ?? parseNumericHeaders(msg, buf) ?? parseContacts(msg, buf);
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

/** Index of the CR of the CRLF ending the line that starts at p, or -1 (bare LF, bare CR or no end). */
function lineEnd(buf: Buffer, p: number, end: number): number {
  for (; p < end; p++) {
    const c = buf[p];
    if (c === CR) return p + 1 < end && buf[p + 1] === LF ? p : -1;
    if (c === LF) return -1;
  }
  return -1;
}
