import { test } from 'tap'
import { TimeHeap, type Timed } from '../../lib/stores/time-heap.js'

/** An item at `at`, outside any heap. */
const item = (at: number): Timed => ({ index: -1, at })

/** Everything in `heap`, earliest first, taken out one by one. */
function drain (heap: TimeHeap<Timed>): number[] {
  const out: number[] = []
  for (let next = heap.peek(); next !== undefined; next = heap.peek()) {
    heap.remove(next)
    out.push(next.at)
  }
  return out
}

test('peek answers the earliest item; any item can leave, and is marked outside (-1)', async (t) => {
  const heap = new TimeHeap<Timed>()
  t.equal(heap.peek(), undefined, 'empty')
  const items = [5, 3, 8, 1, 9, 2, 7].map(item)
  for (const i of items) heap.push(i)
  t.equal(heap.peek()?.at, 1)
  // Not the root: the heap's last item fills its slot.
  const inner = items[0]
  heap.remove(inner)
  t.equal(inner.index, -1, 'a removed item knows it is outside')
  t.same(drain(heap), [1, 2, 3, 7, 8, 9])
  t.same(items.map((i) => i.index), [-1, -1, -1, -1, -1, -1, -1])
})

test('clear empties the heap', async (t) => {
  const heap = new TimeHeap<Timed>()
  for (const at of [2, 1, 3]) heap.push(item(at))
  heap.clear()
  t.equal(heap.peek(), undefined)
  heap.push(item(4))
  t.same(drain(heap), [4], 'only what came after')
})
