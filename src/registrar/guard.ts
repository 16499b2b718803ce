/**
 * Brute force and flood protection in front of the REGISTER path (contract in guard-types.ts).
 *
 * Decisions, in the order checkSource makes them (cheapest first, and so that requests we drop anyway
 * never spend what normal phones need):
 *   1. static ACL: `acl.deny` wins; a non-empty `acl.allow` admits only its ranges → 'acl_denied';
 *   2. per-source token bucket (SS_REGISTER_RATE_PER_IP / SS_REGISTER_BURST_PER_IP) → 'rate_limited'
 *      (in memory, so a flood from one address is shed before it costs a store read);
 *   3. whole-address suspension in the store (scanner rule) → 'address_locked';
 *   4. global token bucket (SS_REGISTER_RATE_GLOBAL, burst one second's worth) → 'overloaded'.
 * checkNumber then reads the pair suspension (`pair:<n>@<ip>`), the operator's hold (`number:<n>`) and
 * the number's own suspension after failures from many addresses (`guess:<n>`, SS_REGISTER_NUMBER_FAILURES).
 *
 * A source is what net/sourceOf makes of the address: an IPv4 address itself, an IPv6 address its /64
 * (one subscriber's prefix: a host there can take any of 2^64 addresses, so per-address counting would
 * give it 2^64 buckets and lockouts). The token bucket, the lockout keys and the failure counts are
 * all per source.
 *
 * Suspensions live only in the store (`store.lockouts`): every check reads it (a synchronous read from
 * the memory map), so `sipreg unlock`, `sipreg unregister N --hold S` and a restart all take effect at
 * once, and nothing in the heap can disagree with what the console shows. A record whose `untilMs` has
 * passed is treated as absent; lockoutSweeper() removes such records periodically.
 *
 * In memory there are only counters, in four bounded tables (BoundedTable: the least recently updated
 * entry is evicted first when full):
 *   - sources (guardLimits.sourceTableMax): per source address, its token bucket and the lockout key strings
 *     built for it (so a phone that keeps sending from one address costs no string building). Evicting
 *     one forgets its bucket: the address comes back with a full bucket (fail-open, bounded by the
 *     global cap); a flood of spoofed addresses evicts each other, and idle phones, never the hot one.
 *   - failing pairs (guardLimits.failurePairTableMax): failed authentications per number@address. Evicting one
 *     forgets its count; a failure needs a challenge round trip to the real address (spoofing cannot
 *     fill this table), and each source is held to its rate, so pushing a pair out takes that many
 *     other failing pairs first.
 *   - failing addresses (guardLimits.failureAddressTableMax): distinct failing numbers per address, for the
 *     scanner rule. A number counts as new when its pair entry is new; a pair evicted and re-added
 *     counts again (errs towards suspending a scanner sooner, never a phone that fails one number).
 *   - failing numbers (guardLimits.failureNumberTableMax): per number, failures from every source together, for
 *     guessing spread over many addresses (each staying under SS_ENDPOINT_REGISTER_RETRY). The count
 *     decays linearly, SS_REGISTER_NUMBER_FAILURES per guardLimits.failureWindowMs, and is capped there; reaching
 *     it suspends the number for SS_ENDPOINT_REGISTER_SUSPEND from sources it is not registered from
 *     (the registrar exempts those, so strangers cannot unregister a working phone). While guessing
 *     goes on, the count stays at its cap and the next failure after the suspension lapses renews it:
 *     the whole world gets about SS_REGISTER_NUMBER_FAILURES guesses an hour, plus one per suspension.
 *     Pushing a number out of this table takes that many failures for other numbers, each a round trip
 *     from a source the scanner rule suspends after SS_REGISTER_SCANNER_NUMBERS of them.
 * Counts age out: a pair or address with no failure for guardLimits.failureWindowMs starts again at zero.
 *
 * Every failure counted here came with a nonce issued to its source address (nonce.ts binds the MAC to
 * it), i.e. after a round trip to that address: one-way forged packets cannot fill these tables nor
 * suspend the address they claim.
 */
