// Dispatch of one datagram (one dispatcher per service, its handler made once: no closure per message):
//   parse → empty (CRLF keepalive), unanswerable garbage: drop and count
//         → response: to the handler expect()ed for its top Via branch, else counted and dropped
//         → ACK: absorbed
//         → every other request, well-formed or not: the guard's checkSource, once (static ACL, the
//           source's token bucket, a suspended address, the global cap) BEFORE it costs anything or is
//           answered, so no method can be reflected at a spoofed victim beyond that victim's budget and
//           denied sources never reach the transaction cache. Refused: dropped and counted.
//         → malformed: 400 naming the problem · retransmission: the cached final response (Timer J)
//         → REGISTER: registrar · OPTIONS: 200 with Allow/Accept/Supported
//         → CANCEL: 481 (no INVITE transactions here, RFC 3261 §9.2) · anything else: 405 with Allow.
import type { RemoteInfo } from 'node:dgram';
import type { ServiceContext } from '../component.js';
import {
  Method, ResponseWriter, ServerTransactions, SipMessage, failureResponse, parse, responseTarget,
  type ResponseTarget, type SipTransport,
} from '../sip/index.js';
import { counters } from '../stats/counters.js';
import type { Guard, SourceVerdict } from '../registrar/guard-types.js';
import type { Registrar, RegisterVerdict } from '../registrar/registrar.js';

/** Methods we answer (RFC 3261 §20.5); ACK and CANCEL are handled by the transaction rules, not listed. */
export const ALLOW = 'REGISTER, OPTIONS';

export type ResponseHandler = (msg: SipMessage, rinfo: RemoteInfo, socketIndex: number) => void;

/**
 * What becomes of a well-formed request whose source the guard gave `verdict`: null when it is dropped,
 * else how the registrar answers a REGISTER. The global cap's 503 belongs to REGISTER (it is a
 * registration rate): other methods over it are dropped. A suspended address is dropped, or with
 * SS_REGISTER_LOCKOUT_DROP Off answered 403 whatever the method.
 */
function admission(verdict: SourceVerdict, register: boolean, lockoutSilentDrop: boolean): RegisterVerdict | null {
  switch (verdict) {
    case 'ok': return 'ok';
    case 'acl_denied':
    case 'rate_limited': return null;
    case 'overloaded': return register ? 'overloaded' : null;
    case 'address_locked': return lockoutSilentDrop ? null : 'address_locked';
  }
}

/** The datagram handler and what it answers with. The service sets `transport`, `guard` and `registrar`
 *  as it starts them; no datagram arrives before the transport and the guard are set. */
export class Dispatcher {
  transport: SipTransport | null = null;
  guard: Guard | null = null;
  registrar: Registrar | null = null;
  /** Response handlers by top Via branch (the endpoint's expect/release). */
  readonly expects = new Map<string, ResponseHandler>();
  private readonly msg = new SipMessage();
  private readonly writer = new ResponseWriter();
  private readonly target: ResponseTarget = { address: '', port: 0 };
  private serverLine = Buffer.alloc(0);
  private optionsLines = Buffer.alloc(0);
  private allowLine = Buffer.alloc(0);

  constructor(private readonly ctx: ServiceContext, readonly transactions: ServerTransactions) {}

  /** The header lines answers carry, from the config in force (start and reload). */
  encodeLines(): void {
    const ua = this.ctx.config().sip.userAgent;
    this.serverLine = Buffer.from(`Server: ${ua}\r\n`, 'utf8');
    this.allowLine = Buffer.from(`Allow: ${ALLOW}\r\nServer: ${ua}\r\n`, 'utf8');
    // RFC 3261 §11.2: an OPTIONS answer lists Allow, Accept and Supported. We take no bodies and support
    // no extension that a client could Require, so Supported is empty (its grammar allows that). Nothing
    // more: anyone can ask, so the answer stays lean (no Server line to fingerprint, less to reflect).
    this.optionsLines = Buffer.from(`Allow: ${ALLOW}\r\nAccept: application/sdp\r\nSupported: \r\n`, 'utf8');
  }

