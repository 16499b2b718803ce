// Waiting in tests, one way: sleep, and poll a condition until it holds or a deadline passes.

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface UntilOptions {
  /** ms between looks (default 100). */
  readonly everyMs?: number;
  /** More to say in the timeout error (the state the test was waiting on). */
  readonly detail?: () => string;
}

/**
 * Polls `f` until it returns something other than undefined, null or false, and returns that; throws
 * "timed out waiting for <what>" after `timeoutMs`.
 */
export async function until<T>(what: string, f: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 5000, options: UntilOptions = {}): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}${options.detail === undefined ? '' : `; ${options.detail()}`}`);
    }
    await sleep(options.everyMs ?? 100);
  }
}
