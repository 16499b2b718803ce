// The REGISTER path (RFC 3261 §10.3, issues 3, 4, 13 and 14), top to bottom once per request:
//   guard (ACL, rate, lockouts: the dispatcher's, once per datagram) → overload → Request-URI/To domain →
//   Require → number lock → suspensions of the number → per-account policy (allow, auth_mode) → digest,
//   where every refusal that does not depend on the credentials waits until after it (one behaviour for
//   every number) → bindings policy (policy.ts) over the store, with the refreshes not yet flushed laid
//   over it (write-back.ts) → then one of two:
//   - a quiet refresh (the same binding, only a later expiry): answered now; its times wait in the
//     write-back set for the next flush (store/flush.ts, every SS_STORE_FLUSH_INTERVAL);
//   - a change: group commit (every change decided while the previous commit is in flight, and within
//     SS_STORE_COMMIT_WINDOW_MS of its start, shares the next one) → 200 OK only once that commit is on
//     disk (committed, then lmdb-js's `flushed`: the fdatasync).
// The 200 OK (and a 500 in case the commit fails) is written into a response slot when the request is
// decided, while the parsed message is at hand; the slot is held until the commit settles, then sent.
// So nothing of the request is kept or re-parsed, and no closure or promise is made per REGISTER: a
// batch object (pooled, its callbacks bound once) waits on the shared commit promise.
import assert from 'node:assert';
import { isUtf8 } from 'node:buffer';
import { boundedTimeout } from '../timers.js';
import { performance } from 'node:perf_hooks';
import type { Account, Config, DigestAlgorithm as ConfigAlgorithm, Params } from '../config/types.js';
import type { Logger } from '../log.js';
import {
  DigestAlgorithm, DigestParam, DigestParams, Hdr, Scheme, formatChallenge, parseDigestHeader, responseTarget, verifyDigest,
  type DigestAlgorithmId, type ResponseSlot, type ResponseTarget, type SipMessage, type RemoteAddress,
  type ResponseWriter as ResponseWriterType, ResponseWriter, type SipTransport, type ServerTransactions,
  SipMessage as SipMessageClass, parse,
} from '../sip/index.js';
import {
  AorMerge, ByteText, EventWriter, RecordList, StoredBindings, appendEvent, formatAddress, type EventRecord, type EventType, type Store,
  type StoreFlush,
} from '../store/index.js';
import * as codec from '../store/binding-codec.js';
import { counters } from '../stats/counters.js';
import { limits, registrarLimits } from '../limits.js';
import type { Guard, SourceVerdict } from './guard-types.js';
import { allowMatches, looksNatted } from './addr.js';
import { NumberLocks } from './locks.js';
import { ByteChars, sourceOf } from '../net/index.js';
import { NonceCounts, NonceIssuer } from './nonce.js';
import { Apply, RegisterAsk, decide, type Decision } from './policy.js';
import { RefreshWriteBack } from './write-back.js';
import { ChangeTail } from './change-tail.js';

const { Str } = codec;

/** Every answer the REGISTER path gives, with its reason phrase (README's table of answers is written from these by hand). */
export const Responses = {
  ok: [200, 'OK'],
  unauthorized: [401, 'Unauthorized'],
  forbidden: [403, 'Forbidden'],                        // after the digest: wrong password / unknown number / not allowed / held
  tooMany: [403, 'Too Many Registrations'],             // SERVER_REGISTRAR_MAX_BINDINGS, replace Off
  domain: [404, 'Domain Not Served'],                   // sip.domains set and not matched
  badExtension: [420, 'Bad Extension'],                 // Require with an option we do not support
  tooBrief: [423, 'Interval Too Brief'],
  badRequest: [400, 'Bad Request'],
  storeFailed: [500, 'Server Internal Error - Store Write Failed'],
  overloaded: [503, 'Service Unavailable'],
} as const;

/** The guard's verdicts on a source that still reach the registrar (the others are dropped before). */
export type RegisterVerdict = Extract<SourceVerdict, 'ok' | 'overloaded' | 'address_locked'>;

/** Half of a response slot: the 200 is written into the lower half, the 500 fallback into the upper. */
const SLOT_HALF = limits.registerOkSizeMax;

const algorithmIds: Record<ConfigAlgorithm, DigestAlgorithmId> = { 'MD5': DigestAlgorithm.MD5, 'SHA-256': DigestAlgorithm.SHA256 };

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

/** One REGISTER waiting for its commit: a pre-written answer in a held slot, and where it goes. */
class PendingReply {
  slot: ResponseSlot | null = null;
  okLength = 0;
  failLength = 0;
  port = 0;
  address = '';
  socketIndex = 0;
  tx = -1;
  number = '';
  nowMs = 0;
  private apply: Apply | null = null;
  /** The decision being committed; reused by the next REGISTER this object carries. Made on first use:
   *  the pool holds pendingCommitsMax replies, and only those a load has needed carry buffers. */
  get decision(): Apply { return this.apply ??= new Apply(); }
  startedAtMs = 0;
  created = 0;
  removed = 0;
  /** Its writes threw inside the batch transaction: answered 500. */
  failed = false;
}

/** REGISTERs sharing one LMDB commit. Pooled; its callbacks are bound once per batch object. */
class Batch {
  promise: Promise<unknown> | null = null;
  /** replies[0, count): arrays keep their length between batches (length = 0 would free and regrow them). */
  replies: PendingReply[] = [];
  count = 0;
  /** The commit resolved (visible); its answers now wait for the fdatasync. */
  committed = false;
  /** Its history rows: handed to the next flush once the commit is durable (change-tail.ts). */
  readonly rows = new EventWriter();
  readonly write: () => void;
  readonly onCommitted: () => void;
  readonly onDurable: () => void;
  readonly onFailed: (err: unknown) => void;
  constructor(registrar: Registrar) {
    this.write = () => registrar.writeBatch(this);
    this.onCommitted = () => registrar.committed(this);
    this.onDurable = () => registrar.settle(this, true, null);
    this.onFailed = (err: unknown) => registrar.failed(this, err);
  }
}