import { boundedInterval } from '../timers.js';
import { assert } from '../assert.js';
import type { Config, Params } from '../config/types.js';
import type { ServiceContext, Component } from '../component.js';
import type { Guard, NumberVerdict, SourceVerdict } from './guard-types.js';
import {
  appendEvent, lockoutKeyAddress, lockoutKeyNumber, lockoutKeyPair, type LockoutRecord, type Store,
} from '../store/index.js';
import { counters } from '../stats/counters.js';
import {
  BoundedTable, CidrMatcher, TokenBucket, bucketFill, bucketTake, normalizeAddress, parseAddress, sourceOf,
} from '../net/index.js';
import { guardLimits, registrarLimits } from '../limits.js';
import type { Logger } from '../log.js';

export interface GuardOptions {
  readonly sourceTableMax?: number;
  readonly failurePairTableMax?: number;
  readonly failureAddressTableMax?: number;
  readonly failureNumberTableMax?: number;
}

/** Key in `lockouts` of a number suspended after failures from many sources (kind 'number', like an
 *  operator's hold, so `sipreg lockouts` shows it and `sipreg unlock NUMBER` lifts it). */
export function lockoutKeyGuessed(number: string): string { return `guess:${number}`; }

/** What createGuard returns: the Guard contract plus introspection for tests and the console. */
export interface GuardWithStats extends Guard {
  /** Current entries per table (each never above its bound). */
  tableSizes(): { sources: number; failingPairs: number; failingAddresses: number; failingNumbers: number };
}

export function createGuard(ctx: ServiceContext, options: GuardOptions = {}): GuardWithStats {
  return new RegisterGuard(ctx, options);
}

/** Sources seen: each one's token bucket and the lockout keys built for it. */
class Sources {
  readonly table: BoundedTable;
  /** Two numbers per slot (bucket level, last fill), net/bucketTake's layout. */
  readonly buckets: Float64Array;
  readonly addressKeys: (string | null)[];
  /** The number last seen from the source and its `number:`, `guess:` and `pair:` keys. */
  readonly lastNumbers: (string | null)[];
  readonly numberKeys: (string | null)[];
  readonly pairKeys: (string | null)[];
  readonly guessKeys: (string | null)[];
  // The source of the address seen last, when that is IPv6 (an IPv4 source is the address string
  // itself): a phone's requests in a row build its /64 once.
  private lastAddress = '';
  private lastSource = '';

  constructor(capacity: number) {
    this.table = new BoundedTable(capacity);
    this.buckets = new Float64Array(capacity * 2);
    const keys = (): (string | null)[] => new Array<string | null>(capacity).fill(null);
    this.addressKeys = keys();
    this.lastNumbers = keys();
    this.numberKeys = keys();
    this.pairKeys = keys();
    this.guessKeys = keys();
  }

  /** The source of an address (net/sourceOf). */
  key(address: string): string {
    if (address.indexOf(':') < 0) return address;
    if (address !== this.lastAddress) {
      this.lastSource = sourceOf(address);
      this.lastAddress = address;
    }
    return this.lastSource;
  }

  /** The slot of a source, created (a bucket of `burst`, no cached keys) when new; marks it updated. */
  slot(source: string, nowMs: number, burst: number): number {
    const table = this.table;
    let slot = table.find(source);
    if (slot >= 0) {
      table.touch(slot);
      return slot;
    }
    slot = table.insert(source);
    bucketFill(this.buckets, slot * 2, nowMs, burst);
    this.addressKeys[slot] = null;
    this.lastNumbers[slot] = null;
    this.numberKeys[slot] = null;
    this.pairKeys[slot] = null;
    this.guessKeys[slot] = null;
    return slot;
  }

  /** Caches the `number:`, `guess:` and `pair:` keys of the number last seen from this source. */
  cacheNumber(slot: number, number: string, source: string): void {
    if (this.lastNumbers[slot] === number) return;
    this.lastNumbers[slot] = number;
    this.numberKeys[slot] = lockoutKeyNumber(number);
    this.guessKeys[slot] = lockoutKeyGuessed(number);
    this.pairKeys[slot] = lockoutKeyPair(number, source);
  }
}

