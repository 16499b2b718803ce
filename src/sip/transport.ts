// UDP transport (RFC 3261 §18): one node:dgram socket per listen address, one module-level handler for
// every datagram, and a bounded pool of preallocated response slots. A slot's buffer is handed to
// socket.send and reused only after its send callback (dgram may queue the send and hold the buffer).
// Sends are queued and go out together at the end of the event-loop turn (setImmediate: right after libuv
// has handed over every datagram it read in one wake-up, up to 32 a socket): on loopback and on a busy
// host the kernel's cost of a UDP send is mostly waking the receiver, which one send of the batch pays
// and the others find awake (measured with bench/registrar/profile.ts: 30 µs → ~10 µs a send at 5,000/s).
// An answer leaves no earlier than before (a change's 200 is still written only after its commit synced).
import { AssertionError, assert } from '../assert.js';
import dgram from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import { limits } from '../limits.js';
import type { ListenAddress } from './listen.js';

/** Called for every datagram that is not oversize; must not keep `buf` past its return. */
export type DatagramHandler = (buf: Buffer, rinfo: RemoteInfo, socketIndex: number) => void;

/** Thrown by start() when a listen address cannot be bound; never on the datagram path. */
export class TransportError extends Error {
  constructor(readonly code: 'ERR_SIP_BIND', message: string) {
    super(message);
    this.name = 'TransportError';
  }
}

/** A preallocated response buffer. Acquire, write, send; it returns to the pool in its own callback. */
export interface ResponseSlot {
  readonly index: number;
  readonly buf: Buffer;
}

interface SlotState extends ResponseSlot {
  inUse: boolean;
  onSent: (err: Error | null | undefined) => void;
  /** Where the queued send goes (set by send(), read by flush()); length 0 when not queued. */
  length: number;
  port: number;
  address: string;
  socketIndex: number;
}

/**
 * What the transport counts, once: the service hands in its own counters object (stats/counters.ts has
 * these fields), so the figures reach `sipreg stats`, the console and the Prometheus textfile as counted here.
 */
export interface TransportCounters {
  /** Every datagram read from a socket, oversize ones included. */
  datagramsReceived: number;
  /** Dropped unread: larger than limits.messageSizeMax. */
  datagramsOversize: number;
  /** Sends the kernel refused (socket errors included). */
  sendErrors: number;
  /** Responses dropped for want of a free slot (the client retransmits). */
  sendDropsNoSlot: number;
}

export function transportCounters(): TransportCounters {
  return { datagramsReceived: 0, datagramsOversize: 0, sendErrors: 0, sendDropsNoSlot: 0 };
}

function noopHandler(): void {}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * dgram resolves the destination of every send through `lookup`, by default dns.lookup, which for an
 * IP literal still defers the send to the next tick with a closure. Responses almost always go to an
 * IP (the source, `received`, or a numeric Via): those are handed back at once and the send happens
 * in the same call. A Via naming a host (RFC 3261 §18.2.2) still goes through dns.lookup.
 */
function sendLookup(host: string, family: number, callback: LookupCallback): void {
  if (isDottedQuad(host) || isIP(host) !== 0) callback(null, host, family);
  else dnsLookup(host, family, callback);
}

/**
 * Canonical dotted-decimal IPv4 (what rinfo.address gives): four octets 0..255 without leading zeros. A
 * loop over the characters instead of net.isIP's regular expression for the common case, once per answer;
 * anything else (IPv6, a name) goes to isIP as before. Every string accepted here isIP accepts.
 */
export function isDottedQuad(s: string): boolean {
  const n = s.length;
  if (n < 7 || n > 15) return false;
  let parts = 0;
  let i = 0;
  while (i < n) {
    const start = i;
    let v = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      v = v * 10 + (c - 0x30);
      i++;
    }
    const len = i - start;
    if (len === 0 || len > 3 || v > 255 || (len > 1 && s.charCodeAt(start) === 0x30)) return false;
    parts++;
    if (i === n) break;
    if (s.charCodeAt(i) !== 0x2e || parts === 4) return false;
    i++;
    if (i === n) return false;
  }
  return parts === 4;
}

const SENT = 0, SEND_ERROR = 1, UNSENT = 2;

