/**
 * NAT keepalive: every SS_ENDPOINT_NAT_KEEPALIVE seconds each NATed binding gets a
 * SIP OPTIONS from the listen socket that received its REGISTER (`localAddress`) to the address and port
 * the REGISTER came from, which keeps the phone's NAT pinhole open and tells us whether it still answers.
 *
 * Scheduling: one timer ticking every KEEPALIVE_TICK_MS walks the bindings in store key order like the
 * hand of a clock. A round lasts one interval; at its start the bindings are counted and each tick
 * visits its share (count / ticks per round), so N bindings get N pings spread evenly over the interval
 * and each binding is pinged once per interval, about one interval after its previous ping. Bindings
 * added during a round are visited at its end, at most twice the even share a tick (a storm of new
 * registrations is spread over the next ticks, never walked in one). No timer per binding; the store is
 * read in slices (a cursor), never copied into the heap.
 *
 * Answers: any response (1xx-6xx: even a 404 or 503 proves the pinhole is open) to the ping's branch is
 * an answer. A ping still unanswered when the hand comes round again is missed. After
 * SS_ENDPOINT_NAT_KEEPALIVE_MISSED missed pings in a row the binding is marked unreachable (an
 * `unreachable` event) and, with SS_ENDPOINT_NAT_KEEPALIVE_REMOVE On, removed (an `unregistered` event).
 * A REGISTER refresh (refreshedAtMs moved) proves the phone reaches us: its misses start again.
 *
 * Store writes: the binding's `keepalive` field is written only when it changes meaningfully (missed
 * count or unreachable flips, or the stored last answer is older than KEEPALIVE_RECORD_REFRESH_MS), with
 * the service's periodic flush (store/flush.ts, every SS_STORE_FLUSH_INTERVAL; at most
 * KEEPALIVE_MARKS_PER_FLUSH_MAX a flush, unreachable flips first), as is the `unreachable` event: the write re-reads the current record and replaces only its `keepalive` field (a concurrent
 * REGISTER refresh is never clobbered; a refresh that lands after us wins, which is right). Removing an
 * unreachable binding is a change: its own transaction, with its event, before it counts as done.
 * The bindings are read with the refreshes not yet flushed laid over them (a refresh answered from
 * memory moves refreshedAtMs at once, as the keepalive needs).
 *
 * In the heap: one small state object per NATed binding being pinged (dropped two rounds after its
 * binding stops being visited) and one closure per ping in flight.
 */
import { boundedInterval } from '../timers.js';
import { assert } from '../assert.js';
import type { RemoteInfo } from 'node:dgram';
import type { Config } from '../config/types.js';
import type { Component, ServiceContext } from '../component.js';
import type { SipEndpoint } from '../sip/endpoint.js';
import {
  StoredBindings, appendEvent, bindingCount, storedNumbers, formatAddress, removeBindingIn, setKeepaliveIn, type BindingRecord,
  type FlushPart, type Store,
} from '../store/index.js';
import { counters } from '../stats/counters.js';
import { writeRequest, type SipMessage } from '../sip/index.js';
import { keepaliveBranch, keepaliveCallId, keepaliveTag } from './keepalive-ids.js';
import { limits } from '../limits.js';

/** Resolution of the wheel: with a 30 s interval, 300 slots; 30,000 NAT bindings → 100 pings a tick. */
export const KEEPALIVE_TICK_MS = 100;
/**
 * The least a tick may visit when catching up (bindings added during a round, a timer that came late):
 * 1,000 a second at the 100 ms tick, a few milliseconds of a small box's loop a tick.
 */
export const KEEPALIVE_TICK_VISITS_MIN = 100;
/** Keepalive marks written by one flush (~10 ms of a fast host's loop); more wait for the next flush. */
export const KEEPALIVE_MARKS_PER_FLUSH_MAX = 1_000;
/** A stored last-answer time older than this is rewritten (what the console shows as "last answer"). */
export const KEEPALIVE_RECORD_REFRESH_MS = 300_000;
/**
 * "NAT binding unreachable" log lines a round; the rest of the round's are counted in one line when the
 * next round starts (each is still an `unreachable` event). A site whose 10,000 phones all go at once
 * (its uplink, a power cut) wrote 10,000 journal lines (~3 MB on flash) in a few seconds.
 */
export const KEEPALIVE_UNREACHABLE_LOGS_PER_ROUND = 20;

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
  return new NatKeepalive(ctx, endpoint);
}

/** The listen socket a binding's REGISTER came in on, remembered per local address. */
class ListenSockets {
  private readonly byLocal = new Map<string, number>();

  constructor(private readonly endpoint: SipEndpoint) {}

