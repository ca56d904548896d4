/**
 * @module gateway/management/throttle
 * A token bucket for the management API's optional throttling (AWS answers 429
 * `LimitExceededException` past its account rate). Time comes from the injected clock.
 */
import type { Clock } from '../../clock.ts'
import { GatehouseError } from '../../errors.ts'

/** Throttling of the management API: a steady rate and a burst, in requests. */
export interface ManagementRateLimit {
  /** Requests per second refilled. */
  readonly requestsPerSecond: number
  /** Requests allowed at once from a full bucket. Default: `requestsPerSecond`. */
  readonly burst?: number
}

/**
 * A token bucket; `take()` is true while a request may proceed.
 *
 * @example
 * ```ts
 * const bucket = createTokenBucket({ requestsPerSecond: 10, burst: 5 }, systemClock)
 * if (!bucket.take()) return reply429()
 * ```
 */
export function createTokenBucket(limit: ManagementRateLimit, clock: Clock): { take(): boolean } {
  const rate = limit.requestsPerSecond
  const burst = limit.burst ?? rate
  if (!(rate > 0) || !Number.isFinite(rate) || !(burst >= 1) || !Number.isFinite(burst)) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      'rateLimit needs requestsPerSecond > 0 and burst >= 1.',
    )
  }
  let tokens = burst
  let last = clock.now()
  return {
    take() {
      const now = clock.now()
      if (now > last) {
        tokens = Math.min(burst, tokens + ((now - last) / 1000) * rate)
        last = now
      }
      if (tokens < 1) return false
      tokens -= 1
      return true
    },
  }
}
