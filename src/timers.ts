/**
 * Every timer of sipreg is armed through here. Node keeps a timer's delay in a signed 32-bit
 * millisecond count: a delay above 2^31-1 ms (24.8 days), a negative one or NaN becomes 1 ms, with only
 * a TimeoutOverflowWarning on stderr. A delay computed from what a peer sent (a trunk provider granting
 * `Expires: 3000000`) would then fire at once, again and again. Here such a delay waits as long as a
 * timer can instead. At the bottom floor beside limits.ts, so every layer can import it.
 */

/** The longest delay a node timer honours: 2^31-1 ms, about 24.8 days. */
export const TIMER_DELAY_MAX_MS = 2 ** 31 - 1;

/**
 * `delayMs` as a timer can take it: 0..TIMER_DELAY_MAX_MS. Too long (or not a number) waits the
 * longest a timer can, never less; negative means now.
 */
export function timerDelayMs(delayMs: number): number {
  if (delayMs <= 0) return 0;
  if (!(delayMs < TIMER_DELAY_MAX_MS)) return TIMER_DELAY_MAX_MS; // also NaN
  return delayMs;
}

/** setTimeout with the delay clamped by timerDelayMs. */
export function boundedTimeout(fn: () => void, delayMs: number): NodeJS.Timeout {
  return setTimeout(fn, timerDelayMs(delayMs));
}

/** setInterval with the interval clamped by timerDelayMs (at least 1 ms, as node does). */
export function boundedInterval(fn: () => void, intervalMs: number): NodeJS.Timeout {
  return setInterval(fn, Math.max(1, timerDelayMs(intervalMs)));
}
