/**
 * @module limits/rate
 * The shapes of a rate-limit check: the counters to test and bump, and the decision. Every
 * Store implements `hit` with them; the arithmetic is in `limits/sliding-window.ts`.
 */

/**
 * One sliding-window counter to test and bump.
 *
 * @example
 * ```ts
 * const key: RateKey = { key: 'connect:ip:203.0.113.9', limit: 30, windowMs: 60_000 }
 * ```
 */
export interface RateKey {
  /** Namespaced key, e.g. `connect:ip:203.0.113.9`. */
  readonly key: string
  readonly limit: number
  readonly windowMs: number
  /**
   * Whether the attempt is counted on this key (default `true`). With `false` the key is
   * only judged: "would one more attempt pass?", and nothing is written. A `$connect`
   * checks the per-IP failure counter this way before it uses a token, and charges it only
   * when the token fails.
   */
  readonly charge?: boolean
}

/**
 * The outcome of `Store.hit`. When not allowed, `key` names the counter that refused and
 * `msBeforeNext` says how long until one more attempt would pass it.
 *
 * @example
 * ```ts
 * const decision: RateDecision = await store.hit([key], clock.now())
 * if (!decision.allowed) retryAfterSec = Math.ceil(decision.msBeforeNext / 1000)
 * ```
 */
export interface RateDecision {
  readonly allowed: boolean
  readonly key?: string
  readonly msBeforeNext: number
}