/** The suspensions in force: the store's lockouts, with those written but not yet committed over them. */
class Suspensions {
  // Suspensions written but not yet committed: a read of the store would not see them, and an attacker
  // would get more guesses in the meantime. Each entry lives only until its commit settles.
  private readonly pending = new Map<string, LockoutRecord>();
  // Whether the lockouts database held no record when last looked at in this turn of the event loop
  // (null: not looked at yet). Most of the time nothing is suspended (lapsed records are swept), and one
  // count per turn then replaces three reads per REGISTER. Cleared by setImmediate, i.e. before the next
  // turn's datagrams, and whenever one of our own suspensions commits; another process's write (the
  // console's kick-and-hold) is seen from the next turn, as a read through lmdb-js's per-turn snapshot is.
  private storeEmpty: boolean | null = null;
  private readonly forgetEmpty = (): void => { this.storeEmpty = null; };
  // The `locked_out` history rows and warn lines of one second, at most lockoutEventsPerSecondMax (the
  // registrar's rejections have the same kind of cap): a botnet tripping rules everywhere at once must
  // not flood the history or the journal. The suspensions themselves are always written.
  private eventSecond = -1;
  private eventsThisSecond = 0;
  private eventsUnwritten = 0;

  constructor(private readonly store: Store, private readonly log: Logger, private readonly onWriteFailed: (err: unknown) => false) {}

  /** Whether any suspension may be active: false when nothing is pending and the store holds none. */
  any(): boolean {
    if (this.pending.size > 0) return true;
    if (this.storeEmpty === null) {
      this.storeEmpty = this.store.lockouts.getKeysCount({ limit: 1 }) === 0;
      setImmediate(this.forgetEmpty);
    }
    return !this.storeEmpty;
  }

  /** The suspension under `key` in force at nowMs, or null. */
  active(key: string, nowMs: number): LockoutRecord | null {
    if (!this.any()) return null;
    if (this.pending.size > 0) {
      const rec = this.pending.get(key);
      if (rec !== undefined) return rec.untilMs > nowMs ? rec : null;
    }
    if (this.storeEmpty === true) return null;
    const rec = this.store.lockouts.get(key);
    return rec !== undefined && rec.untilMs > nowMs ? rec : null;
  }

  /** Writes a suspension (never shortening one held for longer), with its `locked_out` row and warn line. */
  suspend(rec: LockoutRecord, userAgent: string, detail: string): void {
    const pending = this.pending;
    const existing = pending.get(rec.key) ?? this.store.lockouts.get(rec.key);
    if (existing !== undefined && existing.untilMs >= rec.untilMs) return;
    pending.set(rec.key, rec);
    const settled = (): void => { if (pending.get(rec.key) === rec) pending.delete(rec.key); this.storeEmpty = null; };
    this.store.lockouts.put(rec.key, rec).then(settled, (err: unknown) => { settled(); this.onWriteFailed(err); });
    const second = Math.floor(rec.createdAtMs / 1000);
    if (second !== this.eventSecond) {
      if (this.eventsUnwritten > 0) {
        this.log.warn({ unwritten: this.eventsUnwritten, perSecondMax: registrarLimits.lockoutEventsPerSecondMax },
          'more suspensions in one second than are recorded: the rest are in `sipreg lockouts` only');
      }
      this.eventSecond = second;
      this.eventsThisSecond = 0;
      this.eventsUnwritten = 0;
    }
    if (++this.eventsThisSecond > registrarLimits.lockoutEventsPerSecondMax) { this.eventsUnwritten++; return; }
    appendEvent(this.store, {
      atMs: rec.createdAtMs, type: 'locked_out', number: rec.number, source: rec.address, userAgent, detail,
    }).catch(this.onWriteFailed);
    this.log.warn({ kind: rec.kind, number: rec.number, address: rec.address, untilMs: rec.untilMs }, detail);
  }
}

/** The Guard of the service: sources, suspensions and the three failure tables (see the top of the file). */
class RegisterGuard implements GuardWithStats {
  private params: Params;
  private deny: CidrMatcher;
  private allow: CidrMatcher;
  private global: TokenBucket | null = null;
  private readonly scratch = new Uint8Array(16);
  private readonly sources: Sources;
  private readonly suspensions: Suspensions;
  private readonly pairs: BoundedTable;
  private readonly pairFailures: Int32Array;
  private readonly pairLastMs: Float64Array;
  private readonly addresses: BoundedTable;
  private readonly addressNumbers: Int32Array;
  private readonly addressLastMs: Float64Array;
  private readonly numbers: BoundedTable;
  private readonly numberLevel: Float64Array;
  private readonly numberLastMs: Float64Array;

