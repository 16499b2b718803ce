// What a change's commit leaves to the next flush (storage on flash). A change (a new binding,
// a replaced contact, an unregister) is committed and synced before its 200, but that commit holds only
// the number's bindings: every other LMDB tree it touched cost flash pages of its own (about 4 KiB each,
// plus the branch pages above). So the service's REGISTER path leaves to the flush (store/flush.ts):
//   - its history rows (the registrar hands them over once the commit is durable: a 500 writes none);
//   - the change of the binding count in meta (readers may see it up to one interval late);
//   - the expiry index entry of a binding that expires before everything its number held, when that
//     is well after the next flush (past the flush horizon plus one interval); a sooner one is written
//     with the change, so the sweep never misses a binding that lapses before the flush.
// A power cut loses what was waiting: the history rows of the changes since the last flush (the
// bindings themselves are on flash), and the count and index entries, which the start after it
// rebuilds from the bindings (store/bindings.ts extendForRecoveryIn), as the unclean mark says.
import { BINDING_COUNT_KEY, type FlushPart, type MergeDeferral, type Store, type StoreFlush } from '../store/index.js';

const ONE = Buffer.from([1]);
/** Index entries held at most (a storm of new numbers past it writes them with the change). */
const INDEX_HELD_MAX = 200_000;

export class ChangeTail implements FlushPart, MergeDeferral {
  private countDelta = 0;
  private flushingDelta = 0;
  private times = new Float64Array(1024);
  private numbers: string[] = [];
  private count = 0;
  /** The entries handed to the flush in flight, kept until it settles. */
  private flushingTimes = new Float64Array(1024);
  private flushingNumbers: string[] = [];
  private flushingCount = 0;
  private readonly key: [number, string] = [0, ''];

  constructor(private readonly writes: StoreFlush) {
    writes.join(this);
  }

  /** Index entries waiting for the flush (tests). */
  get heldIndexEntries(): number { return this.count + this.flushingCount; }

  /** MergeDeferral: only while the flush runs (before its start and after its close, written now). */
  deferCount(delta: number): boolean {
    if (this.writes.horizonMs === Number.NEGATIVE_INFINITY) return false;
    this.countDelta += delta;
    return true;
  }

  deferIndex(atMs: number, number: string): boolean {
    const horizon = this.writes.horizonMs;
    if (horizon === Number.NEGATIVE_INFINITY || atMs <= horizon + this.writes.flushIntervalMs) return false;
    if (this.count + this.flushingCount >= INDEX_HELD_MAX) return false;
    if (this.count === this.times.length) {
      const grown = new Float64Array(2 * this.times.length);
      grown.set(this.times);
      this.times = grown;
    }
    this.times[this.count] = atMs;
    this.numbers[this.count++] = number;
    return true;
  }

  /** FlushPart: the count change and the held index entries, in the flush's transaction. */
  write(store: Store): void {
    if (this.countDelta !== 0) {
      const total = (store.meta.get(BINDING_COUNT_KEY) as number | undefined) ?? 0;
      store.meta.put(BINDING_COUNT_KEY, Math.max(0, total + this.countDelta));
    }
    this.flushingDelta = this.countDelta;
    this.countDelta = 0;
    const key = this.key;
    for (let i = 0; i < this.count; i++) {
      key[0] = this.times[i]!;
      key[1] = this.numbers[i]!;
      store.expiry.put(key, ONE);
    }
    // Swap: these are now the flush's; new ones gather in the other arrays.
    const t = this.flushingTimes; this.flushingTimes = this.times; this.times = t;
    const n = this.flushingNumbers; this.flushingNumbers = this.numbers; this.numbers = n;
    this.flushingCount = this.count;
    this.count = 0;
  }

  /** FlushPart: durable, or failed (then what it held waits for the next flush). */
  settled(ok: boolean): void {
    if (!ok) {
      this.countDelta += this.flushingDelta;
      for (let i = 0; i < this.flushingCount; i++) {
        if (this.count === this.times.length) {
          const grown = new Float64Array(2 * this.times.length);
          grown.set(this.times);
          this.times = grown;
        }
        this.times[this.count] = this.flushingTimes[i]!;
        this.numbers[this.count++] = this.flushingNumbers[i]!;
      }
    }
    this.flushingDelta = 0;
    for (let i = 0; i < this.flushingCount; i++) this.flushingNumbers[i] = '';
    this.flushingCount = 0;
  }
}