export class SipTransport {
  readonly addresses: readonly ListenAddress[];
  private readonly sockets: Socket[] = [];
  private readonly slots: SlotState[] = [];
  private readonly freeSlots: Int32Array;
  private freeCount: number;
  /** Slots sent but not yet handed to their socket, in order; flushed once a turn. */
  private readonly queued: Int32Array;
  private queuedCount = 0;
  private flushScheduled = false;
  private readonly flushBound = (): void => { this.flushScheduled = false; this.flush(); };
  private handler: DatagramHandler = noopHandler;
  private started = false;
  private closed = false;

  constructor(listen: readonly ListenAddress[], slotCount: number = limits.responseSlotCount, slotSize: number = limits.responseSizeMax,
    private readonly receiveBufferAsked: number = limits.socketReceiveBufferSize,
    readonly counters: TransportCounters = transportCounters()) {
    assert(listen.length >= 1, 'listen.length >= 1');
    assert(listen.length <= limits.listenAddressCountMax, 'listen.length <= limits.listenAddressCountMax');
    assert(slotCount >= 1, 'slotCount >= 1');
    assert(slotSize >= 512, 'slotSize >= 512');
    this.addresses = listen;
    this.freeSlots = new Int32Array(slotCount);
    this.freeCount = slotCount;
    this.queued = new Int32Array(slotCount);
    // One arena for all slots; each slot's onSent is made here, once, so sending allocates no closure.
    const arena = Buffer.allocUnsafeSlow(slotCount * slotSize);
    for (let i = 0; i < slotCount; i++) {
      const slot: SlotState = {
        index: i,
        buf: arena.subarray(i * slotSize, (i + 1) * slotSize),
        inUse: false,
        onSent: (err) => this.release(slot, err === null || err === undefined ? SENT : SEND_ERROR),
        length: 0, port: 0, address: '', socketIndex: 0,
      };
      this.slots.push(slot);
      this.freeSlots[i] = slotCount - 1 - i;
    }
  }

  /** Registers the one handler for all sockets (call before start; a module-level function). */
  onDatagram(handler: DatagramHandler): void {
    assert(!this.started, '!this.started');
    this.handler = handler;
  }

