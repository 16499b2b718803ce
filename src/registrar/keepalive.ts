/**
 * NAT keepalive: every SS_ENDPOINT_NAT_KEEPALIVE seconds each NATed binding gets a
 * SIP OPTIONS from the listen socket that received its REGISTER (`localAddress`) to the address and port
 * the REGISTER came from, which keeps the phone's NAT pinhole open and tells us whether it still answers.
 *
 * Scheduling: one timer ticking every KEEPALIVE_TICK_MS walks the bindings in store key order like the
 * hand of a clock. A round lasts one interval; at its start the bindings are counted and each tick
 * visits its share (count / ticks per round), so N bindings get N pings spread evenly over the interval
 * and each binding is pinged once per interval, about one interval after its previous ping. No timer per
 * binding; the store is read in slices (a cursor), never copied into the heap.
 *
 * Answers: any response (1xx-6xx: even a 404 or 503 proves the pinhole is open) to the ping's branch is
 * an answer. A ping still unanswered when the hand comes round again is missed. After
 * SS_ENDPOINT_NAT_KEEPALIVE_MISSED missed pings in a row the binding is marked unreachable (an
 * `unreachable` event) and, with SS_ENDPOINT_NAT_KEEPALIVE_REMOVE On, removed (an `unregistered` event).
 * A REGISTER refresh (refreshedAtMs moved) proves the phone reaches us: its misses start again.
 *
 * Store writes: the binding's `keepalive` field is written only when it changes meaningfully (missed
 * count or unreachable flips, or the stored last answer is older than KEEPALIVE_RECORD_REFRESH_MS), with
 * the service's periodic flush (store/flush.ts, every SS_STORE_FLUSH_INTERVAL), as is the `unreachable`
 * event: the write re-reads the current record and replaces only its `keepalive` field (a concurrent
 * REGISTER refresh is never clobbered; a refresh that lands after us wins, which is right). Removing an
 * unreachable binding is a change: its own transaction, with its event, before it counts as done.
 * The bindings are read with the refreshes not yet flushed laid over them (a refresh answered from
 * memory moves refreshedAtMs at once, as the keepalive needs).
 *
 * In the heap: one small state object per NATed binding being pinged (dropped two rounds after its
 * binding stops being visited) and one closure per ping in flight.
 */
import { boundedInterval } from '../timers.js';
import assert from 'node:assert';
import type { RemoteInfo } from 'node:dgram';
import type { Config } from '../config/types.js';
import type { Component, ServiceContext } from '../component.js';
import type { SipEndpoint } from '../sip/endpoint.js';
import {
  StoredBindings, appendEvent, bindingCount, storedNumbers, formatAddress, removeBindingIn, setKeepaliveIn, type BindingRecord, type EventRecord,
} from '../store/index.js';
import { counters } from '../stats/counters.js';
import { writeRequest, type SipMessage } from '../sip/index.js';
import { keepaliveBranch, keepaliveCallId, keepaliveTag } from './keepalive-ids.js';
import { limits } from '../limits.js';

/** Resolution of the wheel: with a 30 s interval, 300 slots; 30,000 NAT bindings → 100 pings a tick. */
export const KEEPALIVE_TICK_MS = 100;
/** A stored last-answer time older than this is rewritten (what the console shows as "last answer"). */
export const KEEPALIVE_RECORD_REFRESH_MS = 300_000;

interface PeerState {
  readonly key: string;
  readonly number: string;
  readonly contactKey: string;
  refreshedAtMs: number;
  lastSentAtMs: number;
  lastAnsweredAtMs: number;
  missed: number;
  unreachable: boolean;
  /** Branch of the ping in flight, or null. */
  branch: string | null;
  /** Round of the last visit: states not visited for two rounds are dropped. */
  round: number;
  /** The lastAnsweredAtMs, missed and unreachable last written (or read) in the store. */
  storedAnsweredAtMs: number;
  storedMissed: number;
  storedUnreachable: boolean;
}

export interface KeepaliveStats {
  readonly round: number;
  readonly peers: number;
  readonly inFlight: number;
}

export interface KeepaliveComponent extends Component {
  /** For tests and the console. */
  stats(): KeepaliveStats;
}

