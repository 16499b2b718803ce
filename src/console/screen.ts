/**
 * The console's pure layer: a screen description in, the text for an 80x24 terminal out. No I/O, so
 * tests render screens directly and check they fit.
 */
import { cut, SCREEN_COLS, SCREEN_ROWS } from './format.js';

export interface Screen {
  readonly title: string;
  /** Lines that stay on every page (a table header, the filter in force). */
  readonly head?: readonly string[];
  /** Lines paged to what the terminal holds. */
  readonly body: readonly string[];
  /** The choices, already laid out (one or two lines). */
  readonly menu: readonly string[];
}

/** Status lines on every screen: the figures, the service or an alert, the store. */
export const STATUS_ROWS = 3;

/** Lines around the body: STATUS_ROWS status, 1 title, menu, 1 message, 1 prompt. */
export function bodyRows(screen: Screen, rows = SCREEN_ROWS): number {
  return Math.max(1, rows - STATUS_ROWS - 1 - (screen.head?.length ?? 0) - screen.menu.length - 1 - 1);
}

export function pageCount(screen: Screen, rows = SCREEN_ROWS): number {
  return Math.max(1, Math.ceil(screen.body.length / bodyRows(screen, rows)));
}

/**
 * The whole screen but the prompt: status lines, title (with page n/m when paged), the page's body,
 * the menu, and a message line. Every line is cut to the width; the total with the prompt fits rows.
 */
export function renderScreen(status: readonly string[], screen: Screen, page: number, message: string, cols = SCREEN_COLS, rows = SCREEN_ROWS): string {
  const per = bodyRows(screen, rows);
  const pages = pageCount(screen, rows);
  const p = Math.min(Math.max(0, page), pages - 1);
  const pageText = pages > 1 ? `page ${p + 1}/${pages}` : '';
  const title = `== ${screen.title} ==`;
  const lines = [
    ...status.slice(0, STATUS_ROWS),
    pageText === '' ? title : `${cut(title, cols - pageText.length - 1).padEnd(cols - pageText.length)}${pageText}`,
    ...(screen.head ?? []),
    ...screen.body.slice(p * per, p * per + per),
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
