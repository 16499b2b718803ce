// A fake TrunkClock: time moves only when the test says so; due timers fire in order, and pending
// promise work (store writes, async resolution) is let run between them.
import type { TrunkClock, TimerHandle } from '../../src/trunk/clock.js';

interface Pending { id: number; atMs: number; seq: number; fn: () => void }

export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class FakeClock implements TrunkClock {
  private now: number;
  private pending: Pending[] = [];
  private nextId = 1;
  private seq = 0;

  constructor(startMs = 1_700_000_000_000) {
    this.now = startMs;
  }

  nowMs(): number { return this.now; }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.pending.push({ id, atMs: this.now + Math.max(0, delayMs), seq: this.seq++, fn });
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    this.pending = this.pending.filter((p) => p.id !== handle.id);
  }

  /** Milliseconds until the next timer, or null when none is armed. */
  nextDueInMs(): number | null {
    if (this.pending.length === 0) return null;
    return Math.min(...this.pending.map((p) => p.atMs)) - this.now;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in time order. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    await flush();
    for (;;) {
      this.pending.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
      const next = this.pending[0];
      if (next === undefined || next.atMs > end) break;
      this.pending.shift();
      this.now = next.atMs;
      next.fn();
      await flush();
    }
    this.now = end;
    await flush();
  }

  /** Advances to the next due timer (and fires everything due at that instant). */
  async step(): Promise<void> {
    const due = this.nextDueInMs();
    if (due !== null) await this.advance(due);
  }
}
