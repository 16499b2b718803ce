// The registrar: what the service hands each REGISTER to (handle), reloads and stops. It makes its parts
// once and fills the same request object for every REGISTER; the path reads top to bottom in them:
//   request.ts    the request object every step is handed, and the ask the bindings policy reads
//   checks.ts     the order of checks, then where the decision goes (the one part asking the guard about a number)
//   auth.ts       the digest checks
//   policy.ts     the bindings decision (RFC 3261 §10.3 steps 6-8)
//   commit.ts     the group commit of changes and its settlement
//   responder.ts  every answer: written, sent, or held in a slot until its commit settles
//   deferred.ts   requests waiting while their number's previous change commits
// Refreshes answered from memory wait in write-back.ts for the service's periodic flush.
import { performance } from 'node:perf_hooks';
import type { Account, Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { SipMessage, type RemoteAddress, type ServerTransactions, type SipTransport } from '../sip/index.js';
import type { Store, StoreFlush } from '../store/index.js';
import { counters } from '../stats/counters.js';
import type { Guard } from './guard-types.js';
import { NumberLocks } from './locks.js';
import { DigestAuth } from './auth.js';
import { RegisterChecks, type RegisterVerdict } from './checks.js';
import { GroupCommit } from './commit.js';
import { DeferredRequests } from './deferred.js';
import { Responder } from './responder.js';
import { AskBuilder, RegisterRequest } from './request.js';
import { RefreshWriteBack } from './write-back.js';

export type { RegisterVerdict } from './checks.js';

export interface RegistrarDeps {
  readonly store: Store;
  /** The service's periodic flush: refreshes answered from memory are written with it. */
  readonly writes: StoreFlush;
  readonly log: Logger;
  readonly config: () => Config;
  readonly guard: Guard;
  readonly transport: SipTransport;
  readonly transactions: ServerTransactions;
  readonly locks?: NumberLocks;
  /** Secret for nonces and fake HA1s (registrar/nonce.ts loadNonceSecret). */
  readonly nonceSecret: Buffer;
  readonly random?: () => number;
  readonly nowMs?: () => number;
}

export class Registrar {
  readonly locks: NumberLocks;
  /** Refreshes answered from memory, waiting for the next flush. */
  readonly writeBack: RefreshWriteBack;
  private readonly guard: Guard;
  private readonly now: () => number;
  private readonly answers: Responder;
  private readonly auth: DigestAuth;
  private readonly commit: GroupCommit;
  private readonly deferred: DeferredRequests;
  private readonly checks: RegisterChecks;
  /** The request being handled: filled by handle() for each REGISTER. */
  private readonly req = new RegisterRequest(new SipMessage());
  private idleWaiters: (() => void)[] = [];

  constructor(deps: RegistrarDeps) {
    const random = deps.random ?? Math.random;
    const now = deps.nowMs ?? Date.now;
    this.now = now;
    this.guard = deps.guard;
    this.locks = deps.locks ?? new NumberLocks();
    this.writeBack = new RefreshWriteBack(deps.writes);
    const { store, log, transport } = deps;
    this.answers = new Responder({ store, log, transport, transactions: deps.transactions, random, now });
    this.auth = new DigestAuth(deps.nonceSecret, this.answers);
    this.commit = new GroupCommit({
      store, writes: deps.writes, log, locks: this.locks, answers: this.answers, now, onSettled: () => this.settled(),
    });
    this.deferred = new DeferredRequests(this.answers, now);
    this.checks = new RegisterChecks({
      store, guard: this.guard, locks: this.locks, writeBack: this.writeBack, asks: new AskBuilder(transport), auth: this.auth,
      answers: this.answers, commit: this.commit, deferred: this.deferred, random,
    });
    this.locks.onReleased = () => this.deferred.drain(this.checks);
    this.reload(deps.config());
  }

  reload(config: Config): void {
    const accounts = new Map<string, Account>();
    for (const a of config.accounts) accounts.set(a.number, a);
    this.checks.reload(config, accounts);
    this.auth.reload(config, accounts);
    this.answers.reload(config);
    this.commit.reload(config);
    this.guard.reload(config);
  }

  /** Resolves when no REGISTER waits for a commit or for its number (for stop and tests). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** From now on every REGISTER is answered 503; those already decided are still answered. */
  stop(): void { this.checks.stopped = true; }

  /**
   * A parsed REGISTER from `source` on socket `socketIndex`; `tx` is its server transaction handle
   * (ServerTransactions.receive said 'new'), or -1 when uncacheable. The transaction is completed or
   * abandoned on every path. `verdict`: what the guard's checkSource said of the source (the
   * dispatcher asks once per datagram, for every method, and drops what it refuses).
   */
  handle(msg: SipMessage, source: RemoteAddress, socketIndex: number, tx: number, verdict: RegisterVerdict = 'ok'): void {
    counters.registersReceived++;
    this.checks.run(this.req.fill(msg, source.address, source.port, socketIndex, tx, this.now(), performance.now()), verdict);
  }

  private isIdle(): boolean { return this.commit.pending === 0 && this.deferred.count === 0; }

  /** A batch was answered: deferred REGISTERs may run now (their numbers may be free); then who waits for idle. */
  private settled(): void {
    this.deferred.drain(this.checks);
    if (this.isIdle() && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
