// The answers of the REGISTER path. Each is written into a response slot of the transport, completes the
// request's server transaction (so a retransmission gets it again) and is sent where the top Via says
// (RFC 3261 §18.2.2, RFC 3581). A request that cannot be answered (no slot free, an answer that would
// not fit) abandons its transaction instead, and the phone retransmits.
//
// A change waits for its commit, but its answers are written while the parsed request is at hand
// (hold): the 200 OK into the lower half of a slot (limits.registerOkSizeMax), the 500 that replaces it
// if the commit fails into the upper half. The slot is sent when the commit settles (sendHeld), so
// nothing of the request is kept or re-parsed.
//
// Refusals also leave a history row (rejected, auth_failed), at most rejectEventsPerSecondMax a second.
import { assert } from '../assert.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import {
  ResponseWriter, formatChallenge, responseTarget,
  type DigestAlgorithmId, type ResponseSlot, type ResponseTarget, type ServerTransactions, type SipTransport,
} from '../sip/index.js';
import { appendEvent, formatAddress, type EventRecord, type EventType, type Store } from '../store/index.js';
import * as codec from '../store/binding-codec.js';
import { counters } from '../stats/counters.js';
import { limits, registrarLimits } from '../limits.js';
import type { Apply, Reject } from './policy.js';
import type { RegisterRequest } from './request.js';

const { Str } = codec;

/** The answers the registrar gives itself, with their reason phrases; the bindings policy's are policy.ts PolicyReject. */
export const Responses = {
  unauthorized: [401, 'Unauthorized'],
  forbidden: [403, 'Forbidden'],                        // a suspended source; after the digest: a wrong password, an unknown number, a source not allowed, a held or suspended number
  badAor: [400, 'Bad Request - AOR Must Be a sip: URI With a User'],
  domain: [404, 'Domain Not Served'],                   // sip.domains set and not matched
  badExtension: [420, 'Bad Extension'],                 // Require with an option we do not support
  storeFailed: [500, 'Server Internal Error - Store Write Failed'],
  tooLarge: [500, 'Server Internal Error - Response Too Large'],
  overloaded: [503, 'Service Unavailable'],
} as const;

/** Half of a response slot: a held 200 is written into the lower half, its 500 fallback into the upper. */
const SLOT_HALF = limits.registerOkSizeMax;

/** Where a held answer goes and how long each of its versions is (hold fills it, sendHeld sends it). */
export interface HeldAnswer {
  slot: ResponseSlot | null;
  okLength: number;
  failLength: number;
  port: number;
  address: string;
  socketIndex: number;
  tx: number;
}

export interface ResponderDeps {
  readonly store: Store;
  readonly log: Logger;
  readonly transport: SipTransport;
  readonly transactions: ServerTransactions;
  readonly random: () => number;
  readonly now: () => number;
}

export class Responder {
  private readonly store: Store;
  private readonly log: Logger;
  private readonly transport: SipTransport;
  private readonly transactions: ServerTransactions;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly writer = new ResponseWriter();
  private readonly target: ResponseTarget = { address: '', port: 0 };
  private serverLine: Buffer = Buffer.alloc(0);
  private retryAfterBaseS = 0;
  private lockoutSilentDrop = true;
  /** The upper half of each slot, made once per slot. */
  private readonly upperHalves: (Buffer | undefined)[] = [];
  private dateSecond = -1;
  private dateText = '';
  private eventSecond = -1;
  private eventsThisSecond = 0;
  /** One event object, filled per row: appendEvent encodes it during the call. */
  private readonly eventScratch: EventRecord = { atMs: 0, type: 'registered', number: '', source: '', userAgent: '', detail: '' };
  private readonly onEventFailed = (err: unknown): void => {
    counters.storeWriteFailures++;
    if (this.log.isLevelEnabled('debug')) this.log.debug({ err: String(err) }, 'event write failed');
  };

  constructor(deps: ResponderDeps) {
    this.store = deps.store;
    this.log = deps.log;
    this.transport = deps.transport;
    this.transactions = deps.transactions;
    this.random = deps.random;
    this.now = deps.now;
  }

  reload(config: Config): void {
    this.serverLine = Buffer.from(`Server: ${config.sip.userAgent}\r\n`, 'utf8');
    this.retryAfterBaseS = config.params.overloadRetryAfterS;
    this.lockoutSilentDrop = config.params.lockoutSilentDrop;
  }

  /**
   * Whether a response slot is free. Every answer needs one: with none, the request is dropped before
   * any work (in particular before its nonce-count is spent, so the phone's retransmission still succeeds).
   */
  slotFree(req: RegisterRequest): boolean {
    if (this.transport.freeSlotCount > 0) return true;
    this.transport.counters.sendDropsNoSlot++;
    counters.registersDropped++;
    this.abandon(req.tx);
    return false;
  }

