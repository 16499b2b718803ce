/** Text charts for an 80-column terminal: a column chart of a series over time, and horizontal bars. */
import { displayText } from '../ops/sanitize.js';
import { bar, cut } from './format.js';

/**
 * A column chart: one text column per point (null: no data, drawn as blank), heightRows rows, the
 * y axis labelled with the top and bottom values, and two time labels under it.
 */
export function columnChart(points: readonly (number | null)[], heightRows: number, leftLabel: string, rightLabel: string): string[] {
  const values = points.filter((p): p is number => p !== null);
  if (values.length === 0) return ['(no samples in this period: the service was not running, or has just started)'];
  const max = Math.max(...values);
  const min = Math.min(...values);
  // Scale from a floor under the minimum so a flat line is visible and a dip shows.
  const floor = min === max ? Math.max(0, min - 1) : Math.max(0, min - Math.ceil((max - min) / 4));
  const span = Math.max(1, max - floor);
  const labelCols = Math.max(String(max).length, String(floor).length);
  const lines: string[] = [];
  for (let row = heightRows; row >= 1; row--) {
    const threshold = floor + (span * (row - 0.5)) / heightRows;
    const cells = points.map((p) => (p === null ? ' ' : p >= threshold ? '#' : ' ')).join('');
    const label = row === heightRows ? String(max) : row === 1 ? String(floor) : '';
    lines.push(`${label.padStart(labelCols)} |${cells}`.trimEnd());
  }
  lines.push(`${' '.repeat(labelCols)} +${'-'.repeat(points.length)}`);
  const gap = Math.max(1, points.length - leftLabel.length - rightLabel.length);
  lines.push(`${' '.repeat(labelCols + 2)}${leftLabel}${' '.repeat(gap)}${rightLabel}`);
  return lines;
}

/**
 * `name  count  ####`, bars scaled to the largest count, every line within widthCols. Names are
 * peer text (a User-Agent's model): shown with displayText, so the columns line up after the escapes.
 */
export function barChart(rows: readonly { name: string; count: number }[], widthCols = 80, nameColsMax = 28): string[] {
  if (rows.length === 0) return ['(none)'];
  const nameCols = Math.min(nameColsMax, Math.max(...rows.map((r) => displayText(r.name).length)));
  const countCols = Math.max(...rows.map((r) => String(r.count).length));
  const max = Math.max(...rows.map((r) => r.count));
  const barCols = Math.max(5, widthCols - nameCols - countCols - 3);
  return rows.map((r) => cut(`${cut(r.name, nameCols).padEnd(nameCols)} ${String(r.count).padStart(countCols)} ${bar(r.count, max, barCols)}`, widthCols));
}
