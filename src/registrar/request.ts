// The REGISTER on its way through the registrar, in two reused views:
//   RegisterRequest  what every step is handed: the parsed message, where it came from, the socket it
//                    came in on and its server transaction, then its number and clock. One object per
//                    registrar, filled for each request (no object per REGISTER).
//   AskBuilder       the request as the bindings policy reads it (policy.ts RegisterAsk): every string
//                    the policy needs copied as bytes into one reused buffer.
import { isUtf8 } from 'node:buffer';
import type { Account } from '../config/types.js';
import { Hdr, Scheme, type SipMessage, type SipTransport } from '../sip/index.js';
import { ByteText, formatAddress } from '../store/index.js';
import * as codec from '../store/binding-codec.js';
import { ByteChars } from '../net/index.js';
import { looksNatted } from './addr.js';
import { RegisterAsk } from './policy.js';

const { Str } = codec;

/**
 * One REGISTER being handled. Valid until the call that handles it returns: what waits longer (a reply
 * held for its commit, a request deferred behind its number's lock) copies what it needs.
 */
export class RegisterRequest {
  msg: SipMessage;
  /** The datagram's source address and port. */
  readonly source = { address: '', port: 0 };
  /** The socket it came in on: the answer leaves from the same one. */
  socketIndex = 0;
  /** Its server transaction (ServerTransactions.handle), or -1 when uncacheable. */
  tx = -1;
  /** The AOR's user (the To URI's), once the checks have read it; '' before. */
  number = '';
  /** The registrar's clock when it was taken up. */
  nowMs = 0;
  /** performance.now() when it was taken up (processing time). */
  startedAtMs = 0;

  constructor(msg: SipMessage) { this.msg = msg; }

  fill(msg: SipMessage, address: string, port: number, socketIndex: number, tx: number, nowMs: number, startedAtMs: number): this {
    this.msg = msg;
    this.source.address = address;
    this.source.port = port;
    this.socketIndex = socketIndex;
    this.tx = tx;
    this.number = '';
    this.nowMs = nowMs;
    this.startedAtMs = startedAtMs;
    return this;
  }
}

/** Fills the one RegisterAsk from a request. */
export class AskBuilder {
  private readonly ask = new RegisterAsk();
  private readonly askText = new ByteText();
  private readonly hostChars = new ByteChars();
  /** "address:port" of each local socket, made on first use. */
  private readonly localTexts: string[] = [];

  constructor(private readonly transport: Pick<SipTransport, 'localAddress'>) {}

  /**
   * The request as the policy sees it: the Contact URIs and keys, the AOR, source, local address,
   * User-Agent, account and Call-ID as ranges of one reused buffer. `random` is the request's jitter
   * draw, `horizonMs` how long a refresh may be answered from memory (write-back.ts horizonFor).
   */
  build(req: RegisterRequest, account: Account, random: number, horizonMs: number): RegisterAsk {
    const ask = this.ask;
    const t = this.askText.at(0);
    const msg = req.msg;
    const src = msg.buf;
    const { address, port } = req.source;
    const contactCount = this.contacts(ask, t, msg, address, port);
    let p = t.p;
    if (contactCount > 0) {
      // The AOR as registered: the To URI without parameters (scheme, user, host, port).
      const u = msg.to.uri;
      t.text(u.scheme === Scheme.Sips ? 'sips:' : 'sip:').bytes(src, u.userStart, u.userEnd - u.userStart).text('@')
        .bytes(src, u.hostStart, u.hostEnd - u.hostStart);
      if (u.port >= 0) t.text(':').int(u.port);
    }
    mark(ask, Str.aor, p, t.p);
    p = t.p;
    if (address.includes(':')) t.text('[').text(address).text(']:').int(port);
    else t.text(address).text(':').int(port);
    mark(ask, Str.source, p, t.p);
    p = t.p;
    t.text(address);
    mark(ask, Str.sourceAddress, p, t.p);
    p = t.p;
    t.text(this.localText(req.socketIndex));
    mark(ask, Str.localAddress, p, t.p);
    p = t.p;
    const ua = msg.firstHeader[Hdr.UserAgent]!;
    if (ua >= 0) t.bytes(src, msg.valueStart(ua), msg.valueEnd(ua) - msg.valueStart(ua));
    mark(ask, Str.userAgent, p, t.p);
    p = t.p;
    t.text(account.account);
    mark(ask, Str.account, p, t.p);
    p = t.p;
    t.bytes(src, msg.callIdStart, msg.callIdEnd - msg.callIdStart);
    mark(ask, Str.callId, p, t.p);
    ask.buf = t.buf;
    ask.number = req.number;
    ask.cseq = msg.cseq;
    ask.star = msg.contactStar;
    ask.expiresHeaderS = msg.expires;
    ask.contactCount = contactCount;
    ask.sourcePort = port;
    ask.account = account;
    ask.nowMs = req.nowMs;
    ask.random = random;
    ask.horizonMs = horizonMs;
    return ask;
  }