export function natKeepalive(ctx: ServiceContext, endpoint: SipEndpoint): KeepaliveComponent {
  const store = ctx.store;
  const peers = new Map<string, PeerState>();
  const dirty = new Set<PeerState>();
  const out = Buffer.allocUnsafe(limits.responseSizeMax);
  const socketByLocal = new Map<string, number>();
  let timer: NodeJS.Timeout | null = null;
  let intervalMs = 0;
  let tickMs = KEEPALIVE_TICK_MS;
  let roundStartMs = Number.NEGATIVE_INFINITY;
  let roundTotal = 0;
  let visitedInRound = 0;
  let round = 0;
  let cursor: string | null = null;
  const walked = new StoredBindings();
  let roundDone = false;
  let inFlight = 0;
  let cseq = 1;
  let stopped = false;

  const onWriteFailed = (err: unknown): void => {
    counters.storeWriteFailures++;
    ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'keepalive write failed');
  };

  /** The listen socket a binding's REGISTER came in on: exact "ip:port", else a wildcard socket on that
   *  port, else the first socket of the family. -1 when there is none. */
  const socketFor = (b: BindingRecord): number => {
    const known = socketByLocal.get(b.localAddress);
    if (known !== undefined) return known;
    const family = b.sourceAddress.includes(':') && !b.sourceAddress.startsWith('::ffff:') ? 6 : 4;
    let found = -1;
    for (const s of endpoint.sockets) if (formatAddress(s.address, s.port) === b.localAddress) { found = s.index; break; }
    if (found < 0) {
      const colon = b.localAddress.lastIndexOf(':');
      const port = Number(b.localAddress.slice(colon + 1));
      for (const s of endpoint.sockets) {
        if (s.port === port && (s.address === '0.0.0.0' || s.address === '::')) { found = s.index; break; }
      }
    }
    if (found < 0) for (const s of endpoint.sockets) if (s.family === family || s.address === '::') { found = s.index; break; }
    if (found >= 0 && socketByLocal.size < 1024) socketByLocal.set(b.localAddress, found); // sockets may not be bound yet
    return found;
  };

  const release = (st: PeerState): void => {
    if (st.branch === null) return;
    endpoint.release(st.branch);
    st.branch = null;
    inFlight--;
  };

  /** A history row with the next flush. */
  const event = (type: EventRecord['type'], b: BindingRecord, detail: string): void => {
    ctx.writes.eventOf(Date.now(), type, b.number, b.source, b.userAgent, detail);
  };

  const markDirtyIfChanged = (st: PeerState, nowMs: number): void => {
    if (st.missed !== st.storedMissed || st.unreachable !== st.storedUnreachable ||
        (st.lastAnsweredAtMs > st.storedAnsweredAtMs && nowMs - st.storedAnsweredAtMs >= KEEPALIVE_RECORD_REFRESH_MS)) {
      dirty.add(st);
    }
  };

  const answered = (st: PeerState, branch: string): void => {
    if (st.branch !== branch) return; // late: already counted as missed and released
    release(st);
    counters.keepalivesAnswered++;
    const nowMs = Date.now();
    st.lastAnsweredAtMs = nowMs;
    st.missed = 0;
    st.unreachable = false;
    markDirtyIfChanged(st, nowMs);
  };

  const ping = (st: PeerState, b: BindingRecord, nowMs: number): void => {
    const socketIndex = socketFor(b);
    if (socketIndex < 0) return;
    const socket = endpoint.sockets[socketIndex]!;
    const wildcard = socket.address === '0.0.0.0' || socket.address === '::';
    const host = wildcard ? (ctx.config().sip.domains[0] ?? ctx.config().sip.realm) : socket.address;
    const branch = keepaliveBranch();
    const requestUri = b.contact.startsWith('<') ? b.contact.slice(1, b.contact.indexOf('>')) : b.contact;
    const n = writeRequest(out, {
      method: 'OPTIONS', requestUri, viaHost: host, viaPort: socket.port, branch,
      from: `sip:keepalive@${host.includes(':') ? `[${host}]` : host}`, fromTag: keepaliveTag(), to: b.aor,
      callId: keepaliveCallId(host), cseq, userAgent: ctx.config().sip.userAgent,
    });
    cseq = cseq >= 0x7ffffffe ? 1 : cseq + 1;
    if (typeof n !== 'number') {
      ctx.log.warn({ number: b.number, contact: b.contact }, 'keepalive OPTIONS does not fit: not sent');
      return;
    }
    endpoint.expect(branch, (_msg: SipMessage, _rinfo: RemoteInfo) => answered(st, branch));
    st.branch = branch;
    inFlight++;
    st.lastSentAtMs = nowMs;
    endpoint.send(socketIndex, out.subarray(0, n), b.sourcePort, b.sourceAddress);
    counters.keepalivesSent++;
  };

  /** Marks unreachable, and removes when configured, if the binding was not refreshed meanwhile. */
  const giveUp = (st: PeerState, b: BindingRecord): void => {
    const p = ctx.config().params;
    st.unreachable = true;
    const remove = p.natKeepaliveRemove;
    const detail = `no answer to ${st.missed} keepalive OPTIONS from ${b.source} (SS_ENDPOINT_NAT_KEEPALIVE_MISSED)` +
      (remove ? '; binding removed (SS_ENDPOINT_NAT_KEEPALIVE_REMOVE)' : '');
    ctx.log.info({ number: b.number, contact: b.contact, source: b.source, missed: st.missed }, 'NAT binding unreachable');
    event('unreachable', b, detail);
    if (!remove) {
      dirty.add(st);
      return;
    }
    peers.delete(st.key);
    dirty.delete(st);
    const missed = st.missed;
    store.root.transaction(() => {
      const removed = removeBindingIn(store, b.number, b.contactKey, b.refreshedAtMs, ctx.writes.overlay);
      if (removed) {
        void appendEvent(store, { atMs: Date.now(), type: 'unregistered', number: b.number, source: b.source, userAgent: b.userAgent,
          detail: `removed: unreachable behind NAT after ${missed} unanswered keepalives (SS_ENDPOINT_NAT_KEEPALIVE_REMOVE)` });
      }
      return removed;
    }).then((removed) => {
      if (removed === true) counters.bindingsRemoved++;
    }, onWriteFailed);
  };

  const visit = (b: BindingRecord, nowMs: number): void => {
    if (!b.nat || b.expiresAtMs <= nowMs) return;
    const key = `${b.number}\n${b.contactKey}`;
    let st = peers.get(key);
    if (st === undefined) {
      const k = b.keepalive;
      st = {
        key, number: b.number, contactKey: b.contactKey, refreshedAtMs: b.refreshedAtMs,
        lastSentAtMs: k?.lastSentAtMs ?? 0, lastAnsweredAtMs: k?.lastAnsweredAtMs ?? 0,
        missed: k?.missed ?? 0, unreachable: k?.unreachable ?? false, branch: null, round,
        storedAnsweredAtMs: k?.lastAnsweredAtMs ?? 0, storedMissed: k?.missed ?? 0, storedUnreachable: k?.unreachable ?? false,
      };
      peers.set(key, st);
    }
    st.round = round;
    if (b.refreshedAtMs !== st.refreshedAtMs) {
      // A REGISTER since the last visit: the phone reaches us, so the pinhole is open.
      st.refreshedAtMs = b.refreshedAtMs;
      release(st); // its ping is not held against it
      st.missed = 0;
      st.unreachable = false;
      const k = b.keepalive;
      st.storedAnsweredAtMs = k?.lastAnsweredAtMs ?? 0;
      st.storedMissed = k?.missed ?? 0;
      st.storedUnreachable = k?.unreachable ?? false;
    }
    if (st.branch !== null) {
      // Bindings removed ahead of this one move it earlier in the round: a ping younger than half an
      // interval has not had its chance yet.
      if (nowMs - st.lastSentAtMs < intervalMs / 2) return;
      release(st);
      st.missed++;
      if (st.missed >= ctx.config().params.natKeepaliveMissedMax && !st.unreachable) {
        giveUp(st, b);
        if (!peers.has(key)) return; // removed
      }
    }
    ping(st, b, nowMs);
    markDirtyIfChanged(st, nowMs);
  };

  // The marks changed since the last flush, written with the service's flush (FlushPart). A failed
  // flush puts them back, to be written with the next.
  const writing: PeerState[] = [];
  ctx.writes.join({
    write(into) {
      writing.length = 0;
      for (const st of dirty) {
        setKeepaliveIn(into, st.number, st.contactKey,
          { lastSentAtMs: st.lastSentAtMs, lastAnsweredAtMs: st.lastAnsweredAtMs, missed: st.missed, unreachable: st.unreachable });
        st.storedAnsweredAtMs = st.lastAnsweredAtMs;
        st.storedMissed = st.missed;
        st.storedUnreachable = st.unreachable;
        writing.push(st);
      }
      dirty.clear();
    },
    settled(ok) {
      if (!ok) for (const st of writing) if (peers.get(st.key) === st) dirty.add(st);
      writing.length = 0;
    },
  });

  const startRound = (nowMs: number): void => {
    round++;
    // Keep the rounds on a fixed beat (no drift from late timers); after a stall, start afresh.
    roundStartMs = nowMs - roundStartMs >= 2 * intervalMs ? nowMs : roundStartMs + intervalMs;
    cursor = null;
    roundDone = false;
    roundTotal = bindingCount(store);
    visitedInRound = 0;
    for (const st of peers.values()) {
      if (st.round < round - 2) {
        release(st);
        dirty.delete(st);
        peers.delete(st.key);
      }
    }
  };

  /** Visits up to `quota` bindings from the cursor; marks the round done at the end of the store. */
  const walk = (quota: number, nowMs: number): void => {
    if (roundDone || quota <= 0) return;
    let visited = 0;
    let skipFirst = cursor !== null;
    let reachedEnd = true;
    // Whole numbers at a time (a number holds at most SERVER_REGISTRAR_MAX_BINDINGS).
    for (const number of storedNumbers(store, walked, cursor ?? undefined)) {
      if (skipFirst) {
        skipFirst = false;
        if (number === cursor) continue;
      }
      if (visited >= quota) { reachedEnd = false; break; }
      cursor = number;
      ctx.writes.overlay?.overlay(number, walked);
      for (const b of walked.decode(number)) {
        visited++;
        visit(b, nowMs);
      }
    }
    visitedInRound += visited;
    if (reachedEnd) roundDone = true;
  };

  const tick = (): void => {
    const nowMs = Date.now();
    try {
      if (nowMs - roundStartMs >= intervalMs) {
        walk(Number.MAX_SAFE_INTEGER, nowMs); // bindings added during the round that is ending
        startRound(nowMs);
      }
      // The binding at position p of N is visited about p/N of the way through the round, every round.
      const elapsedMs = nowMs - roundStartMs;
      const target = Math.min(roundTotal, Math.floor((roundTotal * (elapsedMs + tickMs)) / intervalMs));
      walk(target - visitedInRound, nowMs);
    } catch (err) {
      ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'keepalive tick failed');
    }
  };

  const configure = (config: Config): void => {
    const nextMs = config.params.natKeepaliveIntervalS * 1000;
    if (nextMs === intervalMs && (timer !== null || nextMs === 0)) return;
    if (timer !== null) clearInterval(timer);
    timer = null;
    intervalMs = nextMs;
    if (intervalMs <= 0 || stopped) {
      for (const st of peers.values()) release(st);
      return;
    }
    tickMs = intervalMs / Math.max(1, Math.round(intervalMs / KEEPALIVE_TICK_MS));
    roundStartMs = Number.NEGATIVE_INFINITY; // the first tick starts a round...
    roundDone = true;                         // ...with nothing left over from an earlier one
    timer = boundedInterval(tick, tickMs);
    timer.unref();
    ctx.log.info({ intervalS: config.params.natKeepaliveIntervalS, tickMs }, 'NAT keepalive on');
  };

  return {
    name: 'nat-keepalive',
    async start() {
      stopped = false;
      configure(ctx.config());
    },
    reload(next: Config) {
      configure(next);
    },
    async stop() {
      stopped = true;
      if (timer !== null) clearInterval(timer);
      timer = null;
      intervalMs = 0;
      for (const st of peers.values()) release(st);
      assert(inFlight === 0);
      // What is marked goes with the final flush (service/run.ts, after every component stopped).
    },
    stats() {
      return { round, peers: peers.size, inFlight };
    },
  };
}
