/**
 * Text formatting shared by the console and the admin commands: tables that fit a plain 80-column
 * serial terminal, times, durations, CSV. Pure functions, no I/O. Every text these lay out goes
 * through ops/sanitize.ts first (peer-sent values must not drive the operator's terminal).
 */
import { csvCell, displayText } from '../ops/sanitize.js';

/** A plain serial terminal; every screen and table fits it. */
export const SCREEN_COLS = 80;
export const SCREEN_ROWS = 24;

/**
 * Text made displayable (displayText) and cut to cols, the cut marked with `~` (ASCII: serial
 * terminals may not show an ellipsis). Every line a screen or a command prints passes here.
 */
export function cut(text: string, cols: number): string {
  if (cols <= 0) return '';
  const shown = displayText(text);
  return shown.length <= cols ? shown : `${shown.slice(0, cols - 1)}~`;
}

export interface Column {
  readonly title: string;
  readonly align?: 'left' | 'right';
  /** Narrowest it may be cut to when the table is too wide; absent: never cut. */
  readonly minCols?: number;
  /** Which cuttable column gives way first (lowest first, then the widest); default 0. */
  readonly cutOrder?: number;
}

/**
 * Rows under a header, columns one space apart, as lines (no trailing spaces). When the natural width
 * exceeds widthCols, the widest cuttable column is narrowed first, down to its minCols.
 */
export function table(columns: readonly Column[], rows: readonly (readonly string[])[], widthCols = SCREEN_COLS): string[] {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => displayText(r[i] ?? '').length)));
  const total = (): number => widths.reduce((a, b) => a + b, 0) + columns.length - 1;
  while (total() > widthCols) {
    let widest = -1;
    const order = (i: number): number => columns[i]!.cutOrder ?? 0;
    columns.forEach((c, i) => {
      if (c.minCols === undefined || widths[i]! <= c.minCols) return;
      if (widest < 0 || order(i) < order(widest) || (order(i) === order(widest) && widths[i]! > widths[widest]!)) widest = i;
    });
    if (widest < 0) break;
    widths[widest] = Math.max(columns[widest]!.minCols!, widths[widest]! - (total() - widthCols));
  }
  const line = (cells: readonly string[]): string => columns.map((c, i) => {
    const text = cut(cells[i] ?? '', widths[i]!);
    return c.align === 'right' ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  }).join(' ').trimEnd();
  return [line(columns.map((c) => c.title)), ...rows.map(line)].map((l) => cut(l, widthCols));
}

/** Splits text into lines of at most cols, at spaces where it can; continuation lines get `indent`. */
export function wrap(text: string, cols: number, indent = ''): string[] {
  const out: string[] = [];
  let rest = displayText(text);
  let width = cols;
  while (rest.length > width) {
    let at = rest.lastIndexOf(' ', width);
    if (at <= width / 3) at = width;
    out.push(rest.slice(0, at).trimEnd());
    rest = rest.slice(at).trimStart();
    width = cols - indent.length;
  }
  out.push(rest);
  return out.map((l, i) => (i === 0 ? l : indent + l));
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** Local time `YYYY-MM-DD HH:MM:SS` (the appliance's clock and zone, as the operator reads it). */
export function formatDateTime(atMs: number): string {
  const d = new Date(atMs);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** `MM-DD HH:MM`: when it registered, short enough for the table. */
export function formatShortTime(atMs: number): string {
  const d = new Date(atMs);
  return `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** `HH:MM`. */
export function formatClock(atMs: number): string {
  const d = new Date(atMs);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** A duration in the two largest units: `45s`, `12m05s`, `3h07m`, `2d04h`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad2(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad2(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d${pad2(Math.floor((s % 86_400) / 3600))}h`;
}

export function isoOrNull(atMs: number | null): string | null {
  return atMs === null ? null : new Date(atMs).toISOString();
}

/** A header row and one row per object, fields in `fields` order. Lines end in LF, not RFC 4180's CRLF:
 *  the files are read on the appliance and by scripts (awk, cut) more than by spreadsheets, which take both. */
export function toCsv(fields: readonly string[], rows: readonly Record<string, unknown>[]): string {
  const lines = [fields.join(','), ...rows.map((r) => fields.map((f) => csvCell(r[f])).join(','))];
  return `${lines.join('\n')}\n`;
}

/** A horizontal bar of `value / max` over `cols` characters. */
export function bar(value: number, max: number, cols: number): string {
  if (max <= 0 || value <= 0) return '';
  return '#'.repeat(Math.max(1, Math.round((value / max) * cols)));
}