  /** The contacts (all but `*`) into ask.contacts from askText's start; returns how many. */
  private contacts(ask: RegisterAsk, t: ByteText, msg: SipMessage, address: string, port: number): number {
    const via = msg.via;
    const viaNat = looksNatted(this.hostChars.of(msg.buf, via.hostStart, via.hostEnd), via.port, address, port);
    const src = msg.buf;
    let contactCount = 0;
    for (let i = 0; i < msg.contactCount; i++) {
      const c = msg.contact(i);
      if (c.star) continue;
      const ca = ask.contacts[contactCount]!;
      const uriStart = t.p;
      copyText(t, src, c.uri.start, c.uri.end);
      ca.start[Str.contact] = uriStart;
      ca.length[Str.contact] = t.p - uriStart;
      ca.hasInstance = c.hasInstance;
      const instanceStart = t.p;
      if (c.hasInstance) {
        // The value without its quotes; a quoted one with escapes goes through the unescaping accessor.
        const quoted = c.instanceEnd - c.instanceStart >= 2 && src[c.instanceStart] === DQUOTE;
        const s = quoted ? c.instanceStart + 1 : c.instanceStart;
        const e = quoted ? c.instanceEnd - 1 : c.instanceEnd;
        if (quoted && hasByte(src, s, e, BACKSLASH)) t.text(c.instance());
        else copyText(t, src, s, e);
      }
      ca.start[Str.instance] = instanceStart;
      ca.length[Str.instance] = t.p - instanceStart;
      if (c.hasInstance) {
        // The binding's identity: the instance (with its reg-id, RFC 5626 §6) rather than the URI.
        const keyStart = t.p;
        t.bytes(t.buf, instanceStart, ca.length[Str.instance]!);
        if (c.regId >= 0) t.text(';reg-id=').int(c.regId);
        ca.start[Str.key] = keyStart;
        ca.length[Str.key] = t.p - keyStart;
      } else {
        ca.start[Str.key] = uriStart;
        ca.length[Str.key] = ca.length[Str.contact]!;
      }
      ca.expiresParamS = c.expires;
      ca.qPermille = c.q;
      ca.nat = viaNat || looksNatted(this.hostChars.of(src, c.uri.hostStart, c.uri.hostEnd), c.uri.port, address, port);
      contactCount++;
    }
    return contactCount;
  }

  private localText(socketIndex: number): string {
    let t = this.localTexts[socketIndex];
    if (t === undefined) {
      const a = this.transport.localAddress(socketIndex);
      t = formatAddress(a.address, a.port);
      this.localTexts[socketIndex] = t;
    }
    return t;
  }
}

const DQUOTE = 0x22;
export const BACKSLASH = 0x5c;

export function hasByte(buf: Buffer, start: number, end: number, byte: number): boolean {
  for (let p = start; p < end; p++) if (buf[p] === byte) return true;
  return false;
}

/**
 * src[start, end) into t: as bytes when it is valid UTF-8 (ASCII always is), otherwise as the text a
 * decoder makes of it. Contact keys are compared as bytes and looked up by their decoded text (the
 * console, `sipreg unregister`, the keepalive), so both must name the same bytes.
 */
function copyText(t: ByteText, src: Buffer, start: number, end: number): void {
  if (!hasHighByte(src, start, end) || isUtf8(src.subarray(start, end))) t.bytes(src, start, end - start);
  else t.text(src.toString('utf8', start, end));
}

function hasHighByte(buf: Buffer, start: number, end: number): boolean {
  for (let p = start; p < end; p++) if (buf[p]! >= 0x80) return true;
  return false;
}

/** Field f of the ask is askText[start, end). */
function mark(ask: RegisterAsk, f: number, start: number, end: number): void {
  ask.start[f] = start;
  ask.length[f] = end - start;
}
