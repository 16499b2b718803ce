// The URI parser (RFC 3261 §19.1.1, §25.1; RFC 3966 for tel; RFC 5118 for IPv6): one URI's ranges into an
// Int32Array at a base, laid out by message.ts's U_* offsets. Used for the Request-URI and inside name-addr.
import {
  COLON, SEMI, AT, QUESTION, LBRACKET, RBRACKET, charClass, C_WS, C_HEX, C_HOST, C_SCHEME, equalsLower, lowerBytes,
  readUint, NUMBER_INVALID,
} from './scan.js';
import {
  Scheme, U_START, U_END, U_SCHEME, U_USER_S, U_USER_E, U_PASS_S, U_PASS_E, U_HOST_S, U_HOST_E, U_PORT, U_PARAMS_S,
  U_PARAMS_E, U_HEADERS_S, U_HEADERS_E, U_SIZE,
} from './message.js';

const L_SIP = lowerBytes('sip');
const L_SIPS = lowerBytes('sips');
const L_TEL = lowerBytes('tel');

/**
 * Parses the URI in buf[s, e) into t at base b. `headersAllowed` is false for an addr-spec outside
 * `<>`, where RFC 3261 §20 forbids '?', ',' and ';' in the URI itself.
 */
export function parseUri(buf: Buffer, s: number, e: number, t: Int32Array, b: number, headersAllowed: boolean): boolean {
  t.fill(-1, b, b + U_SIZE);
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
