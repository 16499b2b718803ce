// The order of checks of one REGISTER (RFC 3261 §10.3), top to bottom, and where its decision goes:
//   the dispatcher's verdict on the source (guard checkSource, once per datagram) → overload → a free
//   response slot → Request-URI and To (sip: URIs, a user, a domain we serve) → Require → the number's
//   lock (else deferred.ts) → suspensions of the number → the account's rules (allow, auth_mode) →
//   the digest (auth.ts), where every refusal that does not depend on the credentials waits until after
//   it, so every number behaves alike → the bindings policy (policy.ts decide) over the store, with the
//   refreshes not yet flushed laid over it (write-back.ts) → then one of:
//   - a refusal, a query or a removal of nothing: answered now (responder.ts);
//   - a quiet refresh (the same binding, only a later expiry): answered now, its times held in the
//     write-back set for the next flush (store/flush.ts, every SS_STORE_FLUSH_INTERVAL);
//   - a change: its answers held in a slot, the change queued for the next group commit (commit.ts),
//     answered once that commit is on disk.
// This is the one place the REGISTER path asks the guard about a number and tells it of a digest
// answer's outcome.
import { performance } from 'node:perf_hooks';
import type { Account, Config, Params } from '../config/types.js';
import { Hdr, Scheme, type SipMessage } from '../sip/index.js';
import { StoredBindings, formatAddress, type EventType, type Store } from '../store/index.js';
import * as codec from '../store/binding-codec.js';
import { counters } from '../stats/counters.js';
import { assert } from '../assert.js';
import { registrarLimits } from '../limits.js';
import { sourceOf } from '../net/index.js';
import { allowMatches } from './addr.js';
import type { DigestAuth } from './auth.js';
import type { GroupCommit } from './commit.js';
import type { DeferredRequests, RequestRunner } from './deferred.js';
import type { Guard, SourceVerdict } from './guard-types.js';
import type { NumberLocks } from './locks.js';
import { decide, type Decision } from './policy.js';
import { Responses, type Responder } from './responder.js';
import type { AskBuilder, RegisterRequest } from './request.js';
import type { RefreshWriteBack } from './write-back.js';

const { Str } = codec;

/** The guard's verdicts on a source that still reach the registrar (the others are dropped before). */
export type RegisterVerdict = Extract<SourceVerdict, 'ok' | 'overloaded' | 'address_locked'>;

export interface RegisterChecksDeps {
  readonly store: Store;
  readonly guard: Guard;
  readonly locks: NumberLocks;
  readonly writeBack: RefreshWriteBack;
  readonly asks: AskBuilder;
  readonly auth: DigestAuth;
  readonly answers: Responder;
  readonly commit: GroupCommit;
  readonly deferred: DeferredRequests;
  readonly random: () => number;
}

export class RegisterChecks implements RequestRunner {
  private readonly store: Store;
  private readonly guard: Guard;
  private readonly locks: NumberLocks;
  private readonly writeBack: RefreshWriteBack;
  private readonly asks: AskBuilder;
  private readonly auth: DigestAuth;
  private readonly answers: Responder;
  private readonly commit: GroupCommit;
  private readonly deferred: DeferredRequests;
  private readonly random: () => number;
  private readonly stored = new StoredBindings();
  private params!: Params;
  private domains: readonly string[] = [];
  private accounts: ReadonlyMap<string, Account> = new Map();
  /** Set by stop(): every REGISTER is answered 503. */
  stopped = false;

  constructor(deps: RegisterChecksDeps) {
    this.store = deps.store;
    this.guard = deps.guard;
    this.locks = deps.locks;
    this.writeBack = deps.writeBack;
    this.asks = deps.asks;
    this.auth = deps.auth;
    this.answers = deps.answers;
    this.commit = deps.commit;
    this.deferred = deps.deferred;
    this.random = deps.random;
  }

  reload(config: Config, accounts: ReadonlyMap<string, Account>): void {
    this.params = config.params;
    this.domains = config.sip.domains;
    this.accounts = accounts;
  }

