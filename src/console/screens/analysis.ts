/** Console: 5 Analysis, the figures of stats/analysis.ts and a menu of its charts and tables. */
import { readCountersSnapshot } from '../../stats/sampler.js';
import { analyse, trend, type TrendWindow } from '../../stats/analysis.js';
import { ratesLines } from '../../ops/rates.js';
import { countersLines } from '../../ops/counters.js';
import { barChart, columnChart } from '../../ops/chart.js';
import { formatClock, formatDateTime } from '../../ops/format.js';
import { menuLines, unknownChoice } from '../screen.js';
import { failedRegistrationsScreen } from './failed-registrations.js';
import type { ScreenContext } from './context.js';

/** 5 Analysis: the figures, then a menu of charts and tables over the samples and the store. */
export async function analysisScreen(c: ScreenContext): Promise<void> {
  await c.ui.menu(() => {
    const a = analyse(c.store, c.config(), c.now());
    const r = a.last5min;
    const h = a.lastHour;
    return {
      title: 'Analysis',
      body: [
        `Registered now: ${a.registered} (behind NAT ${a.nat})`,
        `Last 5 min: ${r.registersPerS.toFixed(2)} REGISTER/s, ${r.acceptedPerS.toFixed(2)} accepted/s, ` +
          `auth failures ${r.authFailuresPerS.toFixed(2)}/s (${(r.authFailureRatio * 100).toFixed(1)}%)`,
        `Last hour:  ${h.registersPerS.toFixed(2)} REGISTER/s, avg processing ${h.avgProcessingMs === null ? '-' : `${h.avgProcessingMs.toFixed(3)} ms`}`,
        `Device types: ${a.deviceTypes.length}, areas: ${a.areas.length}`,
        '',
        ' 1  Registration count, last hour      5  Device types (User-Agent)',
        ' 2  Registration count, last day       6  Areas',
        ' 3  Registration count, last week      7  Failed registrations',
        ' 4  Rates and processing time          8  Counters since the service started',
      ],
      menu: menuLines(['Enter refresh', '0 back']),
    };
  }, async (choice) => {
    switch (choice) {
      case '1': await trendScreen(c, 'hour'); return;
      case '2': await trendScreen(c, 'day'); return;
      case '3': await trendScreen(c, 'week'); return;
      case '4': await show(c, 'Rates', () => ratesBody(c)); return;
      case '8': await show(c, 'Counters', () => countersLines(readCountersSnapshot(c.store)), c.historyNow); return;
      case '5': await show(c, 'Device types (by User-Agent)', () => {
        const a = analyse(c.store, c.config(), c.now());
        return [`${a.registered} binding(s), ${a.deviceTypes.length} type(s)`, ...barChart(a.deviceTypes)];
      }); return;
      case '6': await show(c, 'Areas (configured areas, then /24 or /64)', () => {
        const a = analyse(c.store, c.config(), c.now());
        const bars = barChart(a.areas.map((x) => ({ name: `${x.configured ? '' : '~ '}${x.name}`, count: x.count })));
        return a.areas.some((x) => !x.configured)
          ? ['~ = not in a configured area (areas:), grouped by its /24 (IPv4) or /64 (IPv6)', '', ...bars]
          : bars;
      }); return;
      case '7': await failedRegistrationsScreen(c); return;
      default: return unknownChoice(choice);
    }
  });
}

/** 4 Rates and processing time: ops/rates.ts's table over the samples. */
function ratesBody(c: ScreenContext): string[] {
  return [...ratesLines(analyse(c.store, c.config(), c.now())), '', 'Samples are written by the running service once a minute.'];
}

/** 1-3 Registration count over the last hour, day or week, one column per step. */
async function trendScreen(c: ScreenContext, window: TrendWindow): Promise<void> {
  await show(c, `Registration count, last ${window}`, () => {
    const nowMs = c.now();
    const a = analyse(c.store, c.config(), nowMs);
    const pts = trend(a.samples, nowMs, window);
    const label = (ms: number): string => (window === 'hour' ? formatClock(ms) : formatDateTime(ms).slice(5, 16));
    const each = window === 'hour' ? '1 min' : window === 'day' ? '30 min' : '3 hours';
    const known = pts.filter((p) => p.registered !== null);
    return [
      `One column per ${each}; now ${a.registered}` +
        (known.length > 0 ? `, min ${Math.min(...known.map((p) => p.min!))}, max ${Math.max(...known.map((p) => p.max!))}` : ''),
      '',
      ...columnChart(pts.map((p) => p.registered), 10, label(pts[0]!.atMs), label(nowMs)),
    ];
  });
}

/** A read-only screen, rebuilt on Enter (after `refresh`, e.g. asking the service to flush), paged, left with 0. */
async function show(c: ScreenContext, title: string, body: () => string[], refresh?: () => Promise<unknown>): Promise<void> {
  await c.ui.menu(() => ({ title, body: body(), menu: menuLines(['Enter refresh', '0 back']) }), unknownChoice, undefined, refresh);
}