  /** Exact "ip:port", else a wildcard socket on that port, else the first socket of the family. -1 when there is none. */
  of(b: BindingRecord): number {
    const known = this.byLocal.get(b.localAddress);
    if (known !== undefined) return known;
    const sockets = this.endpoint.sockets;
    const family = b.sourceAddress.includes(':') && !b.sourceAddress.startsWith('::ffff:') ? 6 : 4;
    let found = -1;
    for (const s of sockets) if (formatAddress(s.address, s.port) === b.localAddress) { found = s.index; break; }
    if (found < 0) {
      const colon = b.localAddress.lastIndexOf(':');
      const port = Number(b.localAddress.slice(colon + 1));
      for (const s of sockets) {
        if (s.port === port && (s.address === '0.0.0.0' || s.address === '::')) { found = s.index; break; }
      }
    }
    if (found < 0) for (const s of sockets) if (s.family === family || s.address === '::') { found = s.index; break; }
    if (found >= 0 && this.byLocal.size < 1024) this.byLocal.set(b.localAddress, found); // sockets may not be bound yet
    return found;
  }
}

/**
 * The marks changed since the last flush, written with the service's flush (FlushPart). A failed flush
 * puts them back, to be written with the next.
 */
class KeepaliveMarks implements FlushPart {
  readonly dirty = new Set<PeerState>();
  private readonly writing: PeerState[] = [];

  constructor(private readonly peers: ReadonlyMap<string, PeerState>) {}

  /** Marks `st` for the next flush when what the store holds of it is out of date. */
  markIfChanged(st: PeerState, nowMs: number): void {
    if (st.missed !== st.storedMissed || st.unreachable !== st.storedUnreachable ||
        (st.lastAnsweredAtMs > st.storedAnsweredAtMs && nowMs - st.storedAnsweredAtMs >= KEEPALIVE_RECORD_REFRESH_MS)) {
      this.dirty.add(st);
    }
  }

  /**
   * At most KEEPALIVE_MARKS_PER_FLUSH_MAX marks a flush, unreachable flips first: when a site's phones all
   * stop answering at once (its link is down) their marks go out over a few flushes, never as one flush
   * rewriting every binding on the main thread. The rest stay marked for the next flush.
   */
  write(into: Store): void {
    const writing = this.writing;
    writing.length = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (const st of this.dirty) {
        if (writing.length >= KEEPALIVE_MARKS_PER_FLUSH_MAX) return;
        if (pass === 0 && st.unreachable === st.storedUnreachable) continue;
        setKeepaliveIn(into, st.number, st.contactKey,
          { lastSentAtMs: st.lastSentAtMs, lastAnsweredAtMs: st.lastAnsweredAtMs, missed: st.missed, unreachable: st.unreachable });
        st.storedAnsweredAtMs = st.lastAnsweredAtMs;
        st.storedMissed = st.missed;
        st.storedUnreachable = st.unreachable;
        writing.push(st);
        this.dirty.delete(st);
      }
    }
  }

  settled(ok: boolean): void {
    if (!ok) for (const st of this.writing) if (this.peers.get(st.key) === st) this.dirty.add(st);
    this.writing.length = 0;
  }
}