  /**
   * One REGISTER, from the top; `verdict` is what the guard's checkSource said of its source. Its
   * transaction is completed or abandoned on every path.
   */
  run(req: RegisterRequest, verdict: RegisterVerdict = 'ok'): void {
    switch (verdict) {
      case 'ok': break;
      case 'overloaded': this.answers.overloaded(req); return;
      case 'address_locked': this.answers.suspended(req); return; // SS_REGISTER_LOCKOUT_DROP Off (with On the dispatcher drops it)
    }
    if (this.commit.pending >= registrarLimits.pendingCommitsMax || this.stopped) {
      this.answers.overloaded(req);
      return;
    }
    if (!this.answers.slotFree(req)) return;
    if (!this.addressed(req)) return;
    const msg = req.msg;
    // RFC 3261 §8.2.2.3: every Require option-tag we do not know is listed in Unsupported.
    if (msg.has(Hdr.Require)) {
      const unsupported = msg.options(Hdr.Require).join(', ');
      this.answers.reject(req, Responses.badExtension[0], Responses.badExtension[1],
        `420 Bad Extension: Require ${unsupported} not supported`, 'Unsupported', unsupported);
      return;
    }
    // One decision per number at a time: the previous one's commit must be visible first.
    if (this.locks.isLocked(req.number)) {
      this.deferred.add(req);
      return;
    }
    // Suspensions of this number (read on a re-run too: a deferred request was deferred before this).
    // A suspended pair is refused now; a hold, `allow` and a number suspended for new sources only after
    // the digest, answered and counted like a wrong password: a prober sees 401, then 403, for every
    // number alike, and the event's detail names the real rule for the operator.
    const { address, port } = req.source;
    const verdictOfNumber = this.guard.checkNumber(req.number, address, req.nowMs);
    if (verdictOfNumber === 'pair_locked') {
      this.answers.suspended(req);
      return;
    }
    const account = this.accounts.get(req.number);
    const sourceOnly = account !== undefined && (account.authMode === 'ip' || account.authMode === 'ip_port');
    let refusal: string | null = null;
    let refusalCounts = true;
    if (verdictOfNumber === 'number_held') {
      refusal = '403 Forbidden: number held by an operator (kick-and-hold)';
      // A held phone retrying its own password is not guessing; a wrong password still counts.
      refusalCounts = false;
    } else if (account !== undefined && !allowMatches(account.allow, address, port)) {
      refusal = `403 Forbidden: source ${formatAddress(address, port)} not in allow (auth_mode ${account.authMode})`;
    } else if (verdictOfNumber === 'number_suspended' && !sourceOnly && !this.registeredFrom(req.number, address, req.nowMs)) {
      // Guessing from many sources: answers from a source the number is not registered from are refused
      // whatever they say, so those guesses are worth nothing; the phone keeps refreshing.
      refusal = '403 Forbidden: number suspended for sources it is not registered from (SS_REGISTER_NUMBER_FAILURES)';
    }
    // auth_mode ip / ip_port: an allowed source is the credential, no challenge; anything refused is
    // challenged first like every other number.
    if ((!sourceOnly || refusal !== null) && !this.authenticated(req, refusal, refusalCounts)) return;
    // authenticated() succeeds only with a real account's HA1.
    assert(account !== undefined, 'authenticated without an account');
    this.bind(req, account);
  }

  /**
   * RFC 3261 §10.3 step 1: the Request-URI names a domain we serve; the To URI is the AOR (step 4), its
   * user the number (req.number from here on). Otherwise answered.
   */
  private addressed(req: RegisterRequest): boolean {
    const msg = req.msg;
    const ruri = msg.requestUri;
    const to = msg.to.uri;
    if ((ruri.scheme !== Scheme.Sip && ruri.scheme !== Scheme.Sips) || (to.scheme !== Scheme.Sip && to.scheme !== Scheme.Sips) || !to.hasUser) {
      this.answers.reject(req, Responses.badAor[0], Responses.badAor[1],
        '400 Bad Request: the Request-URI and To must be sip:/sips: URIs and To must name a user');
      return false;
    }
    req.number = to.user();
    const domains = this.domains;
    if (domains.length > 0 && (!hostIn(ruri, domains) || !hostIn(to, domains))) {
      this.answers.reject(req, Responses.domain[0], Responses.domain[1],
        `404 Domain Not Served: ${hostIn(ruri, domains) ? `To host ${to.host()}` : `Request-URI host ${ruri.host()}`} is not in sip.domains`);
      return false;
    }
    return true;
  }

  /** Whether `number` holds a live binding registered from this address's source (its /64 for IPv6). */
  private registeredFrom(number: string, address: string, nowMs: number): boolean {
    let stored: StoredBindings;
    try {
      stored = this.stored.load(this.store, number);
    } catch {
      return false; // a store that cannot be read: the suspension stands
    }
    const source = sourceOf(address);
    const buf = stored.buf;
    for (let i = 0; i < stored.count; i++) {
      const rec = stored.recs[i]!;
      if (codec.expiresAtMs(buf, rec) > nowMs && sourceOf(codec.str(buf, rec, Str.sourceAddress)) === source) return true;
    }
    return false;
  }

