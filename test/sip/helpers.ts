// Shared table helpers for the sip/ tests [esbuild expectPrinted]: a message is written as lines joined
// with CRLF, and what the parser saw is flattened into one record so each row can name only the fields
// it is about.
import { SipMessage, parse, parseListenAddress, type ListenAddress, type ParseFailure } from '../../src/sip/index.js';

/** The assertions the helpers use; both the root `t` and subtests satisfy it. */
export interface T {
  equal(found: unknown, wanted: unknown, message: string): boolean;
  strictSame(found: unknown, wanted: unknown, message: string): boolean;
  ok(found: unknown, message: string): boolean;
}

/** Joins lines with CRLF and ends the header section (an empty line), then appends the body. */
export function sip(lines: readonly string[], body = ''): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body, 'utf8');
}

/** A typical digest REGISTER from a phone, as the registrar sees thousands of. */
export function register(over: { user?: string; branch?: string; callId?: string; cseq?: number; extra?: string[]; viaHost?: string; rport?: boolean } = {}): Buffer {
  const user = over.user ?? '1001';
  return sip([
    'REGISTER sip:sipreg.example SIP/2.0',
    `Via: SIP/2.0/UDP ${over.viaHost ?? '192.168.1.20'}:5060;branch=${over.branch ?? 'z9hG4bK-524287-1---e3d8a1f5'}${over.rport === false ? '' : ';rport'}`,
    'Max-Forwards: 70',
    `Contact: <sip:${user}@192.168.1.20:5060;rinstance=4f6a1f7e;transport=UDP>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000b82a1c2d3>";reg-id=1`,
    `To: <sip:${user}@sipreg.example>`,
    `From: "Phone ${user}" <sip:${user}@sipreg.example>;tag=8c0a54d1`,
    `Call-ID: ${over.callId ?? 'NjZlYzQ2ZDY1ZTk5ZmM3Zjg0MzI1'}`,
    `CSeq: ${over.cseq ?? 2} REGISTER`,
    'Expires: 3600',
    'Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE',
    'Supported: replaces, outbound, path',
    'User-Agent: Grandstream GXP1625 1.0.11.23',
    `Authorization: Digest username="${user}",realm="sipreg",nonce="6f1c2a0b5d3e4f60",uri="sip:sipreg.example",response="0d4b1d1e2a6f6c2e9b1a3c5d7e9f0a1b",algorithm=MD5,cnonce="a1b2c3d4",qop=auth,nc=00000001`,
    ...(over.extra ?? []),
    'Content-Length: 0',
  ]);
}

export interface ContactSummary {
  star: boolean; uri: string; user: string; host: string; port: number; name: string; expires: number;
  q: number; instance: string; regId: number; raw: string; params: string; uriParams: string;
}

/** Everything the accessors say about a parsed message, as plain values. */
export function summary(m: SipMessage): Record<string, unknown> {
  const contacts: ContactSummary[] = [];
  for (let i = 0; i < m.contactCount; i++) {
    const c = m.contact(i);
    contacts.push({
      star: c.star, uri: c.uri.raw(), user: c.uri.user(), host: c.uri.host(), port: c.uri.port, name: c.displayName(),
      expires: c.expires, q: c.q, instance: c.instance(), regId: c.regId, raw: c.raw(), params: c.params(),
      uriParams: c.uri.params(),
    });
  }
  return {
    isRequest: m.isRequest, method: m.methodText(), methodId: m.method, status: m.statusCode, reason: m.reason(),
    uri: m.isRequest ? m.requestUri.raw() : '', uriScheme: m.requestUri.scheme, uriUser: m.requestUri.user(),
    uriPassword: m.requestUri.password(), uriHost: m.requestUri.host(), uriPort: m.requestUri.port,
    uriParams: m.requestUri.params(), uriHeaders: m.requestUri.headers(),
    viaTransport: m.via.transport(), viaHost: m.via.host(), viaPort: m.via.port, branch: m.via.branch(),
    rfc3261: m.via.isRfc3261Branch, hasRport: m.via.hasRport, rport: m.via.rport, received: m.via.received(),
    topVia: m.via.raw(),
    fromUser: m.from.uri.user(), fromHost: m.from.uri.host(), fromTag: m.from.tag(), fromName: m.from.displayName(),
    fromUri: m.from.uri.raw(),
    toUser: m.to.uri.user(), toHost: m.to.uri.host(), toTag: m.to.tag(), toName: m.to.displayName(), toUri: m.to.uri.raw(),
    toScheme: m.to.uri.scheme,
    callId: m.callId(), cseq: m.cseq, cseqMethod: m.cseqMethodText(), cseqMethodId: m.cseqMethod,
    maxForwards: m.maxForwards, expires: m.expires, minExpires: m.minExpires, retryAfter: m.retryAfterS,
    contentLength: m.contentLength, body: m.body().toString('latin1'), contactStar: m.contactStar,
    contactCount: m.contactCount, contacts,
    userAgent: m.userAgent(), server: m.server(), date: m.date(), headerCount: m.headerCount,
  };
}

const shared = new SipMessage();

/** Parses and asserts success plus every field named in `expected` (deep-equal per field). */
export function expectParsed(t: T, input: Buffer | string, expected: Record<string, unknown>, msg: SipMessage = shared): SipMessage {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const failure = parse(msg, buf);
  t.equal(failure, null, `parses: ${JSON.stringify(buf.toString('latin1').slice(0, 60))}`);
  if (failure !== null) return msg;
  const got = summary(msg);
  const picked: Record<string, unknown> = {};
  for (const k of Object.keys(expected)) picked[k] = got[k];
  t.strictSame(picked, expected, `fields of ${JSON.stringify(buf.toString('latin1').slice(0, 60))}`);
  return msg;
}

/** Parses and asserts the failure code (and, when given, whether a 400 can still be routed). */
export function expectFailure(t: T, input: Buffer | string, code: ParseFailure, canRespond?: boolean): void {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const failure = parse(shared, buf);
  t.equal(failure, code, `${code}: ${JSON.stringify(buf.toString('latin1').slice(0, 70))}`);
  if (canRespond !== undefined) t.equal(shared.canRespond(), canRespond, `canRespond after ${code}`);
}

/** Listen addresses for a test transport; port 0 lets the system pick a free one. Throws on a bad text. */
export function listenAt(...texts: readonly string[]): ListenAddress[] {
  return texts.map((text) => {
    const parsed = parseListenAddress(text, 0);
    if (typeof parsed === 'string') throw new Error(`not a listen address (${parsed}): ${text}`);
    return parsed;
  });
}