  constructor(ctx: ServiceContext, options: GuardOptions) {
    const config = ctx.config();
    this.params = config.params;
    this.deny = new CidrMatcher(config.acl.deny);
    this.allow = new CidrMatcher(config.acl.allow);
    this.sources = new Sources(options.sourceTableMax ?? guardLimits.sourceTableMax);
    this.suspensions = new Suspensions(ctx.store, ctx.log, (err: unknown): false => {
      counters.storeWriteFailures++;
      ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'lockout write failed');
      return false;
    });
    this.pairs = new BoundedTable(options.failurePairTableMax ?? guardLimits.failurePairTableMax);
    this.pairFailures = new Int32Array(this.pairs.capacity);
    this.pairLastMs = new Float64Array(this.pairs.capacity);
    this.addresses = new BoundedTable(options.failureAddressTableMax ?? guardLimits.failureAddressTableMax);
    this.addressNumbers = new Int32Array(this.addresses.capacity);
    this.addressLastMs = new Float64Array(this.addresses.capacity);
    this.numbers = new BoundedTable(options.failureNumberTableMax ?? guardLimits.failureNumberTableMax);
    this.numberLevel = new Float64Array(this.numbers.capacity);
    this.numberLastMs = new Float64Array(this.numbers.capacity);
    this.configureGlobal();
  }

  checkSource(address: string, nowMs: number): SourceVerdict {
    const params = this.params;
    if (this.deny.size > 0 || this.allow.size > 0) {
      const family = parseAddress(address, this.scratch);
      if (this.deny.matchesBytes(family, this.scratch)) return 'acl_denied';
      if (this.allow.size > 0 && !this.allow.matchesBytes(family, this.scratch)) return 'acl_denied';
    }
    const sources = this.sources;
    const source = sources.key(address);
    const slot = sources.slot(source, nowMs, params.registerBurstPerSource);
    const rate = params.registerRatePerSourcePerS;
    if (rate > 0 && !bucketTake(sources.buckets, slot * 2, nowMs, rate, params.registerBurstPerSource)) return 'rate_limited';
    let key = sources.addressKeys[slot];
    if (key === null || key === undefined) key = sources.addressKeys[slot] = lockoutKeyAddress(source);
    const suspensions = this.suspensions;
    if (suspensions.active(key, nowMs) !== null) return 'address_locked';
    // An IPv6 address held on its own (the console holds the address a binding came from).
    if (source !== address && source.endsWith('/64') && suspensions.any() &&
      suspensions.active(lockoutKeyAddress(normalizeAddress(address)), nowMs) !== null) return 'address_locked';
    if (this.global !== null && !this.global.take(nowMs)) return 'overloaded';
    return 'ok';
  }

  checkNumber(number: string, address: string, nowMs: number): NumberVerdict {
    const suspensions = this.suspensions;
    if (!suspensions.any()) return 'ok';
    const sources = this.sources;
    const source = sources.key(address);
    let slot = sources.table.find(source);
    if (slot < 0) slot = sources.slot(source, nowMs, this.params.registerBurstPerSource);
    sources.cacheNumber(slot, number, source);
    if (suspensions.active(sources.pairKeys[slot]!, nowMs) !== null) return 'pair_locked';
    if (suspensions.active(sources.numberKeys[slot]!, nowMs) !== null) return 'number_held';
    if (suspensions.active(sources.guessKeys[slot]!, nowMs) !== null) return 'number_suspended';
    return 'ok';
  }

  authFailed(number: string, address: string, userAgent: string, nowMs: number): boolean {
    const params = this.params;
    if (params.registerRetryCount <= 0 && params.scannerNumbersMax <= 0 && params.numberFailuresMax <= 0) return false;
    const sources = this.sources;
    const normalized = sources.key(address);
    const slot = sources.table.find(normalized);
    const cached = slot >= 0 && sources.lastNumbers[slot] === number;
    const pairKey = cached ? sources.pairKeys[slot]! : lockoutKeyPair(number, normalized);
    // Each rule counts this failure; any may suspend.
    const pair = this.pairFailed(pairKey, number, normalized, userAgent, nowMs);
    const pairLocked = pair.locked;
    const scanner = this.addressFailed(pair.newNumber, number, normalized, userAgent, nowMs);
    const guessKey = cached ? sources.guessKeys[slot]! : null;
    const guessed = params.numberFailuresMax > 0 && this.numberFailed(guessKey, number, normalized, userAgent, nowMs);
    return pairLocked || scanner || guessed;
  }

  authSucceeded(number: string, address: string): void {
    // Only a source with failures can have a pair to forget: the common case builds no string.
    const sources = this.sources;
    const source = sources.key(address);
    if (this.addresses.find(source) < 0) return;
    const slot = sources.table.find(source);
    const pairKey = slot >= 0 && sources.lastNumbers[slot] === number ? sources.pairKeys[slot]! : lockoutKeyPair(number, source);
    this.pairs.delete(pairKey);
  }

  reload(config: Config): void {
    this.params = config.params;
    this.deny = new CidrMatcher(config.acl.deny);
    this.allow = new CidrMatcher(config.acl.allow);
    this.configureGlobal();
  }

  tableSizes(): ReturnType<GuardWithStats['tableSizes']> {
    return { sources: this.sources.table.size, failingPairs: this.pairs.size, failingAddresses: this.addresses.size, failingNumbers: this.numbers.size };
  }

  private configureGlobal(): void {
    const rate = this.params.registerRateGlobalPerS;
    if (rate <= 0) { this.global = null; return; }
    const burst = Math.max(1, rate); // one second's worth: the cap is a rate, not a queue
    // Full as of the first request: the callers' clock (nowMs) is the only one the guard uses.
    if (this.global === null) this.global = new TokenBucket(rate, burst, Number.NEGATIVE_INFINITY);
    else this.global.configure(rate, burst);
  }

  /** The result of pairFailed, reused: whether the pair is new in this window, and whether it was suspended. */
  private readonly pairResult = { newNumber: false, locked: false };

  /** SS_ENDPOINT_REGISTER_RETRY: failures of this number from this source. */
  private pairFailed(pairKey: string, number: string, source: string, userAgent: string, nowMs: number): { newNumber: boolean; locked: boolean } {
    const params = this.params;
    const result = this.pairResult;
    result.newNumber = false;
    result.locked = false;
    let p = this.pairs.find(pairKey);
    if (p < 0) {
      p = this.pairs.insert(pairKey);
      this.pairFailures[p] = 0;
      result.newNumber = true;
    } else {
      this.pairs.touch(p);
      if (nowMs - this.pairLastMs[p]! > guardLimits.failureWindowMs) { this.pairFailures[p] = 0; result.newNumber = true; }
    }
    this.pairFailures[p]!++;
    this.pairLastMs[p] = nowMs;
    const retry = params.registerRetryCount;
    if (retry > 0 && this.pairFailures[p]! >= retry) {
      const failures = this.pairFailures[p]!;
      this.pairFailures[p] = 0;
      this.suspensions.suspend({
        key: pairKey, kind: 'pair', address: source, number, untilMs: nowMs + params.registerSuspendS * 1000,
        createdAtMs: nowMs, failures, reason: `SS_ENDPOINT_REGISTER_RETRY: ${failures} failed authentications`,
      }, userAgent,
      `${number} from ${source} suspended for ${params.registerSuspendS} s after ${failures} failed authentications (SS_ENDPOINT_REGISTER_RETRY)`);
      result.locked = true;
    }
    return result;
  }

  /** SS_REGISTER_SCANNER_NUMBERS: distinct numbers failing from this source (`newNumber`: this one counts). */
  private addressFailed(newNumber: boolean, number: string, source: string, userAgent: string, nowMs: number): boolean {
    const params = this.params;
    let a = this.addresses.find(source);
    if (a < 0) {
      a = this.addresses.insert(source);
      this.addressNumbers[a] = 0;
    } else {
      this.addresses.touch(a);
      if (nowMs - this.addressLastMs[a]! > guardLimits.failureWindowMs) this.addressNumbers[a] = 0;
    }
    this.addressLastMs[a] = nowMs;
    if (newNumber) this.addressNumbers[a]!++;
    const scanner = params.scannerNumbersMax;
    if (scanner <= 0 || this.addressNumbers[a]! < scanner) return false;
    const numbers = this.addressNumbers[a]!;
    this.addressNumbers[a] = 0;
    this.suspensions.suspend({
      key: lockoutKeyAddress(source), kind: 'address', address: source, number: '',
      untilMs: nowMs + params.registerSuspendS * 1000, createdAtMs: nowMs, failures: numbers,
      reason: `SS_REGISTER_SCANNER_NUMBERS: failed authentications for ${numbers} different numbers`,
    }, userAgent,
    `address ${source} suspended for ${params.registerSuspendS} s: failed authentications for ${numbers} different numbers, last ${number} (SS_REGISTER_SCANNER_NUMBERS)`);
    return true;
  }

  /**
   * SS_REGISTER_NUMBER_FAILURES: failures of this number from every source, decaying. `guessKey`: its
   * `guess:` key when the source's cache holds it, else null (built here).
   */
  private numberFailed(guessKey: string | null, number: string, source: string, userAgent: string, nowMs: number): boolean {
    const params = this.params;
    const budget = params.numberFailuresMax;
    let n = this.numbers.find(number);
    let level = 0;
    if (n < 0) {
      n = this.numbers.insert(number);
    } else {
      this.numbers.touch(n);
      const elapsedMs = nowMs - this.numberLastMs[n]!;
      level = this.numberLevel[n]! - (elapsedMs > 0 ? (elapsedMs * budget) / guardLimits.failureWindowMs : 0);
      if (level < 0) level = 0;
    }
    level = Math.min(budget, level + 1);
    this.numberLevel[n] = level;
    this.numberLastMs[n] = nowMs;
    const key = guessKey ?? lockoutKeyGuessed(number);
    // Reached when less than one failure's worth has decayed meanwhile: `budget` failures within an
    // hour / budget (two minutes at the default) suspend; spread wider, a few more are needed.
    if (level <= budget - 1 || this.suspensions.active(key, nowMs) !== null) return false;
    this.suspensions.suspend({
      key, kind: 'number', address: '', number, untilMs: nowMs + params.registerSuspendS * 1000, createdAtMs: nowMs,
      failures: budget,
      reason: `SS_REGISTER_NUMBER_FAILURES: ${budget} failed authentications within the hour from all sources; refused from sources it is not registered from`,
    }, userAgent,
    `${number} suspended for ${params.registerSuspendS} s from sources it is not registered from: ${budget} failed authentications within the hour, last from ${source} (SS_REGISTER_NUMBER_FAILURES)`);
    return true;
  }
}

