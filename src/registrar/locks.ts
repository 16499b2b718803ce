// Numbers with a write in flight. While an LMDB commit for a number is pending, the store does not yet
// show it (lmdb-js reads see committed data only), so a second REGISTER for that number, or the expiry
// sweep, would decide on a stale view. They wait for the commit instead: concurrent REGISTERs
// for the same number in one turn must not race. A count, not a flag: one number may be in two
// consecutive batches (a deferred request re-run while the previous commit is still settling).
//
// An unlocked number keeps its entry at 0: deleting it and inserting it again on the next REGISTER
// churned the Map's table (~85 B of heap per REGISTER). Entries at 0 are dropped in one go once the
// table holds IDLE_MAX of them, so it stays bounded whatever the number of phones.
const IDLE_MAX = 16_384;

export class NumberLocks {
  private readonly pending = new Map<string, number>();
  private locked = 0;

  isLocked(number: string): boolean {
    return (this.pending.get(number) ?? 0) > 0;
  }

  lock(number: string): void {
    const n = this.pending.get(number);
    if (n === undefined && this.pending.size - this.locked >= IDLE_MAX) this.dropIdle();
    if ((n ?? 0) === 0) this.locked++;
    this.pending.set(number, (n ?? 0) + 1);
  }

  unlock(number: string): void {
    const n = this.pending.get(number);
    if (n === undefined || n === 0) return;
    this.pending.set(number, n - 1);
    if (n === 1) this.locked--;
  }

  /**
   * Called by a holder other than the registrar (the sweep) after it unlocked: REGISTERs deferred
   * while it held a number are re-run then, not only when the registrar's next commit settles.
   */
  released(): void {
    if (this.onReleased !== null) this.onReleased();
  }

  /** What released() calls (the registrar's drain of deferred REGISTERs). */
  onReleased: (() => void) | null = null;

  /** Numbers locked now. */
  get size(): number {
    return this.locked;
  }

  private dropIdle(): void {
    for (const [number, n] of this.pending) if (n === 0) this.pending.delete(number);
  }
}