  /** The transport's one handler: parse, route a response, guard a request, answer it. */
  readonly onDatagram = (buf: Buffer, rinfo: RemoteInfo, socketIndex: number): void => {
    const msg = this.msg;
    const failure = parse(msg, buf);
    if (failure !== null) {
      if (failure === 'ERR_SIP_EMPTY') return; // CRLF keepalives (RFC 5626 §4.4.1)
      counters.parseFailures++;
      if (!msg.canRespond()) return;
    } else if (!msg.isRequest) {
      const handler = msg.via.hasBranch ? this.expects.get(msg.via.branch()) : undefined;
      if (handler !== undefined) handler(msg, rinfo, socketIndex);
      return;
    } else if (msg.method === Method.ACK) {
      return; // only our own non-2xx to an INVITE would need one: none exist
    }
    // A request we would answer: the ACL and its source's budget first, for every method.
    const nowMs = Date.now();
    const verdict = this.guard!.checkSource(rinfo.address, nowMs);
    if (failure !== null) {
      if (verdict !== 'ok') { this.dropped(false); return; }
      const f = failureResponse(failure);
      counters.badRequestsAnswered++;
      this.answer(rinfo, socketIndex, -1, f.status, f.reason, this.serverLine);
      return;
    }
    this.onRequest(rinfo, socketIndex, nowMs, verdict);
  };

  /** A well-formed request (not ACK) from a source the guard has judged. */
  private onRequest(rinfo: RemoteInfo, socketIndex: number, nowMs: number, verdict: SourceVerdict): void {
    const msg = this.msg;
    const register = msg.method === Method.REGISTER;
    const admitted = verdict === 'ok' ? 'ok' : admission(verdict, register, this.ctx.config().params.lockoutSilentDrop);
    if (admitted === null) { this.dropped(register); return; }
    let tx = -1;
    switch (this.transactions.receive(msg, rinfo, nowMs)) {
      case 'in-progress':
        counters.retransmissionsAbsorbed++;
        return;
      case 'completed':
        counters.retransmissionsAbsorbed++;
        this.resendCompleted(rinfo, socketIndex);
        return;
      case 'new':
        tx = this.transactions.handle;
        break;
      case 'uncacheable':
        break;
    }
    if (register) {
      if (this.registrar === null) { this.answer(rinfo, socketIndex, tx, 503, 'Service Unavailable', this.serverLine); return; }
      this.registrar.handle(msg, rinfo, socketIndex, tx, admitted);
      return;
    }
    if (admitted === 'address_locked') { this.answer(rinfo, socketIndex, tx, 403, 'Forbidden', this.serverLine); return; }
    switch (msg.method) {
      case Method.OPTIONS:
        this.answer(rinfo, socketIndex, tx, 200, 'OK', this.optionsLines);
        return;
      case Method.CANCEL:
        this.answer(rinfo, socketIndex, tx, 481, 'Call/Transaction Does Not Exist', this.serverLine);
        return;
      default:
        this.answer(rinfo, socketIndex, tx, 405, 'Method Not Allowed', this.allowLine);
    }
  }

  /** A retransmission of a request already answered: the cached final response again (Timer J). */
  private resendCompleted(rinfo: RemoteInfo, socketIndex: number): void {
    const t = this.transport!;
    const slot = t.acquire();
    if (slot === null) return; // counted by the transport
    const n = this.transactions.copyResponse(slot.buf);
    responseTarget(this.msg, rinfo, this.target);
    t.send(slot, n, this.target.port, this.target.address, socketIndex);
    counters.responsesSent++;
  }

  /** Writes a simple final answer with pre-encoded lines and sends it to the response target. */
  private answer(rinfo: RemoteInfo, socketIndex: number, tx: number, code: number, reason: string, lines: Buffer): void {
    const t = this.transport!;
    const transactions = this.transactions;
    const slot = t.acquire();
    if (slot === null) { if (tx >= 0) transactions.abandon(tx); return; } // counted by the transport
    const n = this.writer.begin(slot.buf, this.msg, code, reason, rinfo).raw(lines).finish();
    if (typeof n !== 'number') { t.releaseUnsent(slot); if (tx >= 0) transactions.abandon(tx); return; }
    if (tx >= 0) transactions.complete(tx, slot.buf, n, Date.now());
    responseTarget(this.msg, rinfo, this.target);
    t.send(slot, n, this.target.port, this.target.address, socketIndex);
    counters.responsesSent++;
  }

  /** A request refused by the guard: counted (a REGISTER also as received and dropped, as always). */
  private dropped(register: boolean): void {
    counters.requestsDropped++;
    if (register) { counters.registersReceived++; counters.registersDropped++; }
  }
}
