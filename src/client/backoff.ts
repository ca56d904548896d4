/**
 * @module client/backoff
 * Reconnect delays: exponential growth with full jitter above a floor.
 *
 * Why full jitter (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/):
 * when a gateway restarts, every client loses its socket at the same instant. Without jitter
 * they come back in lockstep and hit the token endpoint and the gateway as one wave, again and
 * again. Why a floor: a zero delay would let the whole fleet retry at once, and even the first
 * retry should be spread, so attempt 0 already draws from `[min, 2·min]`.
 */

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry), drawn uniformly from
 * `[minMs, min(maxMs, minMs · 2^(attempt + 1))]`. Always within `[minMs, maxMs]`.
 *
 * @param attempt failed attempts since the last stable connection (0, 1, 2, …)
 * @param minMs the floor, and the scale of the first window
 * @param maxMs the cap
 * @param random a source of uniform numbers in `[0, 1)` (injectable for tests)
 *
 * @example
 * ```ts
 * backoffDelayMs(0, 500, 20_000) // somewhere in [500, 1000]
 * backoffDelayMs(9, 500, 20_000) // somewhere in [500, 20000]
 * ```
 */
export function backoffDelayMs(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  // 2^31 already exceeds any sane cap; clamping the exponent keeps the power finite.
  const step = attempt > 0 ? Math.min(Math.floor(attempt), 31) : 0
  const upper = Math.min(maxMs, minMs * 2 ** (step + 1))
  const r = random()
  // A broken `random` (NaN, 1, negative) must not push the delay out of its bounds.
  const unit = r >= 0 && r < 1 ? r : 0
  return Math.min(upper, minMs + Math.floor(unit * (upper - minMs + 1)))
}