  /** 401 with one WWW-Authenticate per offered algorithm, for `nonce` (qop=auth). */
  challenge(req: RegisterRequest, realm: string, nonce: string, algorithms: readonly DigestAlgorithmId[], stale: boolean): void {
    const slot = this.transport.acquire();
    if (slot === null) { this.abandon(req.tx); return; }
    const w = this.writer.begin(slot.buf, req.msg, Responses.unauthorized[0], Responses.unauthorized[1], req.source);
    for (const algorithm of algorithms) {
      w.header('WWW-Authenticate', formatChallenge({ realm, nonce, algorithm, qopAuth: true, stale }));
    }
    const n = w.raw(this.serverLine).finish();
    counters.challengesSent++;
    this.send(slot, n, req);
  }

  /** 503 with a spread Retry-After: over the global cap, too many waiting, or stopped. */
  overloaded(req: RegisterRequest): void {
    counters.overloadAnswered++;
    this.reply(req, Responses.overloaded[0], Responses.overloaded[1], 'Retry-After', this.retryAfterS());
  }

  /** A suspended source or pair: dropped, or 403 at once with SS_REGISTER_LOCKOUT_DROP Off. */
  suspended(req: RegisterRequest): void {
    if (this.lockoutSilentDrop) { counters.registersDropped++; this.abandon(req.tx); return; }
    this.reply(req, Responses.forbidden[0], Responses.forbidden[1], null, null);
    counters.registersRejected++;
  }

  /** A refusal: answered (with one extra header when given) and recorded as a `rejected` row. */
  reject(req: RegisterRequest, code: number, reason: string, detail: string, header: string | null = null, value: string | null = null): void {
    counters.registersRejected++;
    this.reply(req, code, reason, header, value);
    this.event(req, 'rejected', detail);
  }

  /** The bindings policy's refusal (423 carries Min-Expires). */
  policyReject(req: RegisterRequest, d: Reject): void {
    if (d.minExpiresS >= 0) this.reject(req, d.code, d.reason, d.detail, 'Min-Expires', String(d.minExpiresS));
    else this.reject(req, d.code, d.reason, d.detail);
  }

  /** 403 after the digest, the answer of a wrong password whatever the rule; `detail` goes in its row. */
  forbidden(req: RegisterRequest, type: EventType, detail: string): void {
    this.reply(req, Responses.forbidden[0], Responses.forbidden[1], null, null);
    counters.registersRejected++;
    this.event(req, type, detail);
  }

  /** The store could not be read: 500 with Retry-After. */
  storeFailure(req: RegisterRequest, err: unknown): void {
    counters.storeWriteFailures++;
    counters.registersRejected++;
    this.log.error({ err: err instanceof Error ? err.message : String(err), number: req.number }, 'store access failed: answering 500');
    this.reply(req, Responses.storeFailed[0], Responses.storeFailed[1], 'Retry-After', this.retryAfterS());
  }

  /**
   * 200 OK listing the bindings after `d` (records in d.buf, or in `stored` for those it keeps), sent
   * now. False when nothing was: no slot free (the transaction abandoned), or it would not fit (500).
   */
  okNow(req: RegisterRequest, d: Apply, stored: Buffer): boolean {
    const slot = this.transport.acquire();
    if (slot === null) { this.abandon(req.tx); return false; }
    const n = this.writeOk(slot.buf, SLOT_HALF * 2, req, d, stored);
    if (typeof n !== 'number') {
      this.transport.releaseUnsent(slot);
      this.tooLarge(req);
      return false;
    }
    this.send(slot, n, req);
    return true;
  }

  /**
   * A change's answers written into a slot held until its commit settles: the 200 OK (as okNow) and the
   * 500 for a failed commit. False when nothing is held: no slot free (the transaction abandoned, so
   * nothing is changed and the phone retransmits), or the 200 would not fit (answered 500 now).
   */
  hold(req: RegisterRequest, d: Apply, stored: Buffer, held: HeldAnswer): boolean {
    const slot = this.transport.acquire();
    if (slot === null) { this.abandon(req.tx); return false; }
    const okLength = this.writeOk(slot.buf, SLOT_HALF, req, d, stored);
    const failLength = this.writeSimple(this.upperHalf(slot), req, Responses.storeFailed[0], Responses.storeFailed[1],
      'Retry-After', this.retryAfterS());
    if (typeof okLength !== 'number' || typeof failLength !== 'number') {
      this.transport.releaseUnsent(slot);
      this.tooLarge(req);
      return false;
    }
    responseTarget(req.msg, req.source, this.target);
    held.slot = slot;
    held.okLength = okLength;
    held.failLength = failLength;
    held.port = this.target.port;
    held.address = this.target.address;
    held.socketIndex = req.socketIndex;
    held.tx = req.tx;
    return true;
  }

  /** Sends a held answer once its commit settled: the 200, or the 500 when `ok` is false. */
  sendHeld(held: HeldAnswer, ok: boolean, nowMs: number): void {
    const slot = held.slot!;
    let n = held.okLength;
    if (!ok) {
      slot.buf.copy(slot.buf, 0, SLOT_HALF, SLOT_HALF + held.failLength);
      n = held.failLength;
    }
    if (held.tx >= 0) this.transactions.complete(held.tx, slot.buf, n, nowMs);
    this.transport.send(slot, n, held.port, held.address, held.socketIndex);
    counters.responsesSent++;
    held.slot = null;
  }

