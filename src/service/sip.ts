// The service's SIP side: one SipTransport (sockets bound per `sip.listen`), the datagram dispatcher,
// the non-INVITE server transaction cache, and the SipEndpoint that the other parts (NAT keepalive,
// trunks) send through. ONE instance per service context:
//
//   import { sipService } from './sip.js';
//   const sip = sipService(ctx);     // the same object for every caller with this ctx
//   sip.endpoint                     // SipEndpoint: sockets (filled once started), send, expect, release
//   await sip.ready                  // resolves when the sockets are bound (the 'sip' component started)
//   sip.registrar                    // the Registrar, null until started
//
// `sipServiceComponent` (in serviceComponents) starts it: binds the sockets, then the registrar and the
// expiry sweep. Components appended after it can call sipService(ctx) in their factory and use the
// endpoint from their start().
//
// Dispatch of one datagram (module-level function per service, no closure per message):
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
import { boundedInterval } from '../timers.js';
import type { RemoteInfo } from 'node:dgram';
import type { Component, ServiceContext } from '../component.js';
import type { LocalSocket, SipEndpoint } from '../sip/endpoint.js';
import {
  Method, ResponseWriter, ServerTransactions, SipMessage, SipTransport, failureResponse, parse, responseTarget,
  type ResponseTarget,
} from '../sip/index.js';
import { limits } from '../limits.js';
import { counters } from '../stats/counters.js';
import { createGuard } from '../registrar/guard.js';
import type { Guard, SourceVerdict } from '../registrar/guard-types.js';
import { Registrar, type RegisterVerdict } from '../registrar/registrar.js';
import { registrarLimits } from '../limits.js';
import { loadNonceSecret } from '../registrar/nonce.js';
import { NumberLocks } from '../registrar/locks.js';
import { expirySweep } from '../registrar/sweep.js';

/** Methods we answer (RFC 3261 §20.5); ACK and CANCEL are handled by the transaction rules, not listed. */
export const ALLOW = 'REGISTER, OPTIONS';

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

export interface SipService {
  readonly endpoint: SipEndpoint;
  /** Resolves once the sockets are bound; rejects if binding failed. */
  readonly ready: Promise<void>;
  readonly registrar: Registrar | null;
  readonly transport: SipTransport | null;
  /** The service component that binds and starts everything here (what serviceComponents lists). */
  readonly component: Component;
}

const services = new WeakMap<ServiceContext, SipService>();

/** The SIP side of this service; made on first call, the same object afterwards. */
export function sipService(ctx: ServiceContext, options: { guard?: Guard } = {}): SipService {
  let s = services.get(ctx);
  if (s === undefined) {
    s = createSipService(ctx, options);
    services.set(ctx, s);
  }
  return s;
}

/** For serviceComponents: `sipServiceComponent` starts the sockets, the registrar and the expiry sweep. */
export function sipServiceComponent(ctx: ServiceContext): Component {
  return sipService(ctx).component;
}