/** A REGISTER for a number with a write in flight: copied, re-run when that commit settles. */
interface Deferred { buf: Buffer; address: string; port: number; socketIndex: number; tx: number }

export class Registrar {
  readonly locks: NumberLocks;
  private readonly store: Store;
  private readonly log: Logger;
  private readonly transport: SipTransport;
  private readonly transactions: ServerTransactions;
  private readonly writer = new ResponseWriter();
  private readonly creds = new DigestParams();
  private readonly target: ResponseTarget = { address: '', port: 0 };
  private readonly nonces: NonceIssuer;
  private readonly nonceCounts = new NonceCounts();
  private readonly random: () => number;
  private readonly now: () => number;
  private guard: Guard;
  private config: Config;
  private params: Params;
  private accounts = new Map<string, Account>();
  private offered: DigestAlgorithmId[] = [];
  private serverLine: Buffer = Buffer.alloc(0);
  private upperHalves: (Buffer | null)[] = [];
  // Pending replies: a free list of preallocated objects, bounded by pendingCommitsMax (then 503).
  private readonly freeReplies: PendingReply[] = [];
  private pendingCount = 0;
  private readonly batchPool: Batch[] = [];
  private queued: PendingReply[] = [];
  private queuedCount = 0;
  private committing = false;
  /** When the last commit started (performance.now()), for SS_STORE_COMMIT_WINDOW_MS; its timer. */
  private lastCommitAtMs = Number.NEGATIVE_INFINITY;
  private commitTimer: NodeJS.Timeout | null = null;
  private readonly onCommitTimer = (): void => { this.commitTimer = null; this.scheduleCommit(); };
  private deferred: Deferred[] = [];
  private draining = false;
  private readonly deferMsg = new SipMessageClass();
  private readonly stored = new StoredBindings();
  private readonly askText = new ByteText();
  private readonly hostChars = new ByteChars();
  private readonly ask = new RegisterAsk();
  private readonly merge = new AorMerge();
  private readonly mergePuts = new RecordList();
  private readonly mergeDrops = new RecordList();
  private readonly writes: StoreFlush;
  private dateSecond = -1;
  private dateText = '';
  private eventSecond = -1;
  private eventsThisSecond = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  /** Refreshes answered from memory, waiting for the next flush. */
  readonly writeBack: RefreshWriteBack;

  constructor(deps: RegistrarDeps) {
    this.store = deps.store;
    this.writeBack = new RefreshWriteBack(deps.writes);
    this.writes = deps.writes;
    this.merge.deferral = new ChangeTail(deps.writes);
    this.log = deps.log;
    this.transport = deps.transport;
    this.transactions = deps.transactions;
    this.guard = deps.guard;
    this.locks = deps.locks ?? new NumberLocks();
    this.locks.onReleased = () => this.drainDeferred();
    this.nonces = new NonceIssuer(deps.nonceSecret);
    this.random = deps.random ?? Math.random;
    this.now = deps.nowMs ?? Date.now;
    for (let i = 0; i < registrarLimits.pendingCommitsMax; i++) this.freeReplies.push(new PendingReply());
    this.config = deps.config();
    this.params = this.config.params;
    this.reload(this.config);
  }

  reload(config: Config): void {
    this.config = config;
    this.params = config.params;
    const accounts = new Map<string, Account>();
    for (const a of config.accounts) accounts.set(a.number, a);
    this.accounts = accounts;
    this.offered = config.params.authAlgorithms.map((a) => algorithmIds[a]);
    this.serverLine = Buffer.from(`Server: ${config.sip.userAgent}\r\n`, 'utf8');
    this.guard.reload(config);
  }

  /** REGISTERs decided and waiting for a commit. */
  get pending(): number { return this.pendingCount; }

