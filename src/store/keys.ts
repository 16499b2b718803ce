/** Unique, time-ordered keys for rows written by several processes: [atMs, pid, seq]. */
let seq = 0;
export function timeKey(atMs: number): [number, number, number] {
  seq = (seq + 1) % 0x7fffffff;
  return [atMs, process.pid, seq];
}

/** The largest string key component, for the end of a prefix range. */
export const KEY_MAX = '\uffff';
