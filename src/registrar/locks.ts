// Numbers with a write in flight. While an LMDB commit for a number is pending, the store does not yet
// show it (lmdb-js reads see committed data only), so a second REGISTER for that number, or the expiry
// sweep, would decide on a stale view. They wait for the commit instead (issue 3: "concurrent REGISTERs
// for the same number in one turn must not race"). A count, not a flag: one number may be in two
// consecutive batches (a deferred request re-run while the previous commit is still settling).
export class NumberLocks {
  private readonly pending = new Map<string, number>();

  isLocked(number: string): boolean {
    return this.pending.has(number);
  }

  lock(number: string): void {
    this.pending.set(number, (this.pending.get(number) ?? 0) + 1);
  }

  unlock(number: string): void {
    const n = this.pending.get(number);
    if (n === undefined) return;
    if (n <= 1) this.pending.delete(number);
    else this.pending.set(number, n - 1);
  }

  get size(): number {
    return this.pending.size;
  }
}
