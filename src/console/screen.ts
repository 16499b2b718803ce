/**
 * The console's pure layer: a screen description in, the text for an 80x24 terminal out. No I/O, so
 * tests render screens directly and check they fit.
 */
import { cut, SCREEN_COLS, SCREEN_ROWS } from '../ops/format.js';

export interface Screen {
  readonly title: string;
  /** Lines that stay on every page (a table header, the filter in force). */
  readonly head?: readonly string[];
  /** Lines paged to what the terminal holds. */
  readonly body: readonly string[];
  /** The choices, already laid out (one or two lines). */
  readonly menu: readonly string[];
  /** Where blocks of body lines begin that a page never splits (an event and its detail); absent: none. */
  readonly blocks?: readonly number[];
  /** What 8 and 9 page through: 'time' is a list newest first (8 older, 9 newer); default next/previous. */
  readonly paging?: 'time';
}

/** Status lines on every screen: the figures, the service or an alert, the store. */
export const STATUS_ROWS = 3;

/** Lines around the body: STATUS_ROWS status, 1 title, menu, 1 message, 1 prompt. */
export function bodyRows(screen: Screen, rows = SCREEN_ROWS): number {
  return Math.max(1, rows - STATUS_ROWS - 1 - (screen.head?.length ?? 0) - screen.menu.length - 1 - 1);
}

/**
 * Where each page's body begins: every bodyRows lines, but a page ends before a block that would not fit
 * whole (the next page starts with it); a block longer than a page is cut where the page is full.
 */
export function pageStarts(screen: Screen, rows = SCREEN_ROWS): number[] {
  const per = bodyRows(screen, rows);
  const n = screen.body.length;
  const blockStarts = new Set(screen.blocks ?? []);
  const starts = [0];
  for (let s = 0; s + per < n;) {
    let next = s + per;
    if (blockStarts.size > 0) {
      for (let i = s + per; i > s; i--) if (blockStarts.has(i)) { next = i; break; }
    }
    starts.push(next);
    s = next;
  }
  return starts;
}

export function pageCount(screen: Screen, rows = SCREEN_ROWS): number {
  return pageStarts(screen, rows).length;
}

/** `page 2/3  8 older  9 newer`: where the page keys go from here (only the keys that go somewhere). */
export function pagingText(screen: Screen, page: number, pages: number): string {
  if (pages <= 1) return '';
  const [fwd, back] = screen.paging === 'time' ? ['older', 'newer'] : ['next', 'previous'];
  const keys = [page < pages - 1 ? `8 ${fwd}` : '', page > 0 ? `9 ${back}` : ''].filter((k) => k !== '');
  return `page ${page + 1}/${pages}  ${keys.join('  ')}`;
}

/**
 * The whole screen but the prompt: status lines, title (with the page and its keys when paged), the page's body,
 * the menu, and a message line. Every line is cut to the width; the total with the prompt fits rows.
 */
export function renderScreen(status: readonly string[], screen: Screen, page: number, message: string, cols = SCREEN_COLS, rows = SCREEN_ROWS): string {
  const starts = pageStarts(screen, rows);
  const pages = starts.length;
  const p = Math.min(Math.max(0, page), pages - 1);
  const pageText = pagingText(screen, p, pages);
  const title = `== ${screen.title} ==`;
  const lines = [
    ...status.slice(0, STATUS_ROWS),
    pageText === '' ? title : `${cut(title, cols - pageText.length - 1).padEnd(cols - pageText.length)}${pageText}`,
    ...(screen.head ?? []),
    ...screen.body.slice(starts[p], starts[p + 1] ?? screen.body.length),
    ...screen.menu,
    message,
  ];
  return `${lines.map((l) => cut(l, cols).trimEnd()).join('\n')}\n`;
}

/** Menu entries laid out in columns over as few lines as fit the width. */
export function menuLines(items: readonly string[], cols = SCREEN_COLS): string[] {
  const out: string[] = [];
  let line = '';
  for (const item of items) {
    const next = line === '' ? item : `${line}   ${item}`;
    if (next.length > cols && line !== '') {
      out.push(line);
      line = item;
    } else {
      line = next;
    }
  }
  if (line !== '') out.push(line);
  return out;
}

/** The message for a choice the menu does not have. */
export function unknownChoice(choice: string): string {
  return cut(`Unknown choice '${choice}': type a number from the menu, 0 to go back.`, 80);
}
