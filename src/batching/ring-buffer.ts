/**
 * @module batching/ring-buffer
 * A bounded FIFO ring buffer: the batching queue's storage. Fixed capacity chosen at
 * construction, O(1) push/shift/peek/at, no allocation after construction, and a `full`
 * answer instead of growth so a full queue can be refused at once (503), not later.
 *
 * Invariants (checked by test/unit/batching/ring-buffer.test.ts):
 *
 *     capacity = 8, head = 6, length = 4            tail = (head + length) % capacity
 *
 *     index:   0     1     2     3     4     5     6     7
 *           +-----+-----+-----+-----+-----+-----+-----+-----+
 *           |  C  |  D  |     |     |     |     |  A  |  B  |
 *           +-----+-----+-----+-----+-----+-----+-----+-----+
 *                             ^ tail                ^ head
 *
 *   1. 0 <= length <= capacity; 0 <= head < capacity.
 *   2. The items, oldest first, are slots head, head+1, ..., head+length-1 (mod capacity).
 *   3. Every other slot holds `undefined`, so a removed item is never kept alive by the buffer.
 *   4. push fails (returns false) exactly when length === capacity; nothing is overwritten.
 *   5. Order is preserved by every operation, including removeIf (a stable compaction).
 */

export class RingBuffer<T> {
  readonly capacity: number;
  #slots: (T | undefined)[];
  #head = 0;
  #length = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`RingBuffer capacity must be a positive integer, got ${String(capacity)}`);
    }
    this.capacity = capacity;
    this.#slots = new Array<T | undefined>(capacity).fill(undefined);
  }

  get length(): number {
    return this.#length;
  }

  isEmpty(): boolean {
    return this.#length === 0;
  }

  isFull(): boolean {
    return this.#length === this.capacity;
  }

  /** Appends at the tail; false (and no change) when full. */
  push(item: T): boolean {
    if (this.#length === this.capacity) return false;
    this.#slots[(this.#head + this.#length) % this.capacity] = item;
    this.#length += 1;
    return true;
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#slots[this.#head];
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#length -= 1;
    return item;
  }

  /** The oldest item, not removed. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#slots[this.#head];
  }

  /** The i-th item from the head (0 = oldest), or undefined when out of range. */
  at(i: number): T | undefined {
    if (!Number.isInteger(i) || i < 0 || i >= this.#length) return undefined;
    return this.#slots[(this.#head + i) % this.capacity];
  }

  /** Removes every item for which `predicate` is true, keeping the others in order; returns the removed, oldest first. */
  removeIf(predicate: (item: T) => boolean): T[] {
    const removed: T[] = [];
    let kept = 0;
    for (let i = 0; i < this.#length; i++) {
      const idx = (this.#head + i) % this.capacity;
      const item = this.#slots[idx] as T;
      if (predicate(item)) {
        removed.push(item);
      } else {
        this.#slots[(this.#head + kept) % this.capacity] = item;
        kept += 1;
      }
    }
    for (let i = kept; i < this.#length; i++) this.#slots[(this.#head + i) % this.capacity] = undefined;
    this.#length = kept;
    return removed;
  }

  /** Removes and returns every item, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    while (this.#length > 0) out.push(this.shift() as T);
    return out;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.#slots[(this.#head + i) % this.capacity] as T;
  }

  /** Internal layout, for invariant tests only. */
  debugState(): { head: number; length: number; slots: readonly (T | undefined)[] } {
    return { head: this.#head, length: this.#length, slots: this.#slots };
  }
}
