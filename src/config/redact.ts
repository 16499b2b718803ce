/**
 * Secrets kept out of messages. Readers never put a password or HA1 value in a message (scalars.ts words
 * those problems without the value); as a second line of defence, every value under a secret-looking key
 * is replaced by `***` in every message before it leaves the loader, the YAML library's own included.
 */
import { isMap, isScalar, isSeq } from 'yaml';
import type { ConfigProblem } from './problems.js';
import type { ConfigDocument } from './yaml.js';

/** Keys whose values are secrets. */
export const SECRET_KEY = /pass|secret|ha1/i;

/** Every value under a secret-looking key, from the parsed tree and from the raw lines (the tree of a
 *  broken file may have lost some); longest first, so a secret containing another is starred whole. */
export function collectSecrets(doc: ConfigDocument): string[] {
  const secrets = new Set<string>();
  const line = /^\s*(?:-\s+)?["']?([A-Za-z0-9_-]+)["']?\s*:\s*(.*?)\s*$/;
  for (const raw of doc.source.split(/\r?\n/)) {
    const m = line.exec(raw);
    if (m === null || !SECRET_KEY.test(m[1]!)) continue;
    const value = m[2]!.replace(/\s+#.*$/, '');
    secrets.add(value);
    secrets.add(value.replace(/^["']/, '').replace(/["']$/, ''));
  }
  const walk = (node: unknown, depth: number): void => {
    if (depth > 64) return;
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : '';
        if (SECRET_KEY.test(key) && isScalar(pair.value) && pair.value.value !== null) {
          secrets.add(String(pair.value.value));
          if (pair.value.source !== undefined) secrets.add(pair.value.source);
        }
        walk(pair.value, depth + 1);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) walk(item, depth + 1);
    }
  };
  walk(doc.tree.contents, 0);
  // Short values are left alone: a 1-2 character "secret" would blank out line numbers and words.
  return [...secrets].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
}

/** The problem with every secret in its message replaced by `***`. */
export function redact(problem: ConfigProblem, secrets: readonly string[]): ConfigProblem {
  let message = problem.message;
  for (const secret of secrets) message = message.split(secret).join('***');
  return { ...problem, message };
}
