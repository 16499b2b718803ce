/**
 * The YAML tree of one config file and the problems found in it, each at the line and column of the node
 * at fault. The readers (read-*.ts, scalars.ts) walk the tree through this: aliases resolved, mappings
 * checked against their known keys, lists; every problem goes through report().
 *
 * How the file is read: YAML 1.2 core schema (so `On`, `yes`, `no` stay text and the switch reader
 * decides), and duplicate keys are found here rather than by the library so each gets its key path.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { showValue } from './params.js';
import type { ConfigProblem, ConfigProblemCode } from './problems.js';
import { suggestion } from './suggest.js';

/** One key of a mapping (or one item of a list) with where it stands. */
export interface Entry {
  readonly key: string;
  readonly keyNode: unknown;
  readonly node: unknown;   // the value node (possibly an alias, possibly null)
  readonly path: string;    // dotted key path
}

export type Mapping = ReadonlyMap<string, Entry>;

export class ConfigDocument {
  readonly lineCounter = new LineCounter();
  readonly tree: Document.Parsed;
  /** In the order found; load.ts drops the shadowed ones, redacts and sorts them. */
  readonly problems: ConfigProblem[] = [];

  constructor(readonly source: string, readonly file: string) {
    this.tree = parseDocument(source, { lineCounter: this.lineCounter, uniqueKeys: false, prettyErrors: false, version: '1.2' });
  }

  /** 1-based line and column of a node (of its first character); 1:1 for a node without a range. */
  position(node: unknown): { line: number; col: number } {
    const range = (node as { range?: readonly number[] } | null | undefined)?.range;
    const offset = range?.[0];
    if (offset === undefined) return { line: 1, col: 1 };
    const pos = this.lineCounter.linePos(offset);
    return pos.line === 0 ? { line: 1, col: pos.col } : pos;
  }

  report(node: unknown, key: string, code: ConfigProblemCode, message: string): void {
    const { line, col } = this.position(node);
    this.problems.push({ file: this.file, line, col, key, code, message });
  }

  resolveAlias(node: unknown): unknown {
    if (isAlias(node)) return node.resolve(this.tree) ?? null;
    return node;
  }

  isNull(node: unknown): boolean {
    const n = this.resolveAlias(node);
    return n === null || n === undefined || (isScalar(n) && n.value === null);
  }

  /** What a node is, for "Received ...". */
  describe(node: unknown): string {
    if (isMap(node)) return 'a mapping';
    if (isSeq(node)) return 'a list';
    if (isScalar(node)) return showValue(node.value);
    return 'nothing';
  }

  /** A mapping's entries by key; null (reported) when the node is not a mapping. A YAML null (`sip:`
   *  with nothing under it) is an empty mapping. Reports duplicate and unknown keys. */
  mapping(node: unknown, path: string, known: readonly string[]): Mapping | null {
    const n = this.resolveAlias(node);
    const out = new Map<string, Entry>();
    if (this.isNull(n)) return out;
    if (!isMap(n)) {
      this.report(node, path, 'ERR_CONFIG_TYPE', `must be a mapping (key: value lines). Received ${this.describe(n)}`);
      return null;
    }
    for (const pair of n.items) {
      const keyNode = this.resolveAlias(pair.key);
      const keyValue = isScalar(keyNode) ? keyNode.value : undefined;
      if (typeof keyValue !== 'string' && typeof keyValue !== 'number') {
        this.report(pair.key, path, 'ERR_CONFIG_TYPE', 'keys must be plain names');
        continue;
      }
      const key = String(keyValue);
      const childPath = path === '' ? key : `${path}.${key}`;
      const first = out.get(key);
      if (first !== undefined) {
        this.report(pair.key, childPath, 'ERR_CONFIG_DUPLICATE_KEY',
          `appears twice in this mapping (first at line ${this.position(first.keyNode).line}); YAML would keep only one`);
        continue;
      }
      if (!known.includes(key)) {
        this.report(pair.key, childPath, 'ERR_CONFIG_UNKNOWN_KEY', `unknown key${suggestion(key, known)}`);
        continue;
      }
      out.set(key, { key, keyNode: pair.key, node: pair.value ?? null, path: childPath });
    }
    return out;
  }

  /** A list's items with their paths; a YAML null is an empty list. With `single`, one string stands
   *  for a list of one (`allow: 203.0.113.0/24`). */
  sequence(entry: Entry, single = false): Entry[] | null {
    const n = this.resolveAlias(entry.node);
    if (this.isNull(n)) return [];
    if (single && isScalar(n) && typeof n.value === 'string') return [{ key: entry.key, keyNode: entry.keyNode, node: entry.node, path: `${entry.path}[0]` }];
    if (!isSeq(n)) {
      this.report(entry.node, entry.path, 'ERR_CONFIG_TYPE', `must be a list (lines starting with "- ", or [a, b]). Received ${this.describe(n)}`);
      return null;
    }
    return n.items.map((item, i) => ({ key: entry.key, keyNode: item, node: item, path: `${entry.path}[${i}]` }));
  }

  /** Items a list has (a non-empty string counts as one), without reporting anything. */
  sequenceLength(entry: Entry): number {
    const n = this.resolveAlias(entry.node);
    if (isSeq(n)) return n.items.length;
    if (isScalar(n) && typeof n.value === 'string' && n.value !== '') return 1;
    return 0;
  }

  nonEmptyScalar(node: unknown): boolean {
    const n = this.resolveAlias(node);
    return isScalar(n) && n.value !== '' && n.value !== null;
  }

  /** An entry given with a value (present and not a YAML null). */
  given(entry: Entry | undefined): entry is Entry {
    return entry !== undefined && !this.isNull(entry.node);
  }
}
