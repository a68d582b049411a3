/** What a `TimeHeap` holds: its slot, kept by the heap, and the instant it is ordered by. */
export interface Timed {
  /** Slot in the heap, so any item leaves or moves in O(log n); -1 when outside it. */
  index: number
  readonly at: number
}

/**
 * A binary min-heap by time: the earliest item is always at the root. The
 * memory store keeps its entries by expiry and each queue by due time in one.
 */
export class TimeHeap<T extends Timed> {
  readonly #items: T[] = []

  peek (): T | undefined {
    return this.#items[0]
  }

  push (item: T): void {
    this.#items.push(item)
    this.#up(item, this.#items.length - 1)
  }

  remove (item: T): void {
    const last = this.#items.pop() as T
    if (last !== item) {
      // The last item fills the hole, then moves whichever way restores the order.
      this.#down(last, item.index)
      this.#up(last, last.index)
    }
    item.index = -1
  }

  clear (): void {
    this.#items.length = 0
  }

  #up (item: T, index: number): void {
    const items = this.#items
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = items[parentIndex]
      if (parent.at <= item.at) break
      items[index] = parent
      parent.index = index
      index = parentIndex
    }
    items[index] = item
    item.index = index
  }

  #down (item: T, index: number): void {
    const items = this.#items
    const length = items.length
    for (;;) {
      let childIndex = 2 * index + 1
      if (childIndex >= length) break
      if (childIndex + 1 < length && items[childIndex + 1].at < items[childIndex].at) childIndex++
      const child = items[childIndex]
      if (child.at >= item.at) break
      items[index] = child
      child.index = index
      index = childIndex
    }
    items[index] = item
    item.index = index
  }
}
