// The headers read on every message, after the scan (the rest are read on demand by message.ts's views):
// the mandatory ones (RFC 3261 §8.1.1) and their values, the numeric ones, and every Contact value.
import { limits } from '../limits.js';
import { COMMA, skipWs, skipToken, readUint, NUMBER_INVALID, equalsBytes, isWs } from './scan.js';
import { SipMessage, Hdr, H_SIZE, H_VALUE_S, H_VALUE_E, N_STAR, N_SIZE } from './message.js';
import { methodOf } from './start-line.js';
import { parseNameAddr } from './name-addr.js';
import type { ParseFailure } from './parse-failures.js';

const UINT32_MAX = 0xffffffff;

/** Mandatory headers (§8.1.1), the single-valued ones that must not repeat (RFC 4475 §3.3.8), and their values. */
export function parseNeededHeaders(msg: SipMessage, buf: Buffer): ParseFailure | null {
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

  const cseqFailure = parseCSeq(msg, buf, first[Hdr.CSeq]!);
  if (cseqFailure !== null) return cseqFailure;

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

/**
 * CSeq = 1*DIGIT LWS Method (§20.16) at header i; the number is 32-bit (RFC 4475 §3.1.2.4), the method must
 * be the request's own (§8.2... RFC 4475 §3.1.2.17).
 */
function parseCSeq(msg: SipMessage, buf: Buffer, i: number): ParseFailure | null {
  const headers = msg.headers;
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
  return null;
}

/** Max-Forwards, Expires, Min-Expires, Retry-After: absent reads as -1. */
export function parseNumericHeaders(msg: SipMessage, buf: Buffer): ParseFailure | null {
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
export function parseContacts(msg: SipMessage, buf: Buffer): ParseFailure | null {
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
