/**
 * @module gateway/token-bucket
 * The inbound message rate of one connection: a burst, refilled at a steady rate. Computed from
 * the clock on each message, so it needs no timer.
 */

/**
 * A token bucket: `take(now)` spends one token when there is one.
 *
 * @example
 * ```ts
 * if (!bucket.take(clock.now())) throttle()
 * ```
 */
export interface TokenBucket {
  take(now: number): boolean
}

/**
 * A bucket holding up to `burst` tokens, refilled at `perSecond` tokens per second.
 *
 * @example
 * ```ts
 * const bucket = createTokenBucket(20, 10, clock.now())
 * if (!bucket.take(clock.now())) sendThrottled()
 * ```
 */
export function createTokenBucket(burst: number, perSecond: number, now: number): TokenBucket {
  let tokens = burst
  let last = now
  return {
    take(at: number): boolean {
      // A clock that steps back refills nothing rather than draining the bucket.
      if (at > last) {
        tokens = Math.min(burst, tokens + ((at - last) * perSecond) / 1000)
        last = at
      }
      if (tokens < 1) return false
      tokens -= 1
      return true
    },
  }
}
