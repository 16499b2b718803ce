// src/timers.ts: no delay, whatever a peer made us compute, fires a timer at once (issue 13), and every
// timer in src/ is armed through it.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { boundedInterval, boundedTimeout, timerDelayMs, TIMER_DELAY_MAX_MS } from '../src/timers.js';
import { repoRoot } from './helpers/sipreg.js';

t.test('timerDelayMs: within 0..2^31-1, never shorter than asked', async (t) => {
  const table: [number, number][] = [
    [0, 0], [-5, 0], [-Infinity, 0], [1.5, 1.5], [250, 250], [TIMER_DELAY_MAX_MS - 1, TIMER_DELAY_MAX_MS - 1],
    [TIMER_DELAY_MAX_MS, TIMER_DELAY_MAX_MS], [2 ** 31, TIMER_DELAY_MAX_MS], [3_000_000_000, TIMER_DELAY_MAX_MS],
    [Infinity, TIMER_DELAY_MAX_MS], [Number.NaN, TIMER_DELAY_MAX_MS],
  ];
  for (const [asked, armed] of table) t.equal(timerDelayMs(asked), armed, `${asked} ms -> ${armed} ms`);
  t.equal(TIMER_DELAY_MAX_MS, 2_147_483_647);
});

t.test('a delay past 2^31-1 ms does not fire at once (a raw node timer does)', async (t) => {
  let raw = 0;
  let bounded = 0;
  let interval = 0;
  const warn = process.emitWarning;
  process.emitWarning = () => {}; // the raw timer's TimeoutOverflowWarning is the point, not noise
  const a = setTimeout(() => { raw++; }, 3_000_000_000);
  process.emitWarning = warn;
  const b = boundedTimeout(() => { bounded++; }, 3_000_000_000);
  const c = boundedInterval(() => { interval++; }, 3_000_000_000);
  await new Promise((r) => setTimeout(r, 50));
  clearTimeout(a);
  clearTimeout(b);
  clearInterval(c);
  t.equal(raw, 1, 'node fires an overflowing timer after 1 ms');
  t.equal(bounded, 0, 'boundedTimeout waits');
  t.equal(interval, 0, 'boundedInterval waits');
});

t.test('every timer in src/ is armed through src/timers.ts', async (t) => {
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) { walk(path); continue; }
      if (!e.name.endsWith('.ts') || path.endsWith(join('src', 'timers.ts'))) continue;
      readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
        if (/\bset(Timeout|Interval)\s*\(/.test(line.replace(/\/\/.*$/, ''))) offenders.push(`${relative(repoRoot, path)}:${i + 1}: ${line.trim()}`);
      });
    }
  };
  walk(join(repoRoot, 'src'));
  t.same(offenders, [], 'no raw setTimeout/setInterval (use boundedTimeout/boundedInterval)');
});
