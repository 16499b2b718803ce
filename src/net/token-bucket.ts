/**
 * Token buckets. The state is two numbers (tokens, last refill time) so that a table of buckets can live
 * in one Float64Array column pair with no object per bucket; TokenBucket wraps a single one.
 *
 * Tokens refill continuously at `ratePerS` up to `burst`; a request takes one. A clock that steps back
 * (a test's fake clock, an NTP step seen through Date.now()) refills nothing and never goes negative.
 */
import { assert } from '../assert.js';

/** Takes one token from the bucket stored at state[i] (tokens) and state[i + 1] (last refill, ms). */
export function bucketTake(state: Float64Array, i: number, nowMs: number, ratePerS: number, burst: number): boolean {
  let tokens = state[i]!;
  const lastMs = state[i + 1]!;
  if (nowMs > lastMs) {
    tokens += ((nowMs - lastMs) * ratePerS) / 1000;
    if (tokens > burst) tokens = burst;
    state[i + 1] = nowMs;
  }
  if (tokens < 1) {
    state[i] = tokens;
    return false;
  }
  state[i] = tokens - 1;
  return true;
}

/** Fills the bucket at state[i] to `burst` as of nowMs (a new source starts with a full bucket). */
export function bucketFill(state: Float64Array, i: number, nowMs: number, burst: number): void {
  state[i] = burst;
  state[i + 1] = nowMs;
}

export class TokenBucket {
  private readonly state = new Float64Array(2);
  private ratePerS: number;
  private burst: number;

  constructor(ratePerS: number, burst: number, nowMs: number) {
    assert(ratePerS > 0, 'ratePerS > 0');
    assert(burst >= 1, 'burst >= 1');
    this.ratePerS = ratePerS;
    this.burst = burst;
    bucketFill(this.state, 0, nowMs, burst);
  }

  take(nowMs: number): boolean {
    return bucketTake(this.state, 0, nowMs, this.ratePerS, this.burst);
  }

  /** New rate and size; tokens already earned are kept, up to the new size. */
  configure(ratePerS: number, burst: number): void {
    assert(ratePerS > 0, 'ratePerS > 0');
    assert(burst >= 1, 'burst >= 1');
    this.ratePerS = ratePerS;
    this.burst = burst;
    if (this.state[0]! > burst) this.state[0] = burst;
  }

  get tokens(): number {
    return this.state[0]!;
  }
}
