// Header parameters (RFC 3261 §25.1 generic-param: `;name[=value]`), shared by name-addr and Via. The
// parameter just read is left in `param`, one object made at load, so the callers test its name without
// a per-call result object.
import { SEMI, COMMA, EQUAL, DQUOTE, LAQUOT, RAQUOT, charClass, C_WS, skipWs, skipToken, skipQuoted } from './scan.js';

/** The parameter parseParam read last: its name, and its value (-1, -1 when it has none). */
export const param = { nameS: 0, nameE: 0, valS: -1, valE: -1 };

/** End of an unquoted gen-value: token, host or IPv6 characters (liberally, anything but separators). */
function skipParamValue(buf: Buffer, p: number, end: number): number {
  while (p < end) {
    const c = buf[p]!;
    if (c === SEMI || c === COMMA || c === DQUOTE || c === LAQUOT || c === RAQUOT || (charClass[c]! & C_WS) !== 0) break;
    p++;
  }
  return p;
}

/**
 * Parses one `;name[=value]` at p (p at ';', after optional LWS). Returns the position after it, or -1.
 * Sets `param` (value -1 when the parameter has none).
 */
export function parseParam(buf: Buffer, p: number, end: number): number {
  const nameS = skipWs(buf, p + 1, end);
  const nameE = skipToken(buf, nameS, end);
  param.nameS = nameS; param.nameE = nameE;
  param.valS = -1; param.valE = -1;
  if (nameE === nameS) return -1; // RFC 4475 §3.1.2.1: empty parameters are invalid
  p = skipWs(buf, nameE, end);
  if (p >= end || buf[p] !== EQUAL) return nameE; // no value: the parameter ends with its name
  p = skipWs(buf, p + 1, end);
  if (p < end && buf[p] === DQUOTE) {
    const q = skipQuoted(buf, p, end);
    if (q < 0) return -1;
    param.valS = p; param.valE = q + 1;
    return q + 1;
  }
  const valE = skipParamValue(buf, p, end);
  param.valS = p; param.valE = valE;
  return valE;
}
