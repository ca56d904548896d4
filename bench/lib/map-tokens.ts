/**
 * @module bench/lib/map-tokens
 * The baselines' token store: a `Map` of single-use tokens with an expiry, nothing else.
 */
import { randomBytes } from 'node:crypto'

const TTL_MS = 60_000

/** A single-use token store backed by a `Map`. */
export interface MapTokens {
  /** A new token (32 random bytes, base64url), valid for 60 s. */
  issue(): string
  /** True once for a live token; it is deleted either way. */
  consume(token: string): boolean
  readonly size: number
}

/**
 * Create the baselines' single-use token store.
 *
 * @example
 * ```ts
 * const tokens = createMapTokens()
 * const t = tokens.issue()
 * tokens.consume(t) // true
 * tokens.consume(t) // false
 * ```
 */
export function createMapTokens(now: () => number = Date.now): MapTokens {
  const map = new Map<string, number>()
  return {
    issue() {
      const token = randomBytes(32).toString('base64url')
      map.set(token, now() + TTL_MS)
      return token
    },
    consume(token) {
      const expiresAt = map.get(token)
      if (expiresAt === undefined) return false
      map.delete(token)
      return expiresAt > now()
    },
    get size() {
      return map.size
    },
  }
}
