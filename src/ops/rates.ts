/** The rates table the console's Analysis screen and `sipreg stats` both print: one column per period. */
import type { Analysis, Rates } from '../stats/analysis.js';

export function ratesLines(a: Analysis): string[] {
  const cols: [string, Rates][] = [['last 5 min', a.last5min], ['last hour', a.lastHour], ['last day', a.lastDay]];
  const row = (label: string, f: (r: Rates) => string): string => `${label.padEnd(24)}${cols.map(([, r]) => f(r).padStart(12)).join('')}`;
  return [
    `${''.padEnd(24)}${cols.map(([l]) => l.padStart(12)).join('')}`,
    row('REGISTER received /s', (r) => r.registersPerS.toFixed(2)),
    row('accepted (200 OK) /s', (r) => r.acceptedPerS.toFixed(2)),
    row('auth failures /s', (r) => r.authFailuresPerS.toFixed(2)),
    row('auth failure ratio', (r) => `${(r.authFailureRatio * 100).toFixed(1)}%`),
    row('rejected /s', (r) => r.rejectedPerS.toFixed(2)),
    row('avg processing (ms)', (r) => (r.avgProcessingMs === null ? '-' : r.avgProcessingMs.toFixed(3))),
    row('minutes sampled', (r) => String(r.minutes)),
  ];
}
