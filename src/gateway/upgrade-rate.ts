/**
 * @module gateway/upgrade-rate
 * The gateway's per-address limit on upgrade attempts, before any `$connect` is sent: a
 * token bucket per client address (IPv6 per /64), so one address cannot push a flood of
 * handshakes through to the app (each one a signed integration call the app must verify
 * and refuse). The pending-handshake caps bound concurrency; this bounds the rate.
 *
 * Sized for NAT: a burst lets every user behind one address reconnect at once after a
 * gateway restart, and the steady rate refills it within a minute.
 */
import { type TokenState, takeToken } from '../limits/token-bucket.ts'

/** Addresses tracked at once; past it the least recently seen one is forgotten. */
export const MAX_TRACKED_ADDRESSES = 100_000

/** The limiter: `take(ipKey, now)` spends one attempt of that address, if it has one. */
export interface UpgradeRateLimit {
  take(ipKey: string, now: number): boolean
  /** Addresses currently tracked (for tests). */
  readonly size: number
}

/**
 * A per-address token bucket: `burst` attempts at once, refilled at `perSecond`.
 *
 * Memory is bounded: at most {@link MAX_TRACKED_ADDRESSES} buckets, kept in least recently
 * used order. Past the bound the least recently used bucket is forgotten; its address
 * starts again with a full bucket, which is what a long-quiet address would have anyway.
 *
 * @example
 * ```ts
 * const limit = createUpgradeRateLimit(200, 10)
 * if (!limit.take(rateKeyForIp(sourceIp), clock.now())) return refuse(socket, 429)
 * ```
 */
export function createUpgradeRateLimit(
  burst: number,
  perSecond: number,
  maxTracked: number = MAX_TRACKED_ADDRESSES,
): UpgradeRateLimit {
  const buckets = new Map<string, TokenState>()
  return {
    get size() {
      return buckets.size
    },
    take(ipKey, now) {
      let state = buckets.get(ipKey)
      if (state === undefined) {
        state = { tokens: burst, tokensAt: now }
        if (buckets.size >= maxTracked) {
          const oldest = buckets.keys().next()
          if (!oldest.done) buckets.delete(oldest.value)
        }
      } else {
        // Re-inserted: the Map's order is then least recently used first.
        buckets.delete(ipKey)
      }
      buckets.set(ipKey, state)
      return takeToken(state, burst, perSecond, now)
    },
  }
}
