/**
 * A non-INVITE client transaction over UDP (RFC 3261 §17.1.2): the request is retransmitted per
 * Timer E (T1 doubling to T2, every T2 once a provisional answer came), Timer F ends it with a timeout.
 * Responses arrive through the endpoint by the top Via branch; the Call-ID and CSeq are checked too,
 * so a stray response reusing a branch cannot complete the wrong transaction. One final response
 * completes it; later retransmissions of that response are dropped by the endpoint once released.
 */
import type { RemoteInfo } from 'node:dgram';
import type { SipMessage } from '../sip/index.js';
import type { SipEndpoint } from '../sip/endpoint.js';
import type { TrunkClock, TimerHandle } from './clock.js';
import { readResponse, type TrunkResponse } from './response.js';
import { retransmitIntervalMs, TIMER_F_MS } from './timing.js';
import { counters } from '../stats/counters.js';

export interface TransactionSpec {
  readonly socketIndex: number;
  readonly address: string;
  readonly port: number;
  readonly data: Buffer;
  readonly branch: string;
  readonly callId: string;
  readonly cseq: number;
  /** Ends the transaction early (an un-REGISTER at shutdown waits at most this long). Default Timer F. */
  readonly deadlineMs?: number;
}

/** `response` null: no final answer before the deadline. */
export type FinalHandler = (response: TrunkResponse | null) => void;

export class ClientTransaction {
  private sendCount = 0;
  private provisional = false;
  private retransmit: TimerHandle | null = null;
  private deadline: TimerHandle | null = null;
  private done = false;

  constructor(
    private readonly endpoint: SipEndpoint,
    private readonly clock: TrunkClock,
    readonly spec: TransactionSpec,
    private readonly onFinal: FinalHandler,
  ) {}

  start(): void {
    this.endpoint.expect(this.spec.branch, (msg: SipMessage, _rinfo: RemoteInfo) => this.onResponse(msg));
    this.deadline = this.clock.setTimer(() => this.finish(null), this.spec.deadlineMs ?? TIMER_F_MS);
    this.transmit();
  }

  /** Abandons the transaction without calling back (the trunk moved on: stop, reload, re-register). */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.clearTimers();
    this.endpoint.release(this.spec.branch);
  }

  get finished(): boolean { return this.done; }

  private transmit(): void {
    if (this.done) return;
    this.endpoint.send(this.spec.socketIndex, this.spec.data, this.spec.port, this.spec.address);
    if (this.sendCount === 0) counters.trunkRegistersSent++; // requests, not retransmissions
    const interval = retransmitIntervalMs(this.sendCount, this.provisional);
    this.sendCount++;
    this.retransmit = this.clock.setTimer(() => this.transmit(), interval);
  }

  private onResponse(msg: SipMessage): void {
    if (this.done || msg.isRequest) return;
    if (msg.cseq !== this.spec.cseq || msg.callId() !== this.spec.callId) return;
    if (msg.statusCode < 200) {
      // Proceeding (§17.1.2.2): keep retransmitting, at T2 from now on.
      if (!this.provisional) {
        this.provisional = true;
        if (this.retransmit !== null) this.clock.clearTimer(this.retransmit);
        this.retransmit = this.clock.setTimer(() => this.transmit(), retransmitIntervalMs(this.sendCount, true));
      }
      return;
    }
    this.finish(readResponse(msg));
  }

  private finish(response: TrunkResponse | null): void {
    if (this.done) return;
    this.done = true;
    this.clearTimers();
    this.endpoint.release(this.spec.branch);
    this.onFinal(response);
  }

  private clearTimers(): void {
    if (this.retransmit !== null) this.clock.clearTimer(this.retransmit);
    if (this.deadline !== null) this.clock.clearTimer(this.deadline);
    this.retransmit = null;
    this.deadline = null;
  }
}
