/**
 * "Did you mean": what an unknown key of the config file is probably a typo of.
 */

/** `; did you mean accounts?` for a known key within edit distance max(2, a quarter of the key's length)
 *  (or differing only in case); else the known keys when there are at most 10, else where to look. */
export function suggestion(key: string, known: readonly string[]): string {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = candidate.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) { best = candidate; bestDistance = distance; }
  }
  const limit = Math.max(2, Math.floor(key.length / 4));
  if (best !== null && bestDistance <= limit) return `; did you mean ${best}?`;
  if (known.length <= 10) return `; expected one of ${known.join(', ')}`;
  return '; see the parameter table in README (or etc/sipreg.yaml)';
}

/** Levenshtein distance: insertions, deletions and substitutions, each 1. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost));
    }
    previous = current;
  }
  return previous[b.length]!;
}
