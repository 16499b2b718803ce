// name-addr and addr-spec with their header parameters (RFC 3261 §20.10 Contact, §20.20 From, §20.39 To):
// one element's ranges into an Int32Array at a base, laid out by message.ts's N_* offsets, the URI at N_URI.
import {
  SEMI, COMMA, DQUOTE, LAQUOT, RAQUOT, charClass, C_WS, skipWs, skipQuoted, trimEnd, equalsLower, lowerBytes,
  readUint, NUMBER_INVALID,
} from './scan.js';
import {
  N_START, N_END, N_DISPLAY_S, N_DISPLAY_E, N_DISPLAY_QUOTED, N_STAR, N_PARAMS_S, N_PARAMS_E, N_TAG_S, N_TAG_E,
  N_EXPIRES, N_Q, N_INSTANCE_S, N_INSTANCE_E, N_REGID, N_URI, N_SIZE,
} from './message.js';
import { parseUri } from './uri.js';
import { param, parseParam } from './params.js';

const UINT32_MAX = 0xffffffff;
const L_TAG = lowerBytes('tag');
const L_EXPIRES = lowerBytes('expires');
const L_Q = lowerBytes('q');
const L_INSTANCE = lowerBytes('+sip.instance');
const L_REGID = lowerBytes('reg-id');

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

/**
 * Parses one name-addr or addr-spec with its header parameters from buf[p, end) into t at base b.
 * For a Contact, stops at a top-level ',' (commas inside quotes and <> do not count). Returns the
 * position after the element, or -1.
 */
export function parseNameAddr(buf: Buffer, p: number, end: number, t: Int32Array, b: number, isContact: boolean): number {
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
  return parseHeaderParams(buf, p, end, t, b, isContact);
}

/**
 * The header parameters after the URI of a name-addr or addr-spec (p just after it): each into `t` at base
 * b where the registrar reads it (tag; for a Contact expires, q, +sip.instance, reg-id), the rest kept as the
 * N_PARAMS range. Sets N_END and returns the position after the element (past LWS), or -1.
 */
function parseHeaderParams(buf: Buffer, p: number, end: number, t: Int32Array, b: number, isContact: boolean): number {
  for (;;) {
    const q = skipWs(buf, p, end);
    if (q >= end) break;
    const c = buf[q]!;
    if (isContact && c === COMMA) break;
    if (c !== SEMI) return -1;
    if (t[b + N_PARAMS_S]! < 0) t[b + N_PARAMS_S] = q;
    p = parseParam(buf, q, end);
    if (p < 0) return -1;
    t[b + N_PARAMS_E] = p;
    const nameS = param.nameS, nameE = param.nameE, valS = param.valS, valE = param.valE;
    if (equalsLower(buf, nameS, nameE, L_TAG)) {
      if (valS < 0) return -1;
      t[b + N_TAG_S] = valS; t[b + N_TAG_E] = valE;
    } else if (isContact && equalsLower(buf, nameS, nameE, L_EXPIRES)) {
      // RFC 3261 §20.10: delta-seconds; values above 2**32-1 are read as 2**32-1 (RFC 4475 §3.1.2.4).
      const v = readUint(buf, valS, valE, UINT32_MAX, true);
      if (v === NUMBER_INVALID) return -1;
      t[b + N_EXPIRES] = v > 0x7fffffff ? 0x7fffffff : v; // the table is int32: 68 years is forever here
    } else if (isContact && equalsLower(buf, nameS, nameE, L_Q)) {
      const q1000 = readQ(buf, valS, valE);
      if (q1000 < 0) return -1;
      t[b + N_Q] = q1000;
    } else if (isContact && equalsLower(buf, nameS, nameE, L_INSTANCE)) {
      if (valS < 0) return -1;
      t[b + N_INSTANCE_S] = valS; t[b + N_INSTANCE_E] = valE;
    } else if (isContact && equalsLower(buf, nameS, nameE, L_REGID)) {
      const v = readUint(buf, valS, valE, 0x7fffffff, false);
      if (v === NUMBER_INVALID || v > 0x7fffffff) return -1;
      t[b + N_REGID] = v;
    }
  }
  t[b + N_END] = p; // the element ends after its last parameter (or its URI), before any LWS
  return skipWs(buf, p, end);
}
