// The top Via (RFC 3261 §20.42, RFC 3581 rport, RFC 5118 §4.5): sent-by, transport and the parameters a
// response is routed by, into the message's viaTable (message.ts's V_* offsets). Only the top Via is read:
// the others are copied into a response as they came.
import {
  COLON, SEMI, COMMA, LBRACKET, RBRACKET, SLASH, charClass, C_DIGIT, C_HOST, skipWs, skipToken, equalsLower,
  lowerBytes, readUint, NUMBER_INVALID,
} from './scan.js';
import {
  SipMessage, RPORT_ABSENT, RPORT_EMPTY, H_SIZE, H_VALUE_S, H_VALUE_E,
  V_HEADER, V_START, V_END, V_TRANSPORT_S, V_TRANSPORT_E, V_HOST_S, V_HOST_E, V_PORT, V_BRANCH_S, V_BRANCH_E,
  V_RPORT, V_RPORT_NAME_E, V_RECEIVED_S, V_RECEIVED_E, V_MADDR_S, V_MADDR_E,
} from './message.js';
import { param, parseParam } from './params.js';

const L_SIP = lowerBytes('sip');
const L_BRANCH = lowerBytes('branch');
const L_RPORT = lowerBytes('rport');
const L_RECEIVED = lowerBytes('received');
const L_MADDR = lowerBytes('maddr');

/** Parses the Via value at header `index` into msg.viaTable; false when it is not a via-parm. */
export function parseTopVia(msg: SipMessage, index: number): boolean {
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
  q = skipWs(buf, p, end);
  if (q < end && buf[q] === COLON) {
    p = skipWs(buf, q + 1, end);
    q = p;
    while (q < end && (charClass[buf[q]!]! & C_DIGIT) !== 0) q++;
    const port = readUint(buf, p, q, 65535, false);
    if (port === NUMBER_INVALID || port > 65535) return false;
    t[V_PORT] = port;
    p = q;
  }
  return parseViaParams(buf, p, end, t);
}

/**
 * The via-params after sent-by (p just after it) up to the end or the ',' before the next via-parm: branch,
 * rport, received and maddr into `t`; others are skipped. Sets V_END after the last one; false if malformed.
 */
function parseViaParams(buf: Buffer, p: number, end: number, t: Int32Array): boolean {
  for (;;) {
    const q = skipWs(buf, p, end);
    if (q >= end || buf[q] === COMMA) break;
    if (buf[q] !== SEMI) return false;
    p = parseParam(buf, q, end);
    if (p < 0) return false;
    const nameS = param.nameS, nameE = param.nameE, valS = param.valS, valE = param.valE;
    if (equalsLower(buf, nameS, nameE, L_BRANCH)) {
      if (valS < 0) return false;
      t[V_BRANCH_S] = valS; t[V_BRANCH_E] = valE;
    } else if (equalsLower(buf, nameS, nameE, L_RPORT)) {
      t[V_RPORT_NAME_E] = nameE;
      if (valS < 0 || valE === valS) {
        t[V_RPORT] = RPORT_EMPTY;
      } else {
        const v = readUint(buf, valS, valE, 65535, false);
        if (v === NUMBER_INVALID || v > 65535) return false;
        t[V_RPORT] = v;
      }
    } else if (equalsLower(buf, nameS, nameE, L_RECEIVED)) {
      if (valS < 0) return false;
      t[V_RECEIVED_S] = valS; t[V_RECEIVED_E] = valE;
    } else if (equalsLower(buf, nameS, nameE, L_MADDR)) {
      if (valS < 0) return false;
      t[V_MADDR_S] = valS; t[V_MADDR_E] = valE;
    }
  }
  t[V_END] = p; // the via-parm ends after its last parameter (or its sent-by), before any LWS
  return true;
}