class NatKeepalive implements KeepaliveComponent {
  readonly name = 'nat-keepalive';
  private readonly store: Store;
  private readonly peers = new Map<string, PeerState>();
  private readonly marks: KeepaliveMarks;
  private readonly sockets: ListenSockets;
  private readonly out = Buffer.allocUnsafe(limits.responseSizeMax);
  private timer: NodeJS.Timeout | null = null;
  private intervalMs = 0;
  private tickMs = KEEPALIVE_TICK_MS;
  // The wheel: the round, when it started, how many bindings it holds and has visited, and where the
  // hand is (the last number visited).
  private roundStartMs = Number.NEGATIVE_INFINITY;
  private roundTotal = 0;
  private visitedInRound = 0;
  private round = 0;
  private cursor: string | null = null;
  private roundDone = false;
  private readonly walked = new StoredBindings();
  private inFlight = 0;
  // "NAT binding unreachable" lines logged this round, and the ones counted instead.
  private unreachableLogged = 0;
  private unreachableUnlogged = 0;
  private cseq = 1;
  private stopped = false;
  private readonly onWriteFailed = (err: unknown): void => {
    counters.storeWriteFailures++;
    this.ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'keepalive write failed');
  };
  private readonly onTick = (): void => this.tick();

  constructor(private readonly ctx: ServiceContext, private readonly endpoint: SipEndpoint) {
    this.store = ctx.store;
    this.marks = new KeepaliveMarks(this.peers);
    this.sockets = new ListenSockets(endpoint);
    ctx.writes.join(this.marks);
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.configure(this.ctx.config());
  }

  reload(next: Config): void {
    this.configure(next);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.intervalMs = 0;
    for (const st of this.peers.values()) this.release(st);
    assert(this.inFlight === 0, 'this.inFlight === 0');
    this.logUnreachableCount();
    // What is marked goes with the final flush (service/run.ts, after every component stopped).
  }

  stats(): KeepaliveStats {
    return { round: this.round, peers: this.peers.size, inFlight: this.inFlight };
  }

  private configure(config: Config): void {
    const nextMs = config.params.natKeepaliveIntervalS * 1000;
    if (nextMs === this.intervalMs && (this.timer !== null || nextMs === 0)) return;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.intervalMs = nextMs;
    if (this.intervalMs <= 0 || this.stopped) {
      for (const st of this.peers.values()) this.release(st);
      return;
    }
    this.tickMs = this.intervalMs / Math.max(1, Math.round(this.intervalMs / KEEPALIVE_TICK_MS));
    this.roundStartMs = Number.NEGATIVE_INFINITY; // the first tick starts a round...
    this.roundDone = true;                         // ...with nothing left over from an earlier one
    this.timer = boundedInterval(this.onTick, this.tickMs);
    this.timer.unref();
    this.ctx.log.info({ intervalS: config.params.natKeepaliveIntervalS, tickMs: this.tickMs }, 'NAT keepalive on');
  }

  private tick(): void {
    const nowMs = Date.now();
    try {
      const cap = this.visitsPerTickMax();
      if (nowMs - this.roundStartMs >= this.intervalMs) {
        // The round that is ending first visits the bindings added during it (a registration storm
        // after a power cut adds thousands), a bounded share a tick: one tick never walks them all at
        // once, which stalled the loop (seconds on a small box, past the watchdog under emulation).
        if (!this.roundDone) {
          this.walk(cap, nowMs);
          if (!this.roundDone) return;
        }
        this.startRound(nowMs);
      }
      // The binding at position p of N is visited about p/N of the way through the round, every round.
      const elapsedMs = nowMs - this.roundStartMs;
      const target = Math.min(this.roundTotal, Math.floor((this.roundTotal * (elapsedMs + this.tickMs)) / this.intervalMs));
      this.walk(Math.min(cap, target - this.visitedInRound), nowMs);
    } catch (err) {
      this.ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'keepalive tick failed');
    }
  }

  /** Bindings one tick may visit: twice an even share of what the store holds now, at least KEEPALIVE_TICK_VISITS_MIN. */
  private visitsPerTickMax(): number {
    return Math.max(KEEPALIVE_TICK_VISITS_MIN, Math.ceil((2 * bindingCount(this.store) * this.tickMs) / this.intervalMs));
  }

  private startRound(nowMs: number): void {
    const round = ++this.round;
    this.logUnreachableCount();
    // Keep the rounds on a fixed beat (no drift from late timers); after a stall, start afresh.
    this.roundStartMs = nowMs - this.roundStartMs >= 2 * this.intervalMs ? nowMs : this.roundStartMs + this.intervalMs;
    this.cursor = null;
    this.roundDone = false;
    this.roundTotal = bindingCount(this.store);
    this.visitedInRound = 0;
    for (const st of this.peers.values()) {
      if (st.round < round - 2) {
        this.release(st);
        this.marks.dirty.delete(st);
        this.peers.delete(st.key);
      }
    }
  }

  /** One line for the round's unreachable bindings that had no line of their own; a new count begins. */
  private logUnreachableCount(): void {
    if (this.unreachableUnlogged > 0) {
      this.ctx.log.info({ more: this.unreachableUnlogged, logged: this.unreachableLogged },
        `${this.unreachableUnlogged} more NAT bindings unreachable in the last round (each is an unreachable event: sipreg events --type unreachable)`);
    }
    this.unreachableLogged = 0;
    this.unreachableUnlogged = 0;
  }

  /** Visits up to `quota` bindings from the cursor; marks the round done at the end of the store. */
  private walk(quota: number, nowMs: number): void {
    if (this.roundDone || quota <= 0) return;
    let visited = 0;
    const cursor = this.cursor;
    let skipFirst = cursor !== null;
    let reachedEnd = true;
    const walked = this.walked;
    // Whole numbers at a time (a number holds at most SERVER_REGISTRAR_MAX_BINDINGS).
    for (const number of storedNumbers(this.store, walked, cursor ?? undefined)) {
      if (skipFirst) {
        skipFirst = false;
        if (number === cursor) continue;
      }
      if (visited >= quota) { reachedEnd = false; break; }
      this.cursor = number;
      this.ctx.writes.overlay?.overlay(number, walked);
      for (const b of walked.decode(number)) {
        visited++;
        this.visit(b, nowMs);
      }
    }
    this.visitedInRound += visited;
    if (reachedEnd) this.roundDone = true;
  }

  private visit(b: BindingRecord, nowMs: number): void {
    if (!b.nat || b.expiresAtMs <= nowMs) return;
    const key = `${b.number}\n${b.contactKey}`;
    let st = this.peers.get(key);
    if (st === undefined) {
      const k = b.keepalive;
      st = {
        key, number: b.number, contactKey: b.contactKey, refreshedAtMs: b.refreshedAtMs,
        lastSentAtMs: k?.lastSentAtMs ?? 0, lastAnsweredAtMs: k?.lastAnsweredAtMs ?? 0,
        missed: k?.missed ?? 0, unreachable: k?.unreachable ?? false, branch: null, round: this.round,
        storedAnsweredAtMs: k?.lastAnsweredAtMs ?? 0, storedMissed: k?.missed ?? 0, storedUnreachable: k?.unreachable ?? false,
      };
      this.peers.set(key, st);
    }
    st.round = this.round;
    if (b.refreshedAtMs !== st.refreshedAtMs) {
      // A REGISTER since the last visit: the phone reaches us, so the pinhole is open.
      st.refreshedAtMs = b.refreshedAtMs;
      this.release(st); // its ping is not held against it
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
      if (nowMs - st.lastSentAtMs < this.intervalMs / 2) return;
      this.release(st);
      st.missed++;
      if (st.missed >= this.ctx.config().params.natKeepaliveMissedMax && !st.unreachable) {
        this.giveUp(st, b);
        if (!this.peers.has(key)) return; // removed
      }
    }
    this.ping(st, b, nowMs);
    this.marks.markIfChanged(st, nowMs);
  }

  private ping(st: PeerState, b: BindingRecord, nowMs: number): void {
    const socketIndex = this.sockets.of(b);
    if (socketIndex < 0) return;
    const socket = this.endpoint.sockets[socketIndex]!;
    const sip = this.ctx.config().sip;
    const wildcard = socket.address === '0.0.0.0' || socket.address === '::';
    const host = wildcard ? (sip.domains[0] ?? sip.realm) : socket.address;
    const branch = keepaliveBranch();
    const requestUri = b.contact.startsWith('<') ? b.contact.slice(1, b.contact.indexOf('>')) : b.contact;
    const n = writeRequest(this.out, {
      method: 'OPTIONS', requestUri, viaHost: host, viaPort: socket.port, branch,
      from: `sip:keepalive@${host.includes(':') ? `[${host}]` : host}`, fromTag: keepaliveTag(), to: b.aor,
      callId: keepaliveCallId(host), cseq: this.cseq, userAgent: sip.userAgent,
    });
    this.cseq = this.cseq >= 0x7ffffffe ? 1 : this.cseq + 1;
    if (typeof n !== 'number') {
      this.ctx.log.warn({ number: b.number, contact: b.contact }, 'keepalive OPTIONS does not fit: not sent');
      return;
    }
    this.endpoint.expect(branch, (_msg: SipMessage, _rinfo: RemoteInfo) => this.answered(st, branch));
    st.branch = branch;
    this.inFlight++;
    st.lastSentAtMs = nowMs;
    this.endpoint.send(socketIndex, this.out.subarray(0, n), b.sourcePort, b.sourceAddress);
    counters.keepalivesSent++;
  }

  private answered(st: PeerState, branch: string): void {
    if (st.branch !== branch) return; // late: already counted as missed and released
    this.release(st);
    counters.keepalivesAnswered++;
    const nowMs = Date.now();
    st.lastAnsweredAtMs = nowMs;
    st.missed = 0;
    st.unreachable = false;
    this.marks.markIfChanged(st, nowMs);
  }

  private release(st: PeerState): void {
    if (st.branch === null) return;
    this.endpoint.release(st.branch);
    st.branch = null;
    this.inFlight--;
  }

  /** Marks unreachable, and removes when configured, if the binding was not refreshed meanwhile. */
  private giveUp(st: PeerState, b: BindingRecord): void {
    const ctx = this.ctx;
    const store = this.store;
    st.unreachable = true;
    const remove = ctx.config().params.natKeepaliveRemove;
    const detail = `no answer to ${st.missed} keepalive OPTIONS from ${b.source} (SS_ENDPOINT_NAT_KEEPALIVE_MISSED)` +
      (remove ? '; binding removed (SS_ENDPOINT_NAT_KEEPALIVE_REMOVE)' : '');
    if (this.unreachableLogged < KEEPALIVE_UNREACHABLE_LOGS_PER_ROUND) {
      this.unreachableLogged++;
      ctx.log.info({ number: b.number, contact: b.contact, source: b.source, missed: st.missed }, 'NAT binding unreachable');
    } else {
      this.unreachableUnlogged++;
    }
    ctx.writes.eventOf(Date.now(), 'unreachable', b.number, b.source, b.userAgent, detail); // with the next flush
    if (!remove) {
      this.marks.dirty.add(st);
      return;
    }
    this.peers.delete(st.key);
    this.marks.dirty.delete(st);
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
    }, this.onWriteFailed);
  }
}
