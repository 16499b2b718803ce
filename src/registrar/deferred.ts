// REGISTERs for a number whose previous decision is still being committed (or that the expiry sweep holds):
// the store does not show that write yet (locks.ts), so deciding now would decide on a stale view. They
// wait here, copied (the transport does not promise the datagram outlives its handler), and are re-run
// from the top of the checks, in arrival order, when a batch settles or the sweep releases a number.
// At most deferredMax wait; beyond that, 503.
import { performance } from 'node:perf_hooks';
import { SipMessage, parse } from '../sip/index.js';
import { registrarLimits } from '../limits.js';
import type { Responder } from './responder.js';
import { RegisterRequest } from './request.js';

interface Deferred { buf: Buffer; address: string; port: number; socketIndex: number; tx: number }

/** What re-runs a deferred REGISTER: the order of checks (checks.ts). */
export interface RequestRunner { run(req: RegisterRequest): void }

export class DeferredRequests {
  private list: Deferred[] = [];
  private draining = false;
  /** The request a re-run is handled as: its own, apart from the one the dispatcher's requests fill. */
  private readonly req = new RegisterRequest(new SipMessage());

  constructor(private readonly answers: Responder, private readonly now: () => number) {}

  /** REGISTERs waiting. */
  get count(): number { return this.list.length; }

  /** `req` waits for its number; answered 503 when deferredMax already wait. */
  add(req: RegisterRequest): void {
    if (this.list.length >= registrarLimits.deferredMax) {
      this.answers.overloaded(req);
      return;
    }
    const { msg, source } = req;
    this.list.push({ buf: Buffer.from(msg.buf.subarray(0, msg.length)), address: source.address, port: source.port, socketIndex: req.socketIndex, tx: req.tx });
  }

  /** Re-runs every waiting REGISTER (those whose number is still locked wait again), in arrival order. */
  drain(runner: RequestRunner): void {
    if (this.list.length === 0 || this.draining) return;
    this.draining = true;
    try {
      const list = this.list;
      this.list = [];
      const req = this.req;
      for (const d of list) {
        if (parse(req.msg, d.buf) !== null) { this.answers.abandon(d.tx); continue; }
        runner.run(req.fill(req.msg, d.address, d.port, d.socketIndex, d.tx, this.now(), performance.now()));
      }
    } finally {
      this.draining = false;
    }
  }
}
