/**
 * What a peer sent (User-Agent, Contact, +sip.instance, Call-ID, the To user, an upstream's reason
 * phrase, event details quoting any of these) must not drive the operator's terminal, reorder what the
 * operator reads, or run as a spreadsheet formula. The store keeps the exact bytes;
 * every view the console and the admin commands print makes them safe here, with one rule:
 *
 * - text for a terminal: each character that controls rather than shows — C0 (0x00-0x1f, so ESC, BEL,
 *   CR, LF, TAB), DEL (0x7f), C1 (0x80-0x9f, CSI 0x9b among them), the bidirectional embeddings,
 *   overrides, isolates and marks (U+202A-202E, U+2066-2069, U+200E, U+200F, U+061C: "Trojan Source",
 *   CVE-2021-42574), and the line and paragraph separators U+2028/U+2029 — is written as its escape,
 *   `\x1b` or `\u202e`, so the operator sees that it was there instead of a silent gap;
 * - CSV: a cell starting with `=`, `+`, `-`, `@`, TAB or CR gets a leading `'` (OWASP "CSV injection"),
 *   then the same escapes, then RFC 4180 quoting;
 * - JSON: exact values; the characters JSON.stringify leaves raw (DEL, C1, the bidi controls, the
 *   separators) are written as `\uXXXX` escapes, which JSON.parse reads back as the same characters.
 *
 * A backslash is left as it is: text that spells `\x1b` is harmless to show, and doubling every
 * backslash would make ordinary values harder to read.
 */

/** The characters no view prints raw but C0, which JSON.stringify escapes itself (and uses, as LF, between values). */
const UNSAFE_PAST_C0 = '\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069';
/** The characters no view prints raw. Global: for replace; UNSAFE_ONE for test (no lastIndex state). */
const UNSAFE = new RegExp(`[\\u0000-\\u001f${UNSAFE_PAST_C0}]`, 'g');
const UNSAFE_ONE = new RegExp(`[\\u0000-\\u001f${UNSAFE_PAST_C0}]`);
const UNSAFE_IN_JSON = new RegExp(`[${UNSAFE_PAST_C0}]`, 'g');

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `text` as it may be written to a terminal: every unsafe character replaced by its visible escape.
 * The result holds no unsafe character, so applying it twice changes nothing.
 */
export function displayText(text: string): string {
  return UNSAFE_ONE.test(text) ? text.replace(UNSAFE, escapeChar) : text;
}

/** A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV Injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field (RFC 4180 §2): strings shown with displayText, neutralised with a leading `'` when they
 * would start a formula, and quoted when they hold a comma, a quote or a line break, or a semicolon (the
 * separator a spreadsheet in many locales splits on, where a formula could start a cell). Numbers and
 * booleans print as they are (ours are never negative); null and undefined are the empty field.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') return String(value);
  const text = `${FORMULA_START.test(value) ? "'" : ''}${displayText(value)}`;
  return /[",;\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** JSON.stringify(value, null, indent), with the characters it leaves raw escaped as `\uXXXX`: same data.
 *  indent 0: one line. */
export function jsonText(value: unknown, indent = 2): string {
  return JSON.stringify(value, null, indent).replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
