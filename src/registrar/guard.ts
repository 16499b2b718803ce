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
 * In memory there are only counters, in three bounded tables (BoundedTable: the least recently updated
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
import assert from 'node:assert';
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
  const store: Store = ctx.store;
  let params: Params = ctx.config().params;
  let deny = new CidrMatcher(ctx.config().acl.deny);
  let allow = new CidrMatcher(ctx.config().acl.allow);
  let global: TokenBucket | null = null;
  const scratch = new Uint8Array(16);

  const sources = new BoundedTable(options.sourceTableMax ?? guardLimits.sourceTableMax);
  const buckets = new Float64Array(sources.capacity * 2);
  const addressKeys: (string | null)[] = new Array<string | null>(sources.capacity).fill(null);
  const lastNumbers: (string | null)[] = new Array<string | null>(sources.capacity).fill(null);
  const numberKeys: (string | null)[] = new Array<string | null>(sources.capacity).fill(null);
  const pairKeys: (string | null)[] = new Array<string | null>(sources.capacity).fill(null);
  const guessKeys: (string | null)[] = new Array<string | null>(sources.capacity).fill(null);

  const pairs = new BoundedTable(options.failurePairTableMax ?? guardLimits.failurePairTableMax);
  const pairFailures = new Int32Array(pairs.capacity);
  const pairLastMs = new Float64Array(pairs.capacity);

  const addresses = new BoundedTable(options.failureAddressTableMax ?? guardLimits.failureAddressTableMax);
  const addressNumbers = new Int32Array(addresses.capacity);
  const addressLastMs = new Float64Array(addresses.capacity);

  const numbers = new BoundedTable(options.failureNumberTableMax ?? guardLimits.failureNumberTableMax);
  const numberLevel = new Float64Array(numbers.capacity);
  const numberLastMs = new Float64Array(numbers.capacity);

  // The source of the address seen last, when that is IPv6 (an IPv4 source is the address string
  // itself): a phone's requests in a row build its /64 once.
  let lastAddress = '';
  let lastSource = '';
  const sourceKey = (address: string): string => {
    if (address.indexOf(':') < 0) return address;
    if (address !== lastAddress) {
      lastSource = sourceOf(address);
      lastAddress = address;
    }
    return lastSource;
  };

  const onWriteFailed = (err: unknown): false => {
    counters.storeWriteFailures++;
    ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'lockout write failed');
    return false;
  };

  const configureGlobal = (): void => {
    const rate = params.registerRateGlobalPerS;
    if (rate <= 0) { global = null; return; }
    const burst = Math.max(1, rate); // one second's worth: the cap is a rate, not a queue
    // Full as of the first request: the callers' clock (nowMs) is the only one the guard uses.
    if (global === null) global = new TokenBucket(rate, burst, Number.NEGATIVE_INFINITY);
    else global.configure(rate, burst);
  };
  configureGlobal();

  /** The slot of a source (sourceKey), created (full bucket, no cached keys) when new; marks it updated. */
  const sourceSlot = (source: string, nowMs: number): number => {
    let slot = sources.find(source);
    if (slot >= 0) {
      sources.touch(slot);
      return slot;
    }
    slot = sources.insert(source);
    bucketFill(buckets, slot * 2, nowMs, params.registerBurstPerSource);
    addressKeys[slot] = null;
    lastNumbers[slot] = null;
    numberKeys[slot] = null;
    pairKeys[slot] = null;
    guessKeys[slot] = null;
    return slot;
  };

  /** Caches the `number:`, `guess:` and `pair:` keys of the number last seen from this source. */
  const cacheNumber = (slot: number, number: string, source: string): void => {
    if (lastNumbers[slot] === number) return;
    lastNumbers[slot] = number;
    numberKeys[slot] = lockoutKeyNumber(number);
    guessKeys[slot] = lockoutKeyGuessed(number);
    pairKeys[slot] = lockoutKeyPair(number, source);
  };

  // Suspensions written but not yet committed: a read of the store would not see them, and an attacker
  // would get more guesses in the meantime. Each entry lives only until its commit settles.
  const pending = new Map<string, LockoutRecord>();

  // Whether the lockouts database held no record when last looked at in this turn of the event loop
  // (null: not looked at yet). Most of the time nothing is suspended (lapsed records are swept), and one
  // count per turn then replaces three reads per REGISTER. Cleared by setImmediate, i.e. before the next
  // turn's datagrams, and whenever one of our own suspensions commits; another process's write (the
  // console's kick-and-hold) is seen from the next turn, as a read through lmdb-js's per-turn snapshot is.
  let storeEmpty: boolean | null = null;
  const forgetEmpty = (): void => { storeEmpty = null; };
  /** Whether any suspension may be active: false when nothing is pending and the store holds none. */
  const anySuspended = (): boolean => {
    if (pending.size > 0) return true;
    if (storeEmpty === null) {
      storeEmpty = store.lockouts.getKeysCount({ limit: 1 }) === 0;
      setImmediate(forgetEmpty);
    }
    return !storeEmpty;
  };
  const active = (key: string, nowMs: number): LockoutRecord | null => {
    if (!anySuspended()) return null;
    if (pending.size > 0) {
      const rec = pending.get(key);
      if (rec !== undefined) return rec.untilMs > nowMs ? rec : null;
    }
    if (storeEmpty === true) return null;
    const rec = store.lockouts.get(key);
    return rec !== undefined && rec.untilMs > nowMs ? rec : null;
  };

  // The `locked_out` history rows and warn lines of one second, at most lockoutEventsPerSecondMax (the
  // registrar's rejections have the same kind of cap): a botnet tripping rules everywhere at once must
  // not flood the history or the journal. The suspensions themselves are always written.
  let eventSecond = -1;
  let eventsThisSecond = 0;
  let eventsUnwritten = 0;
  const suspend = (rec: LockoutRecord, userAgent: string, detail: string): void => {
    // An operator (or an earlier rule) may already hold this key for longer: never shorten it.
    const existing = pending.get(rec.key) ?? store.lockouts.get(rec.key);
    if (existing !== undefined && existing.untilMs >= rec.untilMs) return;
    pending.set(rec.key, rec);
    const settled = (): void => { if (pending.get(rec.key) === rec) pending.delete(rec.key); storeEmpty = null; };
    store.lockouts.put(rec.key, rec).then(settled, (err: unknown) => { settled(); onWriteFailed(err); });
    const second = Math.floor(rec.createdAtMs / 1000);
    if (second !== eventSecond) {
      if (eventsUnwritten > 0) {
        ctx.log.warn({ unwritten: eventsUnwritten, perSecondMax: registrarLimits.lockoutEventsPerSecondMax },
          'more suspensions in one second than are recorded: the rest are in `sipreg lockouts` only');
      }
      eventSecond = second;
      eventsThisSecond = 0;
      eventsUnwritten = 0;
    }
    if (++eventsThisSecond > registrarLimits.lockoutEventsPerSecondMax) { eventsUnwritten++; return; }
    appendEvent(store, {
      atMs: rec.createdAtMs, type: 'locked_out', number: rec.number, source: rec.address, userAgent, detail,
    }).catch(onWriteFailed);
    ctx.log.warn({ kind: rec.kind, number: rec.number, address: rec.address, untilMs: rec.untilMs }, detail);
  };

  return {
    checkSource(address: string, nowMs: number): SourceVerdict {
      if (deny.size > 0 || allow.size > 0) {
        const family = parseAddress(address, scratch);
        if (deny.matchesBytes(family, scratch)) return 'acl_denied';
        if (allow.size > 0 && !allow.matchesBytes(family, scratch)) return 'acl_denied';
      }
      const source = sourceKey(address);
      const slot = sourceSlot(source, nowMs);
      const rate = params.registerRatePerSourcePerS;
      if (rate > 0 && !bucketTake(buckets, slot * 2, nowMs, rate, params.registerBurstPerSource)) return 'rate_limited';
      let key = addressKeys[slot];
      if (key === null || key === undefined) key = addressKeys[slot] = lockoutKeyAddress(source);
      if (active(key, nowMs) !== null) return 'address_locked';
      // An IPv6 address held on its own (the console holds the address a binding came from).
      if (source !== address && source.endsWith('/64') && anySuspended() &&
        active(lockoutKeyAddress(normalizeAddress(address)), nowMs) !== null) return 'address_locked';
      if (global !== null && !global.take(nowMs)) return 'overloaded';
      return 'ok';
    },

    checkNumber(number: string, address: string, nowMs: number): NumberVerdict {
      if (!anySuspended()) return 'ok';
      const source = sourceKey(address);
      let slot = sources.find(source);
      if (slot < 0) slot = sourceSlot(source, nowMs);
      cacheNumber(slot, number, source);
      if (active(pairKeys[slot]!, nowMs) !== null) return 'pair_locked';
      if (active(numberKeys[slot]!, nowMs) !== null) return 'number_held';
      if (active(guessKeys[slot]!, nowMs) !== null) return 'number_suspended';
      return 'ok';
    },

    authFailed(number: string, address: string, userAgent: string, nowMs: number): boolean {
      const retry = params.registerRetryCount;
      const scanner = params.scannerNumbersMax;
      const budget = params.numberFailuresMax;
      if (retry <= 0 && scanner <= 0 && budget <= 0) return false;
      const normalized = sourceKey(address);
      const slot = sources.find(normalized);
      const cached = slot >= 0 && lastNumbers[slot] === number;
      const pairKey = cached ? pairKeys[slot]! : lockoutKeyPair(number, normalized);
      let locked = false;

      let p = pairs.find(pairKey);
      let newNumber = false;
      if (p < 0) {
        p = pairs.insert(pairKey);
        pairFailures[p] = 0;
        newNumber = true;
      } else {
        pairs.touch(p);
        if (nowMs - pairLastMs[p]! > guardLimits.failureWindowMs) { pairFailures[p] = 0; newNumber = true; }
      }
      pairFailures[p]!++;
      pairLastMs[p] = nowMs;
      if (retry > 0 && pairFailures[p]! >= retry) {
        const failures = pairFailures[p]!;
        pairFailures[p] = 0;
        suspend({
          key: pairKey, kind: 'pair', address: normalized, number, untilMs: nowMs + params.registerSuspendS * 1000,
          createdAtMs: nowMs, failures, reason: `SS_ENDPOINT_REGISTER_RETRY: ${failures} failed authentications`,
        }, userAgent,
        `${number} from ${normalized} suspended for ${params.registerSuspendS} s after ${failures} failed authentications (SS_ENDPOINT_REGISTER_RETRY)`);
        locked = true;
      }

      let a = addresses.find(normalized);
      if (a < 0) {
        a = addresses.insert(normalized);
        addressNumbers[a] = 0;
      } else {
        addresses.touch(a);
        if (nowMs - addressLastMs[a]! > guardLimits.failureWindowMs) addressNumbers[a] = 0;
      }
      addressLastMs[a] = nowMs;
      if (newNumber) addressNumbers[a]!++;
      if (scanner > 0 && addressNumbers[a]! >= scanner) {
        const numbers = addressNumbers[a]!;
        addressNumbers[a] = 0;
        suspend({
          key: lockoutKeyAddress(normalized), kind: 'address', address: normalized, number: '',
          untilMs: nowMs + params.registerSuspendS * 1000, createdAtMs: nowMs, failures: numbers,
          reason: `SS_REGISTER_SCANNER_NUMBERS: failed authentications for ${numbers} different numbers`,
        }, userAgent,
        `address ${normalized} suspended for ${params.registerSuspendS} s: failed authentications for ${numbers} different numbers, last ${number} (SS_REGISTER_SCANNER_NUMBERS)`);
        locked = true;
      }

      if (budget > 0) {
        let n = numbers.find(number);
        let level = 0;
        if (n < 0) {
          n = numbers.insert(number);
        } else {
          numbers.touch(n);
          const elapsedMs = nowMs - numberLastMs[n]!;
          level = numberLevel[n]! - (elapsedMs > 0 ? (elapsedMs * budget) / guardLimits.failureWindowMs : 0);
          if (level < 0) level = 0;
        }
        level = Math.min(budget, level + 1);
        numberLevel[n] = level;
        numberLastMs[n] = nowMs;
        const guessKey = cached ? guessKeys[slot]! : lockoutKeyGuessed(number);
        // Reached when less than one failure's worth has decayed meanwhile: `budget` failures within an
        // hour / budget (two minutes at the default) suspend; spread wider, a few more are needed.
        if (level > budget - 1 && active(guessKey, nowMs) === null) {
          suspend({
            key: guessKey, kind: 'number', address: '', number, untilMs: nowMs + params.registerSuspendS * 1000, createdAtMs: nowMs,
            failures: budget,
            reason: `SS_REGISTER_NUMBER_FAILURES: ${budget} failed authentications within the hour from all sources; refused from sources it is not registered from`,
          }, userAgent,
          `${number} suspended for ${params.registerSuspendS} s from sources it is not registered from: ${budget} failed authentications within the hour, last from ${normalized} (SS_REGISTER_NUMBER_FAILURES)`);
          locked = true;
        }
      }
      return locked;
    },

    authSucceeded(number: string, address: string): void {
      // Only a source with failures can have a pair to forget: the common case builds no string.
      const source = sourceKey(address);
      if (addresses.find(source) < 0) return;
      const slot = sources.find(source);
      const pairKey = slot >= 0 && lastNumbers[slot] === number ? pairKeys[slot]! : lockoutKeyPair(number, source);
      pairs.delete(pairKey);
    },

    reload(config: Config): void {
      params = config.params;
      deny = new CidrMatcher(config.acl.deny);
      allow = new CidrMatcher(config.acl.allow);
      configureGlobal();
    },

    tableSizes() {
      return { sources: sources.size, failingPairs: pairs.size, failingAddresses: addresses.size, failingNumbers: numbers.size };
    },
  };
}

/**
 * Removes lapsed suspensions (untilMs at or before nowMs), at most `batchMax`. Each removal re-reads the
 * record inside the write transaction, so a suspension renewed meanwhile (by the service or an operator
 * in another process) is kept. Resolves with how many went.
 */
export async function sweepLockouts(store: Store, nowMs: number, batchMax = guardLimits.lockoutSweepBatchMax): Promise<number> {
  assert(batchMax >= 1);
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
