// The header scan (RFC 3261 §7.3): splits the header section into lines, unfolding continuations, and
// records each as (type, name start, value start, value end) in the message's header table. Values are not
// read here: eager-headers.ts reads the ones every message needs, the views the rest on demand.
import { limits } from '../limits.js';
import { CR, LF, SP, HT, COLON, skipToken, equalsLower, lowerBytes } from './scan.js';
import { SipMessage, Hdr, headerNames, H_SIZE, H_TYPE, H_NAME_S, H_VALUE_S, H_VALUE_E } from './message.js';
import type { HeaderType } from './message.js';
import type { ParseFailure } from './parse-failures.js';

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

/**
 * Header lines (§7.3) from `p` to the empty line: name, optional SP/HT, colon, value; a line starting
 * with SP/HT continues the previous one (folding, §7.3.1). Each is recorded as (type, nameStart,
 * valueStart, valueEnd). Sets msg.bodyStart past the empty line.
 */
export function scanHeaders(msg: SipMessage, buf: Buffer, p: number, length: number): ParseFailure | null {
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