  /**
   * The digest (auth.ts), then what its verdict leads to. True when authenticated; otherwise answered.
   * `refusal`, when set, is the detail of a rule that refuses this request whatever its credentials: it
   * is applied after the digest, with the answer and the counting of a wrong password, and the nonce-
   * count is never spent (a right password must not answer differently). `refusalCounts` false: a right
   * answer refused by it is not counted as a failure.
   */
  private authenticated(req: RegisterRequest, refusal: string | null, refusalCounts: boolean): boolean {
    const auth = this.auth;
    switch (auth.check(req)) {
      case 'challenge': auth.challenge(req, false); return false;
      case 'stale': auth.challenge(req, true); return false;
      case 'other_user':
        // Refused before any verification (a right password would otherwise answer differently), like a
        // wrong password and counted against both names; a username suspended from this source is
        // dropped as the AOR itself would be.
        if (this.guard.checkNumber(auth.username, req.source.address, req.nowMs) === 'pair_locked') {
          this.answers.suspended(req);
          return false;
        }
        counters.authFailures++;
        this.refuseDigest(req, 'auth_failed', `403 Forbidden: digest user ${auth.username} does not own AOR ${req.number}`, true);
        return false;
      case 'wrong_uri':
        counters.authFailures++;
        this.refuseDigest(req, 'auth_failed',
          `403 Forbidden: digest uri ${auth.uriText()} is not the Request-URI ${req.msg.requestUri.raw()}`, true);
        return false;
      case 'mismatch': {
        counters.authFailures++;
        const why = `403 Forbidden: digest response for user ${auth.username} did not match (${auth.accountKnown ? 'wrong password' : 'no such account'})`;
        this.refuseDigest(req, 'auth_failed', refusal === null ? why : `${refusal}; ${why.slice(15)}`, true);
        return false;
      }
      case 'verified': break;
    }
    if (refusal !== null) {
      this.refuseDigest(req, 'rejected', refusal, refusalCounts);
      return false;
    }
    const nc = auth.spendNonceCount();
    if (nc !== 'ok') { auth.challenge(req, nc === 'evicted'); return false; }
    this.guard.authSucceeded(req.number, req.source.address);
    return true;
  }

  /**
   * A digest answer refused: 403, the answer of a wrong password whatever the reason, counted (when
   * `counts`) against the AOR user and the digest username if it is another, so lockouts hold on both.
   */
  private refuseDigest(req: RegisterRequest, type: EventType, detail: string, counts: boolean): void {
    let locked = false;
    if (counts) {
      const address = req.source.address;
      const userAgent = req.msg.userAgent() ?? '';
      locked = this.guard.authFailed(req.number, address, userAgent, req.nowMs);
      const username = this.auth.username;
      if (username !== req.number && this.guard.authFailed(username, address, userAgent, req.nowMs)) locked = true;
    }
    this.answers.forbidden(req, type, locked ? `${detail}; suspended (see locked_out)` : detail);
  }

  /** The bindings decision over what the store holds now, then where it goes. */
  private bind(req: RegisterRequest, account: Account): void {
    const ask = this.asks.build(req, account, this.random(), this.writeBack.horizonFor(req.number));
    // The pending reply is taken first: its Apply receives the decision (commit.pending below
    // pendingCommitsMax was checked on entry); it goes back at once when there is nothing to commit.
    const reply = this.commit.take();
    let decision: Decision;
    try {
      const existing = this.stored.load(this.store, req.number);
      this.writeBack.overlay(req.number, existing);
      decision = decide(ask, existing, this.params, reply.decision);
    } catch (err) {
      this.commit.recycle(reply);
      this.answers.storeFailure(req, err);
      return;
    }
    if (decision.kind === 'reject') {
      this.commit.recycle(reply);
      this.answers.policyReject(req, decision);
      return;
    }
    if (decision.quiet || decision.changeCount === 0) {
      // A quiet refresh, or a query or removal of nothing. A refresh's times are held for the flush only
      // once its 200 is sent: a refresh the phone is not told of changes nothing (its retransmission is
      // decided afresh).
      if (this.answers.okNow(req, decision, this.stored.buf)) {
        if (decision.quiet) this.writeBack.record(req.number, decision, req.nowMs);
        counters.registersAccepted++;
        counters.processed++;
        counters.processingUsTotal += Math.round((performance.now() - req.startedAtMs) * 1000);
      }
      this.commit.recycle(reply);
      return;
    }
    // A change: its answers are written now and held until the commit settles. With no slot free,
    // nothing is changed and the phone retransmits.
    if (!this.answers.hold(req, decision, this.stored.buf, reply)) {
      this.commit.recycle(reply);
      return;
    }
    this.commit.queue(reply, req);
  }
}

function hostIn(uri: SipMessage['requestUri'], domains: readonly string[]): boolean {
  for (const d of domains) if (uri.hostEquals(d)) return true;
  return false;
}
