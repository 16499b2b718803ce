/**
 * The time source of the trunk state machines. Every deadline (retransmission, Timer F, refresh,
 * retry, keepalive) is computed from `nowMs()` and armed through `setTimer`, so the unit tests drive
 * whole registration lifetimes on a fake clock in milliseconds of real time.
 */
import { boundedTimeout } from '../timers.js';

export interface TimerHandle {
  readonly id: number;
}

export interface TrunkClock {
  nowMs(): number;
  setTimer(fn: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** Wall clock and node timers (a delay past what a node timer holds waits the longest it can: timers.ts). */
export function systemClock(): TrunkClock {
  const live = new Map<number, NodeJS.Timeout>();
  let nextId = 1;
  return {
    nowMs: () => Date.now(),
    setTimer(fn, delayMs) {
      const id = nextId++;
      const t = boundedTimeout(() => {
        live.delete(id);
        fn();
      }, delayMs);
      live.set(id, t);
      return { id };
    },
    clearTimer(handle) {
      const t = live.get(handle.id);
      if (t === undefined) return;
      clearTimeout(t);
      live.delete(handle.id);
    },
  };
}
