// The start line (RFC 3261 §7.1 Request-Line, §7.2 Status-Line) into the message's method, status and
// reason fields. The Request-URI's range is left in `startLine` for parse to read once framing is known.
import { SP, HT, skipToken, equalsLower, equalsBytes, lowerBytes, readUint } from './scan.js';
import { SipMessage, Method, methodNames } from './message.js';
import type { MethodId } from './message.js';
import type { ParseFailure } from './parse-failures.js';

const L_SIP_VERSION = lowerBytes('sip/2.0');
const L_SIP_SLASH = lowerBytes('sip/');

/**
 * What the start line leaves for the steps after it (parse is synchronous: one object made at load, no
 * allocation per message): an answerable problem to report once the Via parsed, and the Request-URI's range.
 */
export const startLine = { deferred: null as ParseFailure | null, requestUriStart: 0, requestUriEnd: 0 };

const methodBytes: Buffer[] = methodNames.map((m) => Buffer.from(m, 'latin1'));
/** Method names are case-sensitive (RFC 3261 §7.1): compared byte for byte. */
export function methodOf(buf: Buffer, start: number, end: number): MethodId {
  for (let m = 1; m < methodBytes.length; m++) {
    const b = methodBytes[m]!;
    if (b.length === end - start && b[0] === buf[start] && equalsBytes(buf, start, end, b, 0, b.length)) {
      return m as MethodId;
    }
  }
  return Method.Other;
}

/** The line at buf[p, startEnd) (startEnd at its CR): a Status-Line when it starts with `SIP/`, else a Request-Line. */
export function parseStartLine(msg: SipMessage, buf: Buffer, p: number, startEnd: number): ParseFailure | null {
  startLine.deferred = null;
  return startEnd - p >= 4 && equalsLower(buf, p, p + 4, L_SIP_SLASH)
    ? parseStatusLine(msg, buf, p, startEnd)
    : parseRequestLine(msg, buf, p, startEnd);
}

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
    startLine.deferred = 'ERR_SIP_VERSION'; // RFC 4475 §3.1.2.16: answer 505
  }
  startLine.requestUriStart = uriS;
  startLine.requestUriEnd = uriE;
  return null;
}