  /** No answer: the transaction (when cached) is dropped, so a retransmission is handled afresh. */
  abandon(tx: number): void {
    if (tx >= 0) this.transactions.abandon(tx);
  }

  /** SS_OVERLOAD_RETRY_AFTER spread randomly up to twice its value, so refused phones come back apart. */
  private retryAfterS(): number {
    const base = this.retryAfterBaseS;
    return base + Math.floor(this.random() * base);
  }

  private tooLarge(req: RegisterRequest): void {
    this.reject(req, Responses.tooLarge[0], Responses.tooLarge[1], '500: the 200 OK would not fit a datagram');
  }

  /** A final answer without a body of its own (one optional extra header), sent now. */
  private reply(req: RegisterRequest, code: number, reason: string, header: string | null, value: string | number | null): void {
    const slot = this.transport.acquire();
    if (slot === null) { this.abandon(req.tx); return; }
    const n = this.writeSimple(slot.buf, req, code, reason, header, value);
    this.send(slot, n, req);
  }

  private writeSimple(buf: Buffer, req: RegisterRequest, code: number, reason: string,
    header: string | null, value: string | number | null): number | 'ERR_SIP_WRITE_OVERFLOW' {
    const w = this.writer.begin(buf, req.msg, code, reason, req.source, Math.min(buf.length, SLOT_HALF * 2));
    if (header !== null && value !== null) {
      if (typeof value === 'number') w.headerNum(header, value);
      else w.header(header, value);
    }
    return w.raw(this.serverLine).finish();
  }

  /** 200 OK: every current contact with its remaining expires (RFC 3261 §10.3 step 8), and Date. */
  private writeOk(buf: Buffer, sizeMax: number, req: RegisterRequest, d: Apply, stored: Buffer): number | 'ERR_SIP_WRITE_OVERFLOW' {
    const nowMs = req.nowMs;
    const w = this.writer.begin(buf, req.msg, 200, 'OK', req.source, Math.min(buf.length, sizeMax));
    for (let i = 0; i < d.currentCount; i++) {
      const b = d.currentOwn[i] === 1 ? d.buf : stored;
      const rec = d.currentRec[i]!;
      const leftS = Math.max(0, Math.ceil((codec.expiresAtMs(b, rec) - nowMs) / 1000));
      const instance = (codec.flags(b, rec) & codec.FLAG_INSTANCE) !== 0;
      w.contactBytes(b, codec.strStart(b, rec, Str.contact), codec.strLength(b, rec, Str.contact),
        codec.strStart(b, rec, Str.instance), instance ? codec.strLength(b, rec, Str.instance) : -1, leftS);
    }
    w.header('Date', this.date(nowMs));
    return w.raw(this.serverLine).finish();
  }

  /** Sends what was written into `slot`, or, when it did not fit, releases the slot and abandons. */
  private send(slot: ResponseSlot, n: number | 'ERR_SIP_WRITE_OVERFLOW', req: RegisterRequest): void {
    if (typeof n !== 'number') { this.transport.releaseUnsent(slot); this.abandon(req.tx); return; }
    if (req.tx >= 0) this.transactions.complete(req.tx, slot.buf, n, this.now());
    responseTarget(req.msg, req.source, this.target);
    this.transport.send(slot, n, this.target.port, this.target.address, req.socketIndex);
    counters.responsesSent++;
  }

  private upperHalf(slot: ResponseSlot): Buffer {
    let b = this.upperHalves[slot.index];
    if (b === undefined) {
      assert(slot.buf.length >= SLOT_HALF * 2, 'slot.buf.length >= SLOT_HALF * 2');
      b = slot.buf.subarray(SLOT_HALF, SLOT_HALF * 2);
      this.upperHalves[slot.index] = b;
    }
    return b;
  }

  /** RFC 1123 date for the Date header, made once per second. */
  private date(nowMs: number): string {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.dateSecond) {
      this.dateSecond = second;
      this.dateText = new Date(second * 1000).toUTCString();
    }
    return this.dateText;
  }

  /** A refusal's history row, at most rejectEventsPerSecondMax a second (a scanner cannot flood it). */
  private event(req: RegisterRequest, type: EventType, detail: string): void {
    const second = Math.floor(req.nowMs / 1000);
    if (second !== this.eventSecond) { this.eventSecond = second; this.eventsThisSecond = 0; }
    if (++this.eventsThisSecond > registrarLimits.rejectEventsPerSecondMax) return;
    const e = this.eventScratch;
    e.atMs = req.nowMs;
    e.type = type;
    e.number = req.number;
    e.source = formatAddress(req.source.address, req.source.port);
    e.userAgent = req.msg.userAgent() ?? '';
    e.detail = detail;
    const written = appendEvent(this.store, e);
    e.number = e.source = e.userAgent = e.detail = '';
    written.catch(this.onEventFailed);
  }
}
