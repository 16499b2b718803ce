/**
 * A string-keyed table with a fixed number of slots, for per-source state that an attacker can make
 * arbitrarily many keys for (spoofed source addresses, made-up numbers). Values live in the caller's
 * typed-array columns indexed by slot (no object per entry); the table maps keys to slots and keeps the
 * slots in least-recently-updated order in an intrusive doubly linked list (Int32Array links).
 *
 * Eviction: when all slots are taken, inserting a new key evicts the LEAST RECENTLY UPDATED entry (the
 * one whose last `insert`/`touch` is oldest). All operations are O(1). `find` does not count as an
 * update, so merely looking at an entry does not keep it alive.
 *
 * Memory is bounded by `capacity`: the slot arrays are allocated once; the key Map never holds more than
 * `capacity` keys.
 */
import { assert } from '../assert.js';

const NONE = -1;

export class BoundedTable {
  readonly capacity: number;
  private readonly index = new Map<string, number>();
  private readonly keys: (string | null)[];
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly freeSlots: Int32Array;
  private freeCount: number;
  /** Most recently updated slot, and least recently updated (the next to be evicted). */
  private head = NONE;
  private tail = NONE;
  /** Entries evicted to make room since construction (a counter for metrics and tests). */
  evictions = 0;
  /** Set by insert(): the key evicted to make room, or null. */
  lastEvictedKey: string | null = null;

  constructor(capacity: number) {
    assert(Number.isInteger(capacity), 'Number.isInteger(capacity)');
    assert(capacity >= 1, 'capacity >= 1');
    this.capacity = capacity;
    this.keys = new Array<string | null>(capacity).fill(null);
    this.prev = new Int32Array(capacity).fill(NONE);
    this.next = new Int32Array(capacity).fill(NONE);
    this.freeSlots = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.freeSlots[i] = capacity - 1 - i;
    this.freeCount = capacity;
  }

  get size(): number {
    return this.index.size;
  }

  /** The slot of key, or -1. Not an update. */
  find(key: string): number {
    const slot = this.index.get(key);
    return slot === undefined ? NONE : slot;
  }

  keyAt(slot: number): string | null {
    return this.keys[slot] ?? null;
  }

  /** Marks slot as just updated (moves it to the end evicted last). */
  touch(slot: number): void {
    assert(this.keys[slot] !== null, 'this.keys[slot] !== null');
    if (this.head === slot) return;
    this.unlink(slot);
    this.linkHead(slot);
  }

  /**
   * Adds a key that is not present and returns its slot, most recently updated; evicts the least
   * recently updated entry first when full (its key in `lastEvictedKey`). The caller initialises its
   * columns at the slot.
   */
  insert(key: string): number {
    assert(!this.index.has(key), '!this.index.has(key)');
    this.lastEvictedKey = null;
    let slot: number;
    if (this.freeCount > 0) {
      slot = this.freeSlots[--this.freeCount]!;
    } else {
      slot = this.tail;
      assert(slot !== NONE, 'slot !== NONE');
      const old = this.keys[slot]!;
      this.index.delete(old);
      this.unlink(slot);
      this.lastEvictedKey = old;
      this.evictions++;
    }
    this.keys[slot] = key;
    this.index.set(key, slot);
    this.linkHead(slot);
    return slot;
  }

  delete(key: string): boolean {
    const slot = this.index.get(key);
    if (slot === undefined) return false;
    this.deleteSlot(slot);
    return true;
  }

  deleteSlot(slot: number): void {
    const key = this.keys[slot];
    assert(key !== null && key !== undefined, 'key !== null && key !== undefined');
    this.index.delete(key);
    this.unlink(slot);
    this.keys[slot] = null;
    this.freeSlots[this.freeCount++] = slot;
  }

  clear(): void {
    for (let slot = this.head; slot !== NONE; ) {
      const n = this.next[slot]!;
      this.keys[slot] = null;
      this.prev[slot] = NONE;
      this.next[slot] = NONE;
      slot = n;
    }
    this.index.clear();
    this.head = NONE;
    this.tail = NONE;
    for (let i = 0; i < this.capacity; i++) this.freeSlots[i] = this.capacity - 1 - i;
    this.freeCount = this.capacity;
  }

  /** Keys from least to most recently updated (eviction order). For tests and the console; allocates. */
  keysInEvictionOrder(): string[] {
    const out: string[] = [];
    for (let slot = this.tail; slot !== NONE; slot = this.prev[slot]!) out.push(this.keys[slot]!);
    return out;
  }

  private unlink(slot: number): void {
    const p = this.prev[slot]!;
    const n = this.next[slot]!;
    if (p !== NONE) this.next[p] = n; else if (this.head === slot) this.head = n;
    if (n !== NONE) this.prev[n] = p; else if (this.tail === slot) this.tail = p;
    this.prev[slot] = NONE;
    this.next[slot] = NONE;
  }

  private linkHead(slot: number): void {
    this.prev[slot] = NONE;
    this.next[slot] = this.head;
    if (this.head !== NONE) this.prev[this.head] = slot;
    this.head = slot;
    if (this.tail === NONE) this.tail = slot;
  }
}
