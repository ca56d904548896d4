/**
 * @module events/ts-buckets
 * Signatures grouped by the second they were signed in, oldest second first. The replay
 * cache evicts and expires by signed timestamp, not by arrival: timestamps up to the window
 * ahead of the clock are valid, so in arrival order one future-dated entry would sit in
 * front of everything that arrived after it (blocking expiry, and, once evicted, raising
 * the "possibly forgotten" floor to its future time, which refuses every honest call).
 */

/** Width of a bucket: the grain at which the oldest entries are found. */
const BUCKET_MS = 1000

/** Signatures keyed by signed timestamp, in per-second buckets. */
export interface TsBuckets {
  /** How many entries it holds. */
  readonly size: number
  add(signature: string, ts: number): void
  delete(signature: string, ts: number): void
  /** An entry of the oldest second (the first that arrived in it), or undefined when empty. */
  oldest(): readonly [signature: string, ts: number] | undefined
  /** Remove and return every entry of the seconds that ended before `cutoff`. */
  takeBefore(cutoff: number): Array<readonly [signature: string, ts: number]>
}

/**
 * An empty set of buckets.
 *
 * @example
 * ```ts
 * const b = createTsBuckets()
 * b.add('sig-a', 1_700_000_020_000) // signed 20 s ahead
 * b.add('sig-b', 1_700_000_000_000)
 * b.oldest() // ['sig-b', 1_700_000_000_000]: by timestamp, not arrival
 * ```
 */
export function createTsBuckets(): TsBuckets {
  const buckets = new Map<number, Map<string, number>>()
  // Bucket keys in ascending order. At most (2 × window / 1 s + 1) of them are live, so a
  // sorted array with binary insertion is cheaper than any tree.
  const keys: number[] = []
  let size = 0

  const insertKey = (key: number): void => {
    let lo = 0
    let hi = keys.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (keys[mid]! < key) lo = mid + 1
      else hi = mid
    }
    keys.splice(lo, 0, key)
  }
  const dropKey = (key: number): void => {
    buckets.delete(key)
    // Almost always the first key (the oldest second empties first).
    const at = keys[0] === key ? 0 : keys.indexOf(key)
    if (at >= 0) keys.splice(at, 1)
  }

  return {
    get size() {
      return size
    },
    add(signature, ts) {
      const key = Math.floor(ts / BUCKET_MS)
      let bucket = buckets.get(key)
      if (bucket === undefined) {
        bucket = new Map()
        buckets.set(key, bucket)
        insertKey(key)
      }
      if (!bucket.has(signature)) size++
      bucket.set(signature, ts)
    },
    delete(signature, ts) {
      const key = Math.floor(ts / BUCKET_MS)
      const bucket = buckets.get(key)
      if (bucket === undefined || !bucket.delete(signature)) return
      size--
      if (bucket.size === 0) dropKey(key)
    },
    oldest() {
      const key = keys[0]
      if (key === undefined) return undefined
      const first = buckets.get(key)!.entries().next()
      return first.done ? undefined : first.value
    },
    takeBefore(cutoff) {
      const taken: Array<readonly [string, number]> = []
      while (keys.length > 0 && (keys[0]! + 1) * BUCKET_MS <= cutoff) {
        const key = keys.shift()!
        const bucket = buckets.get(key)!
        buckets.delete(key)
        size -= bucket.size
        for (const entry of bucket) taken.push(entry)
      }
      return taken
    },
  }
}