/**
 * Removes lapsed suspensions (untilMs at or before nowMs), at most `batchMax`. Each removal re-reads the
 * record inside the write transaction, so a suspension renewed meanwhile (by the service or an operator
 * in another process) is kept. Resolves with how many went.
 */
export async function sweepLockouts(store: Store, nowMs: number, batchMax = guardLimits.lockoutSweepBatchMax): Promise<number> {
  assert(batchMax >= 1, 'batchMax >= 1');
  const lapsed: string[] = [];
  for (const { key, value } of store.lockouts.getRange({})) {
    if (value.untilMs <= nowMs) lapsed.push(key);
    if (lapsed.length >= batchMax) break;
  }
  if (lapsed.length === 0) return 0;
  let removed = 0;
  await store.lockouts.transaction(() => {
    for (const key of lapsed) {
      const current = store.lockouts.get(key);
      if (current === undefined || current.untilMs > nowMs) continue;
      void store.lockouts.remove(key);
      removed++;
    }
  });
  return removed;
}

/** A service component that runs sweepLockouts every guardLimits.lockoutSweepIntervalMs. */
export function lockoutSweeper(ctx: ServiceContext, intervalMs = guardLimits.lockoutSweepIntervalMs): Component {
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  const pass = (): void => {
    if (running) return;
    running = true;
    sweepLockouts(ctx.store, Date.now())
      .then((removed) => { if (removed > 0) ctx.log.debug({ removed }, 'lapsed lockouts removed'); })
      .catch((err: unknown) => ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'lockout sweep failed'))
      .finally(() => { running = false; });
  };
  return {
    name: 'lockout-sweeper',
    async start() {
      pass();
      timer = boundedInterval(pass, intervalMs);
      timer.unref();
    },
    reload() {},
    async stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
  };
}
