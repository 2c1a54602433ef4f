/** A FIFO with O(1) push, shift and front re-insertion (amortised); internal to the outbox. */
export class Deque<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  peek(): T | undefined {
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined as T;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Puts items back at the front, keeping their order (used when a send must be retried). */
  unshiftAll(front: readonly T[]): void {
    if (front.length === 0) return;
    if (this.#head >= front.length) {
      this.#head -= front.length;
      for (let i = 0; i < front.length; i++) this.#items[this.#head + i] = front[i] as T;
      return;
    }
    this.#items = [...front, ...this.#items.slice(this.#head)];
    this.#head = 0;
  }

  /** Calls `fn` with each item, front first. */
  forEach(fn: (item: T) => void): void {
    for (let i = this.#head; i < this.#items.length; i++) fn(this.#items[i] as T);
  }

  /** A copy of the items in order. */
  toArray(): T[] {
    return this.#items.slice(this.#head);
  }

  /** Removes every item and returns them in order. */
  drain(): T[] {
    const out = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return out;
  }
}
