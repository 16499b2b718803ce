/** The service's counters as `sipreg stats` and the console's Analysis screen print them: two columns. */
import type { CountersSnapshot } from '../stats/sampler.js';
import { snakeCase } from '../stats/prometheus.js';
import { formatDateTime } from './format.js';

export function countersLines(snapshot: CountersSnapshot | null): string[] {
  if (snapshot === null) return ['No counters yet: the service writes them with its flush (SS_STORE_FLUSH_INTERVAL), and when this screen asks.'];
  const out = [`Counters since the service started (as of ${formatDateTime(snapshot.atMs)}):`];
  const entries = Object.entries(snapshot.values);
  const cell = (e: [string, number] | undefined): string => (e === undefined ? '' : `${snakeCase(e[0]).padEnd(26)}${String(e[1]).padStart(12)}`);
  for (let i = 0; i < entries.length; i += 2) out.push(`${cell(entries[i])}  ${cell(entries[i + 1])}`.trimEnd());
  return out;
}