  /** Binds every listen address; rejects with a TransportError naming the address on EADDRINUSE/EACCES. */
  async start(): Promise<void> {
    assert(!this.started, '!this.started');
    this.started = true;
    for (let index = 0; index < this.addresses.length; index++) {
      const a = this.addresses[index]!;
      const socket = dgram.createSocket({ type: a.family === 6 ? 'udp6' : 'udp4', ipv6Only: a.family === 6, lookup: sendLookup as never });
      // One closure per socket, made at startup.
      socket.on('message', (buf: Buffer, rinfo: RemoteInfo) => this.onMessage(buf, rinfo, index));
      this.sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException): void => {
          const where = a.family === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
          reject(new TransportError('ERR_SIP_BIND', `cannot bind UDP ${where}: ${err.code ?? err.message}` +
            (err.code === 'EADDRINUSE' ? ' (another process holds the port)' :
              err.code === 'EACCES' ? ' (ports below 1024 need CAP_NET_BIND_SERVICE)' : '')));
        };
        socket.once('error', onError);
        socket.bind({ address: a.host, port: a.port, exclusive: true }, () => {
          socket.off('error', onError);
          // Capped by the kernel at net.core.rmem_max, never refused: receiveBufferSize() tells what was granted.
          try { socket.setRecvBufferSize(this.receiveBufferAsked); } catch { /* kept at the system default */ }
          // Later socket errors (ICMP-induced on some platforms) are counted, never fatal.
          socket.on('error', () => { this.counters.sendErrors++; });
          resolve();
        });
      }).catch(async (err: unknown) => {
        await this.close();
        throw err;
      });
    }
  }

  private onMessage(buf: Buffer, rinfo: RemoteInfo, socketIndex: number): void {
    this.counters.datagramsReceived++;
    if (buf.length > limits.messageSizeMax) { this.counters.datagramsOversize++; return; }
    this.handler(buf, rinfo, socketIndex);
  }

  get socketCount(): number { return this.sockets.length; }

  /** The bound address of socket i (the real port when 0 was asked). */
  localAddress(i: number): { address: string; port: number; family: string } {
    assert(i >= 0 && i < this.sockets.length, 'i >= 0 && i < this.sockets.length');
    return this.sockets[i]!.address();
  }

  /**
   * Bytes the kernel gives socket i to queue received datagrams: what was asked
   * (limits.socketReceiveBufferSize) unless net.core.rmem_max is lower. Linux reports twice the usable
   * size (it counts its bookkeeping); this is the usable figure, comparable with the one asked.
   */
  receiveBufferSize(i: number): number {
    assert(i >= 0 && i < this.sockets.length, 'i >= 0 && i < this.sockets.length');
    return Math.floor(this.sockets[i]!.getRecvBufferSize() / 2);
  }

  /** What start() asked for each socket's receive buffer. */
  get receiveBufferWanted(): number { return this.receiveBufferAsked; }

  /** Index of the socket whose family fits `address` (first match; -1 if none). */
  socketFor(address: string): number {
    const family = isIP(address);
    for (let i = 0; i < this.addresses.length; i++) if (this.addresses[i]!.family === family) return i;
    return -1;
  }

  /** A free slot, or null (then drop the response: counted in sendDropsNoSlot). */
  acquire(): ResponseSlot | null {
    if (this.freeCount === 0) { this.counters.sendDropsNoSlot++; return null; }
    const slot = this.slots[this.freeSlots[--this.freeCount]!]!;
    assert(!slot.inUse, 'a free slot is in use');
    slot.inUse = true;
    return slot;
  }

  /** Returns an acquired slot that will not be sent. */
  releaseUnsent(slot: ResponseSlot): void {
    this.release(this.slots[slot.index]!, UNSENT);
  }

  /**
   * Sends slot.buf[0, length) from socket `socketIndex` at the end of this event-loop turn, with the
   * turn's other answers; the slot returns to the pool in its send callback. The buffer must not change
   * after this call (it never does: the slot is not the caller's any more).
   */
  send(slot: ResponseSlot, length: number, port: number, address: string, socketIndex: number): void {
    const s = this.slots[slot.index]!;
    assert(s === slot && s.inUse, 'sending a slot that was not acquired');
    if (!(length > 0 && length <= s.buf.length)) throw new AssertionError(`response length ${length} outside the slot`);
    if (!(socketIndex >= 0 && socketIndex < this.sockets.length)) throw new AssertionError(`no socket ${socketIndex}`);
    assert(s.length === 0, 'sending a slot already queued');
    if (this.closed) { this.release(s, UNSENT); return; }
    s.length = length;
    s.port = port;
    s.address = address;
    s.socketIndex = socketIndex;
    this.queued[this.queuedCount++] = s.index;   // each slot at most once: it is in use until sent
    if (!this.flushScheduled) { this.flushScheduled = true; setImmediate(this.flushBound); }
  }

  /** Hands every queued answer to its socket, in the order sent. */
  private flush(): void {
    const count = this.queuedCount;
    this.queuedCount = 0;
    for (let i = 0; i < count; i++) {
      const s = this.slots[this.queued[i]!]!;
      const length = s.length;
      s.length = 0;   // handed over: no longer queued
      try {
        this.sockets[s.socketIndex]!.send(s.buf, 0, length, s.port, s.address, s.onSent);
      } catch {
        // A destination node refuses outright (bad port or address) costs this answer, never the service.
        this.release(s, SEND_ERROR);
      }
    }
  }

  private release(slot: SlotState, outcome: number): void {
    assert(slot.inUse, 'releasing a free slot');
    slot.inUse = false;
    this.freeSlots[this.freeCount++] = slot.index;
    if (outcome === SEND_ERROR) this.counters.sendErrors++;
  }

  get freeSlotCount(): number { return this.freeCount; }

  /** Closes every socket; resolves when all are closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();   // answers already written go out before the sockets close
    this.closed = true;
    await Promise.all(this.sockets.map((s) => new Promise<void>((resolve) => {
      try { s.close(() => resolve()); } catch { resolve(); } // never bound: nothing to close
    })));
  }
}
