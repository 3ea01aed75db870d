/**
 * A first-in first-out queue over an array. shift() moves a head index instead of every element,
 * clears the slot it leaves (so a passed item holds no memory), and the passed prefix is dropped
 * only once it is most of the array: every operation is O(1) amortised and allocates nothing on
 * the way. For the hot paths that used to hand-roll this (session acks, journal cache, fills).
 */
export class HeadQueue<T> {
  #items: Array<T | undefined>;
  #head = 0;

  constructor(items: T[] = []) {
    this.#items = items;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The first item, or undefined when empty. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** The item `index` places after the first. */
  at(index: number): T | undefined {
    return index < 0 ? undefined : this.#items[this.#head + index];
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    this.#compact();
    return item;
  }

  /** Removes the first `count` items (fewer when there are fewer). */
  drop(count: number): void {
    const end = Math.min(this.#items.length, this.#head + count);
    while (this.#head < end) this.#items[this.#head++] = undefined;
    this.#compact();
  }

  /**
   * Inserts an item `index` places after the first. Near the head (a retried item going back),
   * it takes the slot the last shift freed and moves only the `index` items before it.
   */
  insertAt(index: number, item: T): void {
    if (this.#head === 0) {
      this.#items.splice(index, 0, item);
      return;
    }
    this.#head--;
    for (let i = 0; i < index; i++) this.#items[this.#head + i] = this.#items[this.#head + i + 1];
    this.#items[this.#head + index] = item;
  }

  #compact(): void {
    if (this.#head === this.#items.length) {
      // Emptied: start over in the same array, no allocation.
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Items `start` to `end` (exclusive) places after the first, as a new array. */
  slice(start: number, end: number = this.length): T[] {
    return this.#items.slice(this.#head + start, this.#head + Math.min(end, this.length)) as T[];
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