/** A separate instance (tests); the service uses sipService(ctx). */
export function createSipService(ctx: ServiceContext, options: { guard?: Guard } = {}): SipService {
  const sockets: LocalSocket[] = [];
  const expects = new Map<string, (msg: SipMessage, rinfo: RemoteInfo, socketIndex: number) => void>();
  const msg = new SipMessage();
  const writer = new ResponseWriter();
  const target: ResponseTarget = { address: '', port: 0 };
  const transactions = new ServerTransactions();
  const locks = new NumberLocks();
  let transport: SipTransport | null = null;
  let registrar: Registrar | null = null;
  let guard: Guard | null = null;
  let serverLine = Buffer.alloc(0);
  let optionsLines = Buffer.alloc(0);
  let allowLine = Buffer.alloc(0);
  let txSweep: NodeJS.Timeout | null = null;
  let sweep: Component | null = null;
  let resolveReady: () => void = () => {};
  let rejectReady: (err: unknown) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => { resolveReady = resolve; rejectReady = reject; });
  ready.catch(() => { /* observed by whoever awaits it; start() reports the failure itself */ });

  const encodeLines = (): void => {
    const ua = ctx.config().sip.userAgent;
    serverLine = Buffer.from(`Server: ${ua}\r\n`, 'utf8');
    allowLine = Buffer.from(`Allow: ${ALLOW}\r\nServer: ${ua}\r\n`, 'utf8');
    // RFC 3261 §11.2: an OPTIONS answer lists Allow, Accept and Supported. We take no bodies and support
    // no extension that a client could Require, so Supported is empty (its grammar allows that). Nothing
    // more: anyone can ask, so the answer stays lean (no Server line to fingerprint, less to reflect).
    optionsLines = Buffer.from(`Allow: ${ALLOW}\r\nAccept: application/sdp\r\nSupported: \r\n`, 'utf8');
  };

  /** Writes a simple final answer with pre-encoded lines and sends it to the response target. */
  const answer = (rinfo: RemoteInfo, socketIndex: number, tx: number, code: number, reason: string, lines: Buffer): void => {
    const t = transport!;
    const slot = t.acquire();
    if (slot === null) { if (tx >= 0) transactions.abandon(tx); return; } // counted by the transport
    const n = writer.begin(slot.buf, msg, code, reason, rinfo).raw(lines).finish();
    if (typeof n !== 'number') { t.releaseUnsent(slot); if (tx >= 0) transactions.abandon(tx); return; }
    if (tx >= 0) transactions.complete(tx, slot.buf, n, Date.now());
    responseTarget(msg, rinfo, target);
    t.send(slot, n, target.port, target.address, socketIndex);
    counters.responsesSent++;
  };

  /** A request refused by the guard: counted (a REGISTER also as received and dropped, as always). */
  const dropped = (register: boolean): void => {
    counters.requestsDropped++;
    if (register) { counters.registersReceived++; counters.registersDropped++; }
  };

  const onDatagram = (buf: Buffer, rinfo: RemoteInfo, socketIndex: number): void => {
    const failure = parse(msg, buf);
    if (failure !== null) {
      if (failure === 'ERR_SIP_EMPTY') return; // CRLF keepalives (RFC 5626 §4.4.1)
      counters.parseFailures++;
      if (!msg.canRespond()) return;
    } else if (!msg.isRequest) {
      const handler = msg.via.hasBranch ? expects.get(msg.via.branch()) : undefined;
      if (handler !== undefined) handler(msg, rinfo, socketIndex);
      return;
    } else if (msg.method === Method.ACK) {
      return; // only our own non-2xx to an INVITE would need one: none exist
    }
    // A request we would answer: the ACL and its source's budget first, for every method.
    const nowMs = Date.now();
    const verdict = guard!.checkSource(rinfo.address, nowMs);
    if (failure !== null) {
      if (verdict !== 'ok') { dropped(false); return; }
      const f = failureResponse(failure);
      counters.badRequestsAnswered++;
      answer(rinfo, socketIndex, -1, f.status, f.reason, serverLine);
      return;
    }
    const register = msg.method === Method.REGISTER;
    const admitted = verdict === 'ok' ? 'ok' : admission(verdict, register, ctx.config().params.lockoutSilentDrop);
    if (admitted === null) { dropped(register); return; }
    let tx = -1;
    switch (transactions.receive(msg, rinfo, nowMs)) {
      case 'in-progress':
        counters.retransmissionsAbsorbed++;
        return;
      case 'completed': {
        counters.retransmissionsAbsorbed++;
        const t = transport!;
        const slot = t.acquire();
        if (slot === null) return; // counted by the transport
        const n = transactions.copyResponse(slot.buf);
        responseTarget(msg, rinfo, target);
        t.send(slot, n, target.port, target.address, socketIndex);
        counters.responsesSent++;
        return;
      }
      case 'new':
        tx = transactions.handle;
        break;
      case 'uncacheable':
        break;
    }
    if (register) {
      if (registrar === null) { answer(rinfo, socketIndex, tx, 503, 'Service Unavailable', serverLine); return; }
      registrar.handle(msg, rinfo, socketIndex, tx, admitted);
      return;
    }
    if (admitted === 'address_locked') { answer(rinfo, socketIndex, tx, 403, 'Forbidden', serverLine); return; }
    switch (msg.method) {
      case Method.OPTIONS:
        answer(rinfo, socketIndex, tx, 200, 'OK', optionsLines);
        return;
      case Method.CANCEL:
        answer(rinfo, socketIndex, tx, 481, 'Call/Transaction Does Not Exist', serverLine);
        return;
      default:
        answer(rinfo, socketIndex, tx, 405, 'Method Not Allowed', allowLine);
    }
  };

  const endpoint: SipEndpoint = {
    sockets,
    send(socketIndex, data, port, address) {
      const t = transport;
      if (t === null || socketIndex < 0 || socketIndex >= sockets.length) { counters.sendDropsNoSlot++; return; }
      const slot = t.acquire();
      if (slot === null) return; // counted by the transport
      if (data.length === 0 || data.length > slot.buf.length) { t.releaseUnsent(slot); return; }
      data.copy(slot.buf, 0);
      t.send(slot, data.length, port, address, socketIndex);
    },
    expect(branch, onResponse) { expects.set(branch, onResponse); },
    release(branch) { expects.delete(branch); },
  };

  const service: { -readonly [K in keyof SipService]: SipService[K] } = {
    endpoint, ready, registrar: null, transport: null, component: null as unknown as Component,
  };

  service.component = {
    name: 'sip',
    async start() {
      const config = ctx.config();
      encodeLines();
      const g = options.guard ?? createGuard(ctx);
      guard = g;
      // Slots: the usual in-flight sends plus one held per REGISTER waiting for its commit.
      const t = new SipTransport(config.sip.listen, limits.responseSlotCount + registrarLimits.pendingCommitsMax,
        limits.responseSizeMax, limits.socketReceiveBufferSize, counters);
      t.onDatagram(onDatagram);
      try {
        await t.start();
      } catch (err) {
        rejectReady(err);
        throw err;
      }
      transport = t;
      service.transport = t;
      for (let i = 0; i < t.socketCount; i++) {
        const a = t.localAddress(i);
        sockets.push({ index: i, address: a.address, port: a.port, family: a.family === 'IPv6' ? 6 : 4 });
      }
      registrar = new Registrar({
        store: ctx.store, writes: ctx.writes, log: ctx.log, config: ctx.config, guard: g, transport: t, transactions, locks,
        nonceSecret: loadNonceSecret(ctx.store),
      });
      service.registrar = registrar;
      sweep = expirySweep(ctx, locks);
      await sweep.start();
      txSweep = boundedInterval(() => { transactions.sweep(Date.now(), limits.transactionSweepSliceMax); }, limits.transactionSweepIntervalMs);
      txSweep.unref();
      const receiveBufferBytes = t.receiveBufferSize(0);
      ctx.log.info({ sockets: sockets.map((s) => `${s.family === 6 ? `[${s.address}]` : s.address}:${s.port}`), receiveBufferBytes }, 'sip listening');
      if (receiveBufferBytes < t.receiveBufferWanted) {
        ctx.log.warn({ receiveBufferBytes, wanted: t.receiveBufferWanted },
          `SIP socket receive buffer is ${Math.round(receiveBufferBytes / 1024)} KiB, not the ${Math.round(t.receiveBufferWanted / 1024)} KiB asked: ` +
          `bursts beyond it are dropped by the kernel; raise net.core.rmem_max (sysctl) to at least ${t.receiveBufferWanted}`);
      }
      resolveReady();
    },
    reload(next) {
      encodeLines();
      registrar?.reload(next);
    },
    // A stopped registrar answers every REGISTER 503 with Retry-After.
    suspend() { registrar?.stop(); },
    async stop() {
      if (txSweep !== null) clearInterval(txSweep);
      if (sweep !== null) await sweep.stop();
      if (registrar !== null) {
        registrar.stop();
        // Answer every REGISTER already decided once its commit settles (bounded by the stop timeout).
        await registrar.idle();
      }
      if (transport !== null) await transport.close();
    },
  };
  return service;
}