  /** Resolves when no REGISTER waits for a commit (for stop and tests). */
  idle(): Promise<void> {
    if (this.pendingCount === 0 && this.deferred.length === 0 && this.queuedCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void { this.stopped = true; }

  /**
   * A parsed REGISTER from `source` on socket `socketIndex`; `tx` is its server transaction handle
   * (ServerTransactions.receive said 'new'), or -1 when uncacheable. The transaction is completed or
   * abandoned here, on every path. `verdict`: what the guard's checkSource said of the source (the
   * dispatcher asks once per datagram, for every method, and drops what it refuses).
   */
  handle(msg: SipMessage, source: RemoteAddress, socketIndex: number, tx: number, verdict: RegisterVerdict = 'ok'): void {
    counters.registersReceived++;
    switch (verdict) {
      case 'ok': break;
      case 'overloaded':
        this.overloaded(msg, source, socketIndex, tx);
        return;
      case 'address_locked': // SS_REGISTER_LOCKOUT_DROP Off (with On the dispatcher drops it)
        this.refuseSuspended(msg, source, socketIndex, tx);
        return;
    }
    this.handleRegister(msg, source.address, source.port, socketIndex, tx, false);
  }

  private handleRegister(msg: SipMessage, address: string, port: number, socketIndex: number, tx: number, rerun: boolean): void {
    const startedAtMs = performance.now();
    const nowMs = this.now();
    const p = this.params;
    const source: RemoteAddress = this.sourceView(address, port);

    if (this.pendingCount >= registrarLimits.pendingCommitsMax || this.stopped) {
      this.overloaded(msg, source, socketIndex, tx);
      return;
    }
    // Every answer below needs a response slot. With none free the request is dropped here, before any
    // work: in particular before its nonce-count is used, so the phone's retransmission still succeeds.
    if (this.transport.freeSlotCount === 0) {
      this.transport.counters.sendDropsNoSlot++;
      counters.registersDropped++;
      this.abandon(tx);
      return;
    }

    // RFC 3261 §10.3 step 1: the Request-URI names a domain we serve; the To URI is the AOR (step 4).
    const ruri = msg.requestUri;
    const to = msg.to.uri;
    if ((ruri.scheme !== Scheme.Sip && ruri.scheme !== Scheme.Sips) || (to.scheme !== Scheme.Sip && to.scheme !== Scheme.Sips) || !to.hasUser) {
      this.reject(msg, source, socketIndex, tx, 400, 'Bad Request - AOR Must Be a sip: URI With a User', '',
        '400 Bad Request: the Request-URI and To must be sip:/sips: URIs and To must name a user');
      return;
    }
    const number = to.user();
    const domains = this.config.sip.domains;
    if (domains.length > 0 && (!hostIn(ruri, domains) || !hostIn(to, domains))) {
      this.reject(msg, source, socketIndex, tx, Responses.domain[0], Responses.domain[1], number,
        `404 Domain Not Served: ${hostIn(ruri, domains) ? `To host ${to.host()}` : `Request-URI host ${ruri.host()}`} is not in sip.domains`);
      return;
    }
    // RFC 3261 §8.2.2.3: every Require option-tag we do not know is listed in Unsupported.
    if (msg.has(Hdr.Require)) {
      const unsupported = msg.options(Hdr.Require).join(', ');
      this.reply(msg, source, socketIndex, tx, 420, 'Bad Extension', 'Unsupported', unsupported);
      this.recordEvent('rejected', number, address, port, msg, `420 Bad Extension: Require ${unsupported} not supported`, nowMs);
      counters.registersRejected++;
      return;
    }
    // One decision per number at a time: the previous one's commit must be visible first.
    if (this.locks.isLocked(number)) {
      this.defer(msg, address, port, socketIndex, tx);
      return;
    }
    // Suspensions of this number (read on a re-run too: a deferred request was deferred before this).
    // A suspended pair is refused now; a hold, `allow` and a number suspended for new sources only after
    // the digest, answered and counted like a wrong password (issue 13 item 7): a prober sees 401, then
    // 403, for every number alike, and the event's detail names the real rule for the operator.
    const verdict = this.guard.checkNumber(number, address, nowMs);
    if (verdict === 'pair_locked') {
      this.refuseSuspended(msg, source, socketIndex, tx);
      return;
    }
    const account = this.accounts.get(number);
    const sourceOnly = account !== undefined && (account.authMode === 'ip' || account.authMode === 'ip_port');
    let refusal: string | null = null;
    let refusalCounts = true;
    if (verdict === 'number_held') {
      refusal = '403 Forbidden: number held by an operator (kick-and-hold)';
      // A held phone retrying its own password is not guessing; a wrong password still counts.
      refusalCounts = false;
    } else if (account !== undefined && !allowMatches(account.allow, address, port)) {
      refusal = `403 Forbidden: source ${formatAddress(address, port)} not in allow (auth_mode ${account.authMode})`;
    } else if (verdict === 'number_suspended' && !sourceOnly && !this.registeredFrom(number, address, nowMs)) {
      // Guessing from many sources (issue 13 item 9): answers from a source the number is not registered
      // from are refused whatever they say, so those guesses are worth nothing; the phone keeps refreshing.
      refusal = '403 Forbidden: number suspended for sources it is not registered from (SS_REGISTER_NUMBER_FAILURES)';
    }
    // auth_mode ip / ip_port: an allowed source is the credential, no challenge; anything refused is
    // challenged first like every other number.
    if (!sourceOnly || refusal !== null) {
      if (!this.authenticate(msg, source, socketIndex, tx, number, refusal, refusalCounts, nowMs)) return;
    }
    // authenticate() succeeds only with a real account's HA1. (Plain checks on this path: node:assert's
    // rest arguments cost an array per call where it is not inlined.)
    if (account === undefined) throw new Error('invariant: authenticated without an account');
    this.bind(msg, address, port, socketIndex, tx, number, account, nowMs, startedAtMs);
  }

  /** A suspended source or pair: dropped, or 403 at once with SS_REGISTER_LOCKOUT_DROP Off. */
  private refuseSuspended(msg: SipMessage, source: RemoteAddress, socketIndex: number, tx: number): void {
    if (this.params.lockoutSilentDrop) { counters.registersDropped++; this.abandon(tx); return; }
    this.reply(msg, source, socketIndex, tx, 403, 'Forbidden', null, null);
    counters.registersRejected++;
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
   * Digest (RFC 3261 §22, RFC 7616). Returns true when authenticated; otherwise it has answered.
   * `refusal`, when set, is the detail of a rule that refuses this request whatever its credentials: it
   * is applied after the digest, with the answer and the counting of a wrong password, and the nonce-
   * count is never spent (a right password must not answer differently). `refusalCounts` false: a right
   * answer refused by it is not counted as a failure.
   */
  private authenticate(msg: SipMessage, source: RemoteAddress, socketIndex: number, tx: number, number: string,
    refusal: string | null, refusalCounts: boolean, nowMs: number): boolean {
    const p = this.params;
    const index = msg.firstHeader[Hdr.Authorization]!;
    if (index < 0) { this.challenge(msg, source, socketIndex, tx, false, nowMs); return false; }
    const creds = this.creds;
    // A scheme other than Digest, or credentials we cannot read: challenge again (RFC 4475 §3.3.7).
    if (parseDigestHeader(creds, msg, index) !== null || !creds.hasUsername || !creds.hasResponse) {
      this.challenge(msg, source, socketIndex, tx, false, nowMs);
      return false;
    }
    const algorithm = creds.algorithm;
    if (!this.offered.includes(algorithm) || creds.realm() !== this.config.sip.realm) {
      this.challenge(msg, source, socketIndex, tx, false, nowMs);
      return false;
    }
    const nonce = creds.nonce();
    // The nonce is bound to the address it was sent to (nonce.ts): one fetched elsewhere is 'invalid'
    // here and gets a fresh challenge, never a failure counted against this address (issue 13 item 2).
    // One of an earlier start of the service is 'stale' (item 8: the nonce-counts did not survive it).
    const check = this.nonces.check(nonce, nowMs, p.nonceLifetimeS, source.address);
    if (check !== 'ok') { this.challenge(msg, source, socketIndex, tx, check === 'stale', nowMs); return false; }
    // RFC 3261 §22.4 asks for qop=auth in our challenge; an answer without it could be replayed freely.
    if (!creds.qopAuth || creds.nc < 1) { this.challenge(msg, source, socketIndex, tx, false, nowMs); return false; }

    const username = creds.username();
    if (username !== number) {
      // Issue 13 item 1: refused before any verification (a right password would otherwise answer
      // differently), like a wrong password and counted against both names; a username suspended from
      // this source is dropped as the AOR itself would be.
      if (this.guard.checkNumber(username, source.address, nowMs) === 'pair_locked') {
        this.refuseSuspended(msg, source, socketIndex, tx);
        return false;
      }
      counters.authFailures++;
      this.refuseDigest(msg, source, socketIndex, tx, number, username, 'auth_failed',
        `403 Forbidden: digest user ${username} does not own AOR ${number}`, true, nowMs);
      return false;
    }
    // RFC 7616 §3.4.6 / RFC 2617 §3.2.2.5: the response covers `uri`, which must be this request's
    // Request-URI, or an answer captured for one request would serve for another.
    if (!uriIsRequestUri(msg, creds)) {
      counters.authFailures++;
      this.refuseDigest(msg, source, socketIndex, tx, number, username, 'auth_failed',
        `403 Forbidden: digest uri ${creds.uri()} is not the Request-URI ${msg.requestUri.raw()}`, true, nowMs);
      return false;
    }
    const account = this.accounts.get(username);
    // Unknown numbers go through the same work with a derived HA1 and fail like a wrong password.
    const real = account === undefined ? null : algorithm === DigestAlgorithm.MD5 ? account.ha1.md5 : account.ha1.sha256;
    const ha1 = real ?? this.nonces.fakeHa1(username, this.config.sip.realm, algorithm === DigestAlgorithm.MD5 ? 'MD5' : 'SHA-256');
    const good = verifyDigest(creds, 'REGISTER', ha1) && real !== null;
    if (!good) {
      counters.authFailures++;
      const why = `403 Forbidden: digest response for user ${username} did not match (${account === undefined ? 'no such account' : 'wrong password'})`;
      this.refuseDigest(msg, source, socketIndex, tx, number, username, 'auth_failed', refusal === null ? why : `${refusal}; ${why.slice(15)}`, true, nowMs);
      return false;
    }
    if (refusal !== null) {
      this.refuseDigest(msg, source, socketIndex, tx, number, username, 'rejected', refusal, refusalCounts, nowMs);
      return false;
    }
    // Only a correct response counts its nc, so forged requests cannot fill the table.
    const nc = this.nonceCounts.accept(nonce, this.nonces.issuedAtMs, creds.nc);
    if (nc !== 'ok') { this.challenge(msg, source, socketIndex, tx, nc === 'evicted', nowMs); return false; }
    this.guard.authSucceeded(number, source.address);
    return true;
  }

  /**
   * A digest answer refused: 403, the answer of a wrong password whatever the reason, counted (when
   * `counts`) against the AOR user and the digest username if it is another, so lockouts hold on both.
   */
  private refuseDigest(msg: SipMessage, source: RemoteAddress, socketIndex: number, tx: number, number: string, username: string,
    type: EventType, detail: string, counts: boolean, nowMs: number): void {
    let locked = false;
    if (counts) {
      const userAgent = msg.userAgent() ?? '';
      locked = this.guard.authFailed(number, source.address, userAgent, nowMs);
      if (username !== number && this.guard.authFailed(username, source.address, userAgent, nowMs)) locked = true;
    }
    this.reply(msg, source, socketIndex, tx, 403, 'Forbidden', null, null);
    counters.registersRejected++;
    this.recordEvent(type, number, source.address, source.port, msg, locked ? `${detail}; suspended (see locked_out)` : detail, nowMs);
  }

  /** The bindings decision over what the store holds now, then the writes. */
  private bind(msg: SipMessage, address: string, port: number, socketIndex: number, tx: number, number: string,
    account: Account, nowMs: number, startedAtMs: number): void {
    const source = this.sourceView(address, port);
    const ask = this.askFrom(msg, address, port, socketIndex, number, account, nowMs);
    // The pending reply is taken first: its Apply receives the decision (pendingCount < pendingCommitsMax
    // was checked on entry); it goes back at once when there is nothing to commit.
    const reply = this.freeReplies.pop();
    if (reply === undefined) throw new Error('invariant: no free pending reply below pendingCommitsMax');
    let decision: Decision;
    try {
      const existing = this.stored.load(this.store, number);
      this.writeBack.overlay(number, existing);
      decision = decide(ask, existing, this.params, reply.decision);
    } catch (err) {
      this.recycle(reply);
      this.storeFailure(msg, source, socketIndex, tx, number, err);
      return;
    }
    if (decision.kind === 'apply' && decision.quiet) {
      this.answerRefresh(msg, source, socketIndex, tx, number, decision, nowMs, startedAtMs);
      this.recycle(reply);
      return;
    }
    if (decision.kind === 'reject' || decision.changeCount === 0) {
      this.answerNow(msg, source, socketIndex, tx, number, decision, nowMs, startedAtMs);
      this.recycle(reply);
      return;
    }
    // Hold a slot first: if none is free, change nothing and let the phone retransmit.
    const slot = this.transport.acquire();
    if (slot === null) { this.recycle(reply); this.abandon(tx); return; }
    const okLength = this.writeOk(slot.buf, SLOT_HALF, msg, source, decision, nowMs);
    const upper = this.upperHalf(slot);
    const failLength = this.writeSimple(upper, msg, source, 500, Responses.storeFailed[1], 'Retry-After', this.retryAfterS());
    if (typeof okLength !== 'number' || typeof failLength !== 'number') {
      this.transport.releaseUnsent(slot);
      this.recycle(reply);
      this.reject(msg, source, socketIndex, tx, 500, 'Server Internal Error - Response Too Large', number, '500: the 200 OK would not fit a datagram');
      return;
    }
    this.pendingCount++;
    reply.slot = slot;
    reply.okLength = okLength;
    reply.failLength = failLength;
    responseTarget(msg, source, this.target);
    reply.port = this.target.port;
    reply.address = this.target.address;
    reply.socketIndex = socketIndex;
    reply.tx = tx;
    reply.number = number;
    reply.nowMs = nowMs;
    reply.startedAtMs = startedAtMs;
    reply.created = decision.registeredCount;
    reply.removed = decision.removeCount;
    this.locks.lock(number);
    this.queued[this.queuedCount++] = reply;
    this.scheduleCommit();
  }

  /**
   * The request as the policy sees it: every string it needs copied as bytes into one reused buffer
   * (the Contact URIs and keys, the AOR, Call-ID, User-Agent, source, local address and account).
   */
  private askFrom(msg: SipMessage, address: string, port: number, socketIndex: number, number: string, account: Account, nowMs: number): RegisterAsk {
    const via = msg.via;
    const viaNat = looksNatted(this.hostChars.of(msg.buf, via.hostStart, via.hostEnd), via.port, address, port);
    const ask = this.ask;
    const t = this.askText.at(0);
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
    t.text(this.localText(socketIndex));
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
    ask.number = number;
    ask.cseq = msg.cseq;
    ask.star = msg.contactStar;
    ask.expiresHeaderS = msg.expires;
    ask.contactCount = contactCount;
    ask.sourcePort = port;
    ask.account = account;
    ask.nowMs = nowMs;
    ask.random = this.random();
    ask.horizonMs = this.writeBack.horizonFor(number);
    return ask;
  }

  /** A pending reply back to the free list, its decision emptied. */
  private recycle(reply: PendingReply): void {
    reply.decision.reset();
    this.freeReplies.push(reply);
  }

  /** A decision with nothing to commit: a refusal, a query, or a removal of nothing. Answered at once. */
  private answerNow(msg: SipMessage, source: RemoteAddress, socketIndex: number, tx: number, number: string, decision: Decision,
    nowMs: number, startedAtMs: number): void {
    if (decision.kind === 'reject') {
      this.reject(msg, source, socketIndex, tx, decision.code, decision.reason, number, decision.detail,
        decision.minExpiresS >= 0 ? decision.minExpiresS : -1);
      return;
    }
    // The current bindings.
    const slot = this.transport.acquire();
    if (slot === null) { this.abandon(tx); return; }
    const n = this.writeOk(slot.buf, SLOT_HALF * 2, msg, source, decision, nowMs);
    this.send(slot, n, msg, source, socketIndex, tx);
    counters.registersAccepted++;
    counters.processed++;
    counters.processingUsTotal += Math.round((performance.now() - startedAtMs) * 1000);
  }

  /**
   * A quiet refresh: answered now, its new times held for the next flush. Held only once its 200 is
   * written: a refresh the phone is not told of changes nothing (its retransmission is decided afresh).
   */
  private answerRefresh(msg: SipMessage, source: RemoteAddress, socketIndex: number, tx: number, number: string, decision: Apply,
    nowMs: number, startedAtMs: number): void {
    const slot = this.transport.acquire();
    if (slot === null) { this.abandon(tx); return; }
    const n = this.writeOk(slot.buf, SLOT_HALF * 2, msg, source, decision, nowMs);
    if (typeof n !== 'number') {
      this.transport.releaseUnsent(slot);
      this.reject(msg, source, socketIndex, tx, 500, 'Server Internal Error - Response Too Large', number, '500: the 200 OK would not fit a datagram');
      return;
    }
    this.writeBack.record(number, decision, nowMs);
    this.send(slot, n, msg, source, socketIndex, tx);
    counters.registersAccepted++;
    counters.processed++;
    counters.processingUsTotal += Math.round((performance.now() - startedAtMs) * 1000);
  }

  /**
   * Starts the next group commit when none is in flight, and not before SS_STORE_COMMIT_WINDOW_MS after
   * the last one started (unless commitBatchEarly changes wait): alone, a change commits at once; in a
   * storm (every phone re-registering after a power failure) the changes of each window share one
   * commit and one fdatasync.
   */
  private scheduleCommit(): void {
    if (this.committing || this.queuedCount === 0) return;
    const early = this.queuedCount >= registrarLimits.commitBatchEarly;
    if (this.commitTimer !== null) {
      if (!early) return;
      clearTimeout(this.commitTimer);
      this.commitTimer = null;
    }
    const windowMs = this.params.storeCommitWindowMs;
    const waitMs = this.lastCommitAtMs + windowMs - performance.now();
    if (windowMs > 0 && waitMs >= 1 && !early) {
      this.commitTimer = boundedTimeout(this.onCommitTimer, waitMs);
      return;
    }
    this.flush();
  }

  /**
   * Group commit: writes every queued decision in one LMDB transaction. While that commit is in flight,
   * new decisions queue (their numbers locked) and go together in the next one, so the batch grows
   * with the load instead of the commit rate capping throughput (lmdb-js would otherwise make one
   * transaction per event-loop turn, a few datagrams each).
   */
  private flush(): void {
    if (this.queuedCount === 0) return;
    this.lastCommitAtMs = performance.now();
    const batch = this.batchPool.pop() ?? new Batch(this);
    const list = this.queued;
    this.queued = batch.replies;
    batch.replies = list;
    batch.count = this.queuedCount;
    this.queuedCount = 0;
    // One lmdb-js transaction callback for the whole batch: its writes go straight into the write
    // transaction (lmdb-js runs the callback synchronously when the write thread opens it), instead of
    // each put queueing an instruction with a resolution object and a closure of its own. The callback
    // is bound once per pooled batch. A reply whose writes throw is answered 500 on its own (writeBatch).
    let commit: Promise<unknown>;
    try {
      commit = this.store.root.transaction(batch.write);
    } catch (err) {
      commit = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.committing = true;
    batch.committed = false;
    batch.promise = commit;
    commit.then(batch.onCommitted, batch.onFailed);
  }

  /**
   * A batch's commit resolved: visible to every reader, not yet on disk (lmdb-js overlappingSync syncs
   * after the commit). Its answers wait for that fdatasync; the next batch may commit meanwhile (its
   * numbers differ: these stay locked until answered).
   */
  committed(batch: Batch): void {
    batch.committed = true;
    this.committing = false;
    this.store.root.flushed.then(batch.onDurable, batch.onFailed);
    this.scheduleCommit();
  }

  /** The commit, or its sync, failed: every REGISTER of the batch is answered 500. */
  failed(batch: Batch, err: unknown): void {
    if (!batch.committed) this.committing = false;
    this.settle(batch, false, err);
  }

  /** The batch's writes, inside its write transaction (synchronous, as lmdb-js requires). */
  writeBatch(batch: Batch): void {
    const rows = batch.rows;
    rows.reset();
    for (let i = 0; i < batch.count; i++) {
      const r = batch.replies[i]!;
      const d = r.decision;
      // lmdb-js commits what a callback wrote before a throw, so one bad reply must not stop the rest:
      // it is answered 500 (its merge writes nothing when it throws before its put).
      try {
        d.toLists(this.mergePuts, this.mergeDrops);
        this.merge.apply(this.store, r.number, this.mergePuts, this.mergeDrops);
      } catch (err) {
        r.failed = true;
        this.log.error({ err: err instanceof Error ? err.message : String(err), number: r.number }, 'binding write failed: answering 500');
        continue;
      }
      const buf = d.buf;
      try {
        for (let i = 0; i < d.changeCount; i++) {
          const rec = d.changeRec[i]!;
          rows.begin(r.nowMs, d.changeEvent[i]!).text(r.number).next()
            .bytes(buf, codec.strStart(buf, rec, Str.source), codec.strLength(buf, rec, Str.source)).next()
            .bytes(buf, codec.strStart(buf, rec, Str.userAgent), codec.strLength(buf, rec, Str.userAgent)).next()
            .bytes(buf, d.detailStart[i]!, d.detailLength[i]!).endRow();
        }
      } catch (err) {
        rows.dropPartial();
        this.log.error({ err: err instanceof Error ? err.message : String(err), number: r.number }, 'history row not written');
      }
    }
    this.mergePuts.clear();
    this.mergeDrops.clear();
  }

  /** A batch's commit is on disk, or failed: send each pre-written answer (200, or 500 when it failed). */
  settle(batch: Batch, ok: boolean, err: unknown): void {
    const nowMs = this.now();
    if (!ok) {
      // lmdb-js hangs the cause on err.commitError, a promise it rejects too: observe it, or the
      // process would die of an unhandled rejection on a full disk.
      const detail = (err as { commitError?: unknown } | null)?.commitError;
      if (detail instanceof Promise) detail.catch((cause: unknown) => this.log.error({ err: String(cause) }, 'store commit failure cause'));
      counters.storeWriteFailures++;
      this.log.error({ err: err instanceof Error ? err.message : String(err), registers: batch.count }, 'store commit failed: answering 500');
    } else {
      this.writes.rows.append(batch.rows);   // durable: its history rows join the next flush
    }
    batch.rows.reset();
    for (let i = 0; i < batch.count; i++) {
      const r = batch.replies[i]!;
      const slot = r.slot!;
      let n = r.okLength;
      if (!ok || r.failed) {
        slot.buf.copy(slot.buf, 0, SLOT_HALF, SLOT_HALF + r.failLength);
        n = r.failLength;
        counters.registersRejected++;
      } else {
        counters.registersAccepted++;
        counters.bindingsCreated += r.created;
        counters.bindingsRemoved += r.removed;
      }
      if (r.tx >= 0) this.transactions.complete(r.tx, slot.buf, n, nowMs);
      this.transport.send(slot, n, r.port, r.address, r.socketIndex);
      counters.responsesSent++;
      counters.processed++;
      counters.processingUsTotal += Math.round((performance.now() - r.startedAtMs) * 1000);
      this.locks.unlock(r.number);
      r.slot = null;
      r.failed = false;
      r.address = '';
      r.number = '';
      this.recycle(r);
      this.pendingCount--;
    }
    batch.count = 0;
    batch.promise = null;
    batch.committed = false;
    this.batchPool.push(batch);
    // What queued during that commit goes next, then deferred requests (their numbers may be free).
    this.scheduleCommit();
    this.drainDeferred();
    if (this.pendingCount === 0 && this.deferred.length === 0 && this.queuedCount === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private defer(msg: SipMessage, address: string, port: number, socketIndex: number, tx: number): void {
    if (this.deferred.length >= registrarLimits.deferredMax) {
      this.overloaded(msg, this.sourceView(address, port), socketIndex, tx);
      return;
    }
    // The datagram is copied: the transport does not promise it outlives the handler.
    this.deferred.push({ buf: Buffer.from(msg.buf.subarray(0, msg.length)), address, port, socketIndex, tx });
  }

  /** Re-runs deferred REGISTERs whose number is free now, in arrival order. */
  private drainDeferred(): void {
    if (this.deferred.length === 0 || this.draining) return;
    this.draining = true;
    try {
      const list = this.deferred;
      this.deferred = [];
      for (const d of list) {
        const msg = this.deferMsg;
        if (parse(msg, d.buf) !== null) { this.abandon(d.tx); continue; }
        this.handleRegister(msg, d.address, d.port, d.socketIndex, d.tx, true);
      }
    } finally {
      this.draining = false;
    }
  }

  // --- answers --------------------------------------------------------------------------------------

  private challenge(msg: SipMessage, source: RemoteAddress, socketIndex: number, tx: number, stale: boolean, nowMs: number): void {
    const slot = this.transport.acquire();
    if (slot === null) { this.abandon(tx); return; }
    const nonce = this.nonces.issue(nowMs, source.address);
    const realm = this.config.sip.realm;
    const w = this.writer.begin(slot.buf, msg, 401, 'Unauthorized', source);
    for (const algorithm of this.offered) {
      w.header('WWW-Authenticate', formatChallenge({ realm, nonce, algorithm, qopAuth: true, stale }));
    }
    const n = w.raw(this.serverLine).finish();
    counters.challengesSent++;
    this.sendOrDrop(slot, n, msg, source, socketIndex, tx);
  }

  private overloaded(msg: SipMessage, source: RemoteAddress, socketIndex: number, tx: number): void {
    counters.overloadAnswered++;
    this.reply(msg, source, socketIndex, tx, 503, 'Service Unavailable', 'Retry-After', this.retryAfterS());
  }

  /** SS_OVERLOAD_RETRY_AFTER spread randomly up to twice its value, so refused phones come back apart. */
  private retryAfterS(): number {
    const base = this.params.overloadRetryAfterS;
    return base + Math.floor(this.random() * base);
  }

  private reject(msg: SipMessage, source: RemoteAddress, socketIndex: number, tx: number, code: number, reason: string,
    number: string, detail: string, minExpiresS = -1): void {
    counters.registersRejected++;
    if (minExpiresS >= 0) this.reply(msg, source, socketIndex, tx, code, reason, 'Min-Expires', String(minExpiresS));
    else this.reply(msg, source, socketIndex, tx, code, reason, null, null);
    this.recordEvent('rejected', number, source.address, source.port, msg, detail, this.now());
  }

  private storeFailure(msg: SipMessage, source: RemoteAddress, socketIndex: number, tx: number, number: string, err: unknown): void {
    counters.storeWriteFailures++;
    counters.registersRejected++;
    this.log.error({ err: err instanceof Error ? err.message : String(err), number }, 'store access failed: answering 500');
    this.reply(msg, source, socketIndex, tx, 500, Responses.storeFailed[1], 'Retry-After', this.retryAfterS());
  }

  /** A final answer without a body of its own (one optional extra header), sent now. */
  private reply(msg: SipMessage, source: RemoteAddress, socketIndex: number, tx: number, code: number, reason: string,
    header: string | null, value: string | number | null): void {
    const slot = this.transport.acquire();
    if (slot === null) { this.abandon(tx); return; }
    const n = this.writeSimple(slot.buf, msg, source, code, reason, header, value);
    this.sendOrDrop(slot, n, msg, source, socketIndex, tx);
  }

  private writeSimple(buf: Buffer, msg: SipMessage, source: RemoteAddress, code: number, reason: string,
    header: string | null, value: string | number | null): number | 'ERR_SIP_WRITE_OVERFLOW' {
    const w: ResponseWriterType = this.writer.begin(buf, msg, code, reason, source, Math.min(buf.length, SLOT_HALF * 2));
    if (header !== null && value !== null) {
      if (typeof value === 'number') w.headerNum(header, value);
      else w.header(header, value);
    }
    return w.raw(this.serverLine).finish();
  }

  /** 200 OK: every current contact with its remaining expires (RFC 3261 §10.3 step 8), and Date. */
  private writeOk(buf: Buffer, sizeMax: number, msg: SipMessage, source: RemoteAddress, d: Apply, nowMs: number): number | 'ERR_SIP_WRITE_OVERFLOW' {
    const w = this.writer.begin(buf, msg, 200, 'OK', source, Math.min(buf.length, sizeMax));
    for (let i = 0; i < d.currentCount; i++) {
      const b = d.currentOwn[i] === 1 ? d.buf : this.stored.buf;
      const rec = d.currentRec[i]!;
      const leftS = Math.max(0, Math.ceil((codec.expiresAtMs(b, rec) - nowMs) / 1000));
      const instance = (codec.flags(b, rec) & codec.FLAG_INSTANCE) !== 0;
      w.contactBytes(b, codec.strStart(b, rec, Str.contact), codec.strLength(b, rec, Str.contact),
        codec.strStart(b, rec, Str.instance), instance ? codec.strLength(b, rec, Str.instance) : -1, leftS);
    }
    w.header('Date', this.date(nowMs));
    return w.raw(this.serverLine).finish();
  }

  private sendOrDrop(slot: ResponseSlot, n: number | 'ERR_SIP_WRITE_OVERFLOW', msg: SipMessage, source: RemoteAddress, socketIndex: number, tx: number): void {
    if (typeof n !== 'number') {
      this.transport.releaseUnsent(slot);
      this.abandon(tx);
      return;
    }
    this.send(slot, n, msg, source, socketIndex, tx);
  }

  private send(slot: ResponseSlot, n: number | 'ERR_SIP_WRITE_OVERFLOW', msg: SipMessage, source: RemoteAddress, socketIndex: number, tx: number): void {
    if (typeof n !== 'number') { this.transport.releaseUnsent(slot); this.abandon(tx); return; }
    if (tx >= 0) this.transactions.complete(tx, slot.buf, n, this.now());
    responseTarget(msg, source, this.target);
    this.transport.send(slot, n, this.target.port, this.target.address, socketIndex);
    counters.responsesSent++;
  }

  private abandon(tx: number): void {
    if (tx >= 0) this.transactions.abandon(tx);
  }

  // --- small helpers --------------------------------------------------------------------------------

  private readonly sourceScratch = { address: '', port: 0 };
  private sourceView(address: string, port: number): RemoteAddress {
    this.sourceScratch.address = address;
    this.sourceScratch.port = port;
    return this.sourceScratch;
  }

  private readonly localTexts: string[] = [];
  private localText(socketIndex: number): string {
    let t = this.localTexts[socketIndex];
    if (t === undefined) {
      const a = this.transport.localAddress(socketIndex);
      t = formatAddress(a.address, a.port);
      this.localTexts[socketIndex] = t;
    }
    return t;
  }

  private upperHalf(slot: ResponseSlot): Buffer {
    let b = this.upperHalves[slot.index];
    if (b === undefined || b === null) {
      assert(slot.buf.length >= SLOT_HALF * 2);
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

  /** One event object, filled per row: appendEvent encodes it during the call. */
  private readonly eventScratch: EventRecord = { atMs: 0, type: 'registered', number: '', source: '', userAgent: '', detail: '' };
  private writeEvent(type: EventType, number: string, source: string, userAgent: string, detail: string, nowMs: number): Promise<boolean> {
    const e = this.eventScratch;
    e.atMs = nowMs;
    e.type = type;
    e.number = number;
    e.source = source;
    e.userAgent = userAgent;
    e.detail = detail;
    const written = appendEvent(this.store, e);
    e.number = e.source = e.userAgent = e.detail = '';
    return written;
  }

  /** rejected/auth_failed history rows, at most rejectEventsPerSecondMax a second (a scanner cannot flood it). */
  private recordEvent(type: EventType, number: string, address: string, port: number, msg: SipMessage, detail: string, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.eventSecond) { this.eventSecond = second; this.eventsThisSecond = 0; }
    if (++this.eventsThisSecond > registrarLimits.rejectEventsPerSecondMax) return;
    this.writeEvent(type, number, formatAddress(address, port), msg.userAgent() ?? '', detail, nowMs).catch((err: unknown) => {
      counters.storeWriteFailures++;
      if (this.log.isLevelEnabled('debug')) this.log.debug({ err: String(err) }, 'event write failed');
    });
  }
}

const URI_START = DigestParam.Uri * 3;
const A_UPPER = 0x41, Z_UPPER = 0x5a;

/**
 * Whether the digest `uri` is the Request-URI as the phone sent it: byte for byte, ASCII letters in any
 * case (a scheme and host are case-insensitive; phones copy the Request-URI, RFC 3261 §22.4). A quoted
 * value with backslash escapes (never seen from a phone) is compared as text.
 */
function uriIsRequestUri(msg: SipMessage, creds: DigestParams): boolean {
  const t = creds.table;
  const us = t[URI_START]!;
  const ue = t[URI_START + 1]!;
  if (us < 0) return false;
  const rs = msg.requestUri.start;
  const re = msg.requestUri.end;
  const a = creds.buf;
  const b = msg.buf;
  if (t[URI_START + 2] === 1 && hasByte(a, us, ue, BACKSLASH)) return creds.uri() === msg.requestUri.raw();
  if (ue - us !== re - rs) return false;
  for (let i = 0; i < ue - us; i++) {
    let x = a[us + i]!;
    let y = b[rs + i]!;
    if (x >= A_UPPER && x <= Z_UPPER) x |= 0x20;
    if (y >= A_UPPER && y <= Z_UPPER) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}

function hostIn(uri: SipMessage['requestUri'], domains: readonly string[]): boolean {
  for (const d of domains) if (uri.hostEquals(d)) return true;
  return false;
}

const DQUOTE = 0x22, BACKSLASH = 0x5c;

function hasByte(buf: Buffer, start: number, end: number, byte: number): boolean {
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
