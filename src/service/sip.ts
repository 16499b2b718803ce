// The service's SIP side: one SipTransport (sockets bound per `sip.listen`), the datagram dispatcher
// (dispatch.ts), the non-INVITE server transaction cache, and the SipEndpoint that the other parts (NAT
// keepalive, trunks) send through. ONE instance per service context:
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
import { boundedInterval } from '../timers.js';
import type { Component, ServiceContext } from '../component.js';
import type { LocalSocket, SipEndpoint } from '../sip/endpoint.js';
import { ServerTransactions, SipTransport } from '../sip/index.js';
import { limits, registrarLimits } from '../limits.js';
import type { Logger } from '../log.js';
import { counters } from '../stats/counters.js';
import { createGuard } from '../registrar/guard.js';
import type { Guard } from '../registrar/guard-types.js';
import { Registrar } from '../registrar/registrar.js';
import { loadNonceSecret } from '../registrar/nonce.js';
import { NumberLocks } from '../registrar/locks.js';
import { expirySweep } from '../registrar/sweep.js';
import { Dispatcher, type ResponseHandler } from './dispatch.js';

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
  const transactions = new ServerTransactions();
  const dispatcher = new Dispatcher(ctx, transactions);
  const locks = new NumberLocks();
  let txSweep: NodeJS.Timeout | null = null;
  let sweep: Component | null = null;
  let resolveReady: () => void = () => {};
  let rejectReady: (err: unknown) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => { resolveReady = resolve; rejectReady = reject; });
  ready.catch(() => { /* observed by whoever awaits it; start() reports the failure itself */ });

  const service: { -readonly [K in keyof SipService]: SipService[K] } = {
    endpoint: sipEndpoint(dispatcher, sockets), ready, registrar: null, transport: null, component: null as unknown as Component,
  };

  service.component = {
    name: 'sip',
    async start() {
      dispatcher.encodeLines();
      const guard = options.guard ?? createGuard(ctx);
      dispatcher.guard = guard;
      let t: SipTransport;
      try {
        t = await bindTransport(ctx, dispatcher, sockets);
      } catch (err) {
        rejectReady(err);
        throw err;
      }
      service.transport = t;
      const registrar = new Registrar({
        store: ctx.store, writes: ctx.writes, log: ctx.log, config: ctx.config, guard, transport: t, transactions, locks,
        nonceSecret: loadNonceSecret(ctx.store),
      });
      dispatcher.registrar = registrar;
      service.registrar = registrar;
      sweep = expirySweep(ctx, locks);
      await sweep.start();
      txSweep = boundedInterval(() => { transactions.sweep(Date.now(), limits.transactionSweepSliceMax); }, limits.transactionSweepIntervalMs);
      txSweep.unref();
      logListening(ctx.log, t, sockets);
      resolveReady();
    },
    reload(next) {
      dispatcher.encodeLines();
      dispatcher.registrar?.reload(next);
    },
    // A stopped registrar answers every REGISTER 503 with Retry-After.
    suspend() { dispatcher.registrar?.stop(); },
    async stop() {
      if (txSweep !== null) clearInterval(txSweep);
      if (sweep !== null) await sweep.stop();
      const registrar = dispatcher.registrar;
      if (registrar !== null) {
        registrar.stop();
        // Answer every REGISTER already decided once its commit settles (bounded by the stop timeout).
        await registrar.idle();
      }
      if (dispatcher.transport !== null) await dispatcher.transport.close();
    },
  };
  return service;
}

/** Binds the sockets of `sip.listen` with the dispatcher as their handler, and lists them in `sockets`
 *  as bound (the real port when 0 was asked). */
async function bindTransport(ctx: ServiceContext, dispatcher: Dispatcher, sockets: LocalSocket[]): Promise<SipTransport> {
  // Slots: the usual in-flight sends plus one held per REGISTER waiting for its commit.
  const t = new SipTransport(ctx.config().sip.listen, limits.responseSlotCount + registrarLimits.pendingCommitsMax,
    limits.responseSizeMax, limits.socketReceiveBufferSize, counters);
  t.onDatagram(dispatcher.onDatagram);
  await t.start();
  dispatcher.transport = t;
  for (let i = 0; i < t.socketCount; i++) {
    const a = t.localAddress(i);
    sockets.push({ index: i, address: a.address, port: a.port, family: a.family === 'IPv6' ? 6 : 4 });
  }
  return t;
}

/** The sockets as bound, and a warning when the kernel gave less receive buffer than asked. */
function logListening(log: Logger, t: SipTransport, sockets: readonly LocalSocket[]): void {
  const receiveBufferBytes = t.receiveBufferSize(0);
  log.info({ sockets: sockets.map((s) => `${s.family === 6 ? `[${s.address}]` : s.address}:${s.port}`), receiveBufferBytes }, 'sip listening');
  if (receiveBufferBytes < t.receiveBufferWanted) {
    log.warn({ receiveBufferBytes, wanted: t.receiveBufferWanted },
      `SIP socket receive buffer is ${Math.round(receiveBufferBytes / 1024)} KiB, not the ${Math.round(t.receiveBufferWanted / 1024)} KiB asked: ` +
      `bursts beyond it are dropped by the kernel; raise net.core.rmem_max (sysctl) to at least ${t.receiveBufferWanted}`);
  }
}

/** What the other parts send through: a copy of their bytes from a listen socket, and the responses to
 *  the branches they expect. Sends before the sockets are bound are dropped and counted. */
function sipEndpoint(dispatcher: Dispatcher, sockets: LocalSocket[]): SipEndpoint {
  return {
    sockets,
    send(socketIndex, data, port, address) {
      const t = dispatcher.transport;
      if (t === null || socketIndex < 0 || socketIndex >= sockets.length) { counters.sendDropsNoSlot++; return; }
      const slot = t.acquire();
      if (slot === null) return; // counted by the transport
      if (data.length === 0 || data.length > slot.buf.length) { t.releaseUnsent(slot); return; }
      data.copy(slot.buf, 0);
      t.send(slot, data.length, port, address, socketIndex);
    },
    expect(branch: string, onResponse: ResponseHandler) { dispatcher.expects.set(branch, onResponse); },
    release(branch) { dispatcher.expects.delete(branch); },
  };
}
