/**
 * The YAML library's syntax errors as ERR_CONFIG_SYNTAX problems, each moved to the line an installer
 * has to fix and named by the key it belongs to, and what they shadow: a problem the readers find later
 * on a line the parser already flagged is usually the parser's recovery, not the installer's intent.
 */
import { isMap, isScalar, isSeq } from 'yaml';
import type { ConfigProblem } from './problems.js';
import type { ConfigDocument } from './yaml.js';

/** What the syntax errors shadow: the lines they span, and the key paths of tab-indented lines (a path
 *  ending in `.` stands for every key of that list item). */
export interface SyntaxShadow {
  readonly lines: ReadonlySet<number>;
  readonly tabbedKeys: ReadonlySet<string>;
}

/** Reports every syntax error of the document (the library often reports one mistake twice: once). */
export function reportSyntaxErrors(doc: ConfigDocument): SyntaxShadow {
  const lines = new Set<number>();
  const tabbedKeys = new Set<string>();
  const errors = [...doc.tree.errors, ...doc.tree.warnings];
  const multiline = errors.filter((e) => e.code === 'MULTILINE_IMPLICIT_KEY').map((e) => e.pos[0]);
  const seen = new Set<string>();
  for (const error of errors) {
    // An over-indented line makes the library report "nested mappings" and "multi-line implicit key"
    // at the value above it; the line to fix is the over-indented one, where the key's range ends.
    if (error.code === 'BLOCK_AS_IMPLICIT_KEY' && multiline.includes(error.pos[0])) continue;
    const context = pathAt(doc, error.pos[0]);
    // A tab-indented line is not part of the tree: name its own key, not the value above it.
    if (error.code === 'TAB_AS_INDENT') {
      context.path = tabbedKeyPath(doc, error.pos[0]) ?? context.path;
      // The tabbed line is read as missing: "needs a password" for a tab-indented password (or, in a list
      // item, for a tab-indented auth_mode) would only confuse. Those complaints wait for the next check.
      const item = /^(.*\[\d+\])\.[^.]+$/.exec(context.path)?.[1];
      tabbedKeys.add(item === undefined ? context.path : `${item}.`);
    }
    let offset = error.pos[0];
    let message = error.message.split('\n')[0] ?? error.message;
    const first = doc.lineCounter.linePos(error.pos[0]).line;
    const last = Math.max(doc.lineCounter.linePos(error.pos[1]).line, first);
    if (error.code === 'MULTILINE_IMPLICIT_KEY' && last > first) {
      offset = lineContentStart(doc, last);
      message = 'this line is indented deeper than the one above, so YAML joins it to the value above (implicit keys need to be on a single line)';
    } else if (error.code === 'MISSING_CHAR' && /quote/.test(message) && context.start !== null) {
      // An unclosed quote is reported where the file ends; the installer needs where the quote opened.
      offset = context.start;
    }
    const { line, col } = doc.lineCounter.linePos(offset);
    const at = { line: line === 0 ? 1 : line, col };
    for (let l = Math.min(first, at.line); l <= Math.max(last, at.line); l++) lines.add(l);
    if (seen.has(`${at.line}:${at.col}`)) continue;
    seen.add(`${at.line}:${at.col}`);
    doc.problems.push({ file: doc.file, line: at.line, col: at.col, key: context.path, code: 'ERR_CONFIG_SYNTAX',
      message: `YAML: ${message.replace(/ at line \d+, column \d+:?$/, '')}` });
  }
  return { lines, tabbedKeys };
}

/** Whether a reader's problem is dropped for a syntax error (syntax problems themselves never are). */
export function shadowed(problem: ConfigProblem, shadow: SyntaxShadow): boolean {
  if (problem.code === 'ERR_CONFIG_SYNTAX') return false;
  if (shadow.lines.has(problem.line)) return true;
  for (const k of shadow.tabbedKeys) if (k.endsWith('.') ? problem.key.startsWith(k) : problem.key === k) return true;
  return false;
}

/** The key path a tab-indented line was meant to have: its key, as a sibling of the key on the line
 *  above, or as its child when that line opens a section (`sip:`). Null when the line has no key. */
function tabbedKeyPath(doc: ConfigDocument, offset: number): string | null {
  const lines = doc.source.split('\n');
  const keyOf = (text: string): RegExpExecArray | null => /^[ \t]*(-[ \t]+)?["']?([A-Za-z0-9_.-]+)["']?[ \t]*:(.*)$/.exec(text);
  const at = doc.lineCounter.linePos(offset).line;
  const own = keyOf(lines[at - 1] ?? '');
  if (own === null) return null;
  let above = at - 1;
  while (above >= 1 && /^\s*(#.*)?$/.test(lines[above - 1]!)) above--;
  const prev = above >= 1 ? keyOf(lines[above - 1]!) : null;
  if (prev === null) return own[2]!;
  const prevStart = doc.lineCounter.lineStarts[above - 1]! + lines[above - 1]!.indexOf(prev[2]!);
  const prevPath = pathAt(doc, prevStart).path;
  if (prevPath === 'yaml') return own[2]!;
  const opensSection = /^\s*(#.*)?\r?$/.test(prev[3]!);
  const parent = opensSection ? prevPath : prevPath.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
  return parent === prevPath && !opensSection ? own[2]! : `${parent === '' ? '' : `${parent}.`}${own[2]!}`;
}

/** The offset of the first non-blank character of a 1-based line. */
function lineContentStart(doc: ConfigDocument, line: number): number {
  let offset = doc.lineCounter.lineStarts[line - 1] ?? 0;
  while (doc.source[offset] === ' ' || doc.source[offset] === '\t') offset++;
  return offset;
}

/** The key path of the deepest node containing `offset`, to name a YAML syntax error's key, and the
 *  start of the deepest scalar value there. Only keys that look like keys are followed: the parser's
 *  recovery can make a key of `3600 SS_ENDPOINT_NAT_EXPIRE`, which would only confuse. */
function pathAt(doc: ConfigDocument, offset: number): { path: string; start: number | null } {
  let path = '';
  let start: number | null = null;
  let node: unknown = doc.tree.contents;
  const rangeOf = (n: unknown): readonly number[] | undefined => (n as { range?: readonly number[] } | null | undefined)?.range;
  for (let depth = 0; depth < 32; depth++) {
    const n = doc.resolveAlias(node);
    let next: { node: unknown; path: string } | null = null;
    if (isMap(n)) {
      for (const pair of n.items) {
        const keyRange = rangeOf(pair.key);
        const valueRange = rangeOf(pair.value);
        const from = keyRange?.[0] ?? valueRange?.[0];
        const to = valueRange?.[2] ?? keyRange?.[2];
        if (from === undefined || to === undefined || offset < from || offset > to) continue;
        const key = isScalar(pair.key) ? String(pair.key.value) : '';
        if (!/^[A-Za-z0-9_.-]+$/.test(key)) continue;
        next = { node: pair.value, path: path === '' ? key : `${path}.${key}` };
      }
    } else if (isSeq(n)) {
      n.items.forEach((item, i) => {
        const range = rangeOf(item);
        if (range !== undefined && offset >= range[0]! && offset <= range[2]!) next = { node: item, path: `${path}[${i}]` };
      });
    } else if (isScalar(n)) {
      start = rangeOf(n)?.[0] ?? null;
    }
    if (next === null) break;
    ({ node, path } = next);
  }
  return { path: path === '' ? 'yaml' : path, start };
}
