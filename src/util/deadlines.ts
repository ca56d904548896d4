/**
 * @module util/deadlines
 * Deadlines for integration calls without a timer per call. Calls that share a timeout value
 * reach their deadlines in the order they started, so one queue per value, served by a single
 * timer armed for its oldest unfinished call, covers them all: a call that finishes only marks
 * itself done (and pops finished calls off the front). At thousands of messages a second this
 * replaces a `setTimeout` plus `clearTimeout` per message by about one timer per timeout period.
 */

/** A call waiting for its deadline. */
interface Waiter {
  readonly at: number
  done: boolean
  readonly expire: () => void
}

interface Queue {
  readonly timeoutMs: number
  items: Waiter[]
  head: number
  timer: ReturnType<typeof setTimeout> | undefined
}

const queues = new Map<number, Queue>()

function queueOf(timeoutMs: number): Queue {
  let q = queues.get(timeoutMs)
  if (q === undefined) {
    q = { timeoutMs, items: [], head: 0, timer: undefined }
    queues.set(timeoutMs, q)
  }
  return q
}

/** Drop finished calls from the front; forget an empty queue. */
function trim(q: Queue): void {
  while (q.head < q.items.length && q.items[q.head]!.done) q.head += 1
  if (q.head === q.items.length) {
    q.items = []
    q.head = 0
  } else if (q.head > 1024 && q.head * 2 > q.items.length) {
    q.items = q.items.slice(q.head)
    q.head = 0
  }
}

function onTimer(q: Queue): void {
  q.timer = undefined
  const now = performance.now()
  trim(q)
  while (q.head < q.items.length) {
    const w = q.items[q.head]!
    if (w.done) {
      q.head += 1
      continue
    }
    if (w.at > now) break
    w.done = true
    q.head += 1
    w.expire()
  }
  trim(q)
  arm(q, now)
}

function arm(q: Queue, now: number): void {
  if (q.timer !== undefined || q.head === q.items.length) {
    if (q.items.length === 0 && q.timer === undefined) queues.delete(q.timeoutMs)
    return
  }
  // Ceil: a timer that fires a hair early would find nothing due and re-arm for ~0 ms.
  q.timer = setTimeout(onTimer, Math.max(1, Math.ceil(q.items[q.head]!.at - now)), q)
  // Armed for a call that has usually finished long ago: it must not hold a process open.
  q.timer.unref?.()
}

/**
 * Call `expire` once `timeoutMs` have passed, unless the returned `done` runs first.
 * `done` is idempotent and costs no timer operation.
 *
 * @example
 * ```ts
 * const done = afterDeadline(29_000, () => resolve({ kind: 'timeout' }))
 * outcome.then((value) => { done(); resolve(value) })
 * ```
 */
export function afterDeadline(timeoutMs: number, expire: () => void): () => void {
  const q = queueOf(timeoutMs)
  const now = performance.now()
  const w: Waiter = { at: now + timeoutMs, done: false, expire }
  q.items.push(w)
  arm(q, now)
  return () => {
    if (w.done) return
    w.done = true
    if (q.items[q.head] === w) trim(q)
  }
}
