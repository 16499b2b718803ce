/** Unique, time-ordered keys for rows written by several processes: [atMs, pid, seq]. */
let seq = 0;
export function timeKey(atMs: number): [number, number, number] {
  return timeKeyInto([0, 0, 0], atMs);
}

/** timeKey written into `out` (for a write that encodes the key at once). */
export function timeKeyInto(out: [number, number, number], atMs: number): [number, number, number] {
  seq = (seq + 1) % 0x7fffffff;
  out[0] = atMs;
  out[1] = process.pid;
  out[2] = seq;
  return out;
}

/** The largest string key component, for the end of a prefix range. */
export const KEY_MAX = '\uffff';
