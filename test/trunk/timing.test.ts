// The timing rules as a table, and the invariant that matters: a refresh always starts before the
// granted expiry lapses, for every grant and every register period.
import t from 'tap';
import {
  refreshDelayMs, retryDelayMs, retransmitIntervalMs, askedExpiresS, GRANTED_EXPIRES_MAX_S, RETRY_AFTER_MAX_S,
} from '../../src/trunk/index.js';
import { TIMER_DELAY_MAX_MS } from '../../src/timers.js';

t.test('refresh never lets a registration lapse', async (t) => {
  let worst = 0;
  for (let granted = 1; granted <= 7200; granted++) {
    for (const fixed of [null, 20, 60, 300, 3600, 7200]) {
      const d = refreshDelayMs(granted, fixed);
      if (d >= granted * 1000 || d <= 0) t.fail(`granted ${granted} fixed ${fixed}: ${d} ms`);
      worst = Math.max(worst, d / (granted * 1000));
    }
  }
  t.ok(worst <= 0.9, `latest refresh at ${Math.round(worst * 100)} % of the grant`);
});

t.test('no grant, Min-Expires or Retry-After arms a timer node would fire at once (issue 13)', async (t) => {
  const absurd = [7_201, GRANTED_EXPIRES_MAX_S, GRANTED_EXPIRES_MAX_S + 1, 2_147_484, 3_000_000, 2 ** 31, 4_294_967_295];
  for (const granted of absurd) {
    for (const fixed of [null, 20, 7200]) {
      const d = refreshDelayMs(granted, fixed);
      t.ok(d > 0 && d <= GRANTED_EXPIRES_MAX_S * 1000 && d < TIMER_DELAY_MAX_MS, `granted ${granted} s, fixed ${fixed}: refresh in ${d} ms`);
    }
    t.ok(retryDelayMs(30, granted) <= RETRY_AFTER_MAX_S * 1000, `Retry-After ${granted} s`);
  }
  t.equal(refreshDelayMs(3_000_000, null), 77_760_000, 'Auto: planned on a day, 10 % margin');
  t.equal(refreshDelayMs(4_294_967_295, 60), 30_000, 'fixed: half the period, whatever the grant');
});

t.test('rules', async (t) => {
  t.equal(refreshDelayMs(3600, null), 3_240_000, 'Auto: 10 % margin');
  t.equal(refreshDelayMs(30, null), 25_000, 'Auto: at least 5 s margin');
  t.equal(refreshDelayMs(6, null), 3_000, 'Auto: never later than half for short grants');
  t.equal(refreshDelayMs(600, 600), 300_000, 'fixed: half');
  t.equal(refreshDelayMs(30, 600), 25_000, 'fixed, granted less: Auto rule on the grant');
  t.equal(retryDelayMs(60, null), 60_000);
  t.equal(retryDelayMs(60, 30), 60_000, 'a shorter Retry-After does not shorten the delay');
  t.equal(retryDelayMs(60, 300), 300_000);
  t.equal(retryDelayMs(60, 999_999), 3_600_000, 'Retry-After capped at an hour');
  t.same([0, 1, 2, 3, 4, 5, 6].map((i) => retransmitIntervalMs(i, false)), [500, 1000, 2000, 4000, 4000, 4000, 4000], 'Timer E');
  t.equal(retransmitIntervalMs(0, true), 4000, 'after a provisional: T2');
  t.equal(askedExpiresS(null, 3600, 0), 3600);
  t.equal(askedExpiresS(60, 3600, 300), 300, 'Min-Expires remembered');
});
