/**
 * @module limits/token-bucket
 * The inbound message rate of one connection: a burst, refilled at a steady rate. Computed from
 * the clock on each message, so it needs no timer. The state is two numbers, so a connection
 * record can carry it in its own fields ({@link takeToken}); {@link createTokenBucket} wraps
 * them in an object for callers that want one.
 */

/**
 * The two numbers a bucket is: tokens left and when they were last refilled (epoch ms).
 *
 * @example
 * ```ts
 * const state: TokenState = { tokens: 20, tokensAt: clock.now() }
 * ```
 */
export interface TokenState {
  tokens: number
  tokensAt: number
}

/**
 * Spend one token of `state` (refilled up to `burst` at `perSecond` since `tokensAt`), if
 * there is one. One function for every connection: no closure per bucket.
 *
 * @example
 * ```ts
 * if (!takeToken(conn, o.messageBurst, o.messagesPerSecond, clock.now())) throttle()
 * ```
 */
export function takeToken(
  state: TokenState,
  burst: number,
  perSecond: number,
  at: number,
): boolean {
  // A clock that steps back refills nothing rather than draining the bucket.
  if (at > state.tokensAt) {
    state.tokens = Math.min(burst, state.tokens + ((at - state.tokensAt) * perSecond) / 1000)
    state.tokensAt = at
  }
  if (state.tokens < 1) return false
  state.tokens -= 1
  return true
}

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
  const state: TokenState = { tokens: burst, tokensAt: now }
  return { take: (at: number) => takeToken(state, burst, perSecond, at) }
}
