/**
 * @module store/cleanup
 * Turns ages ("tokens older than 5 minutes") into the absolute cut-offs
 * {@link Store.cleanup} takes, so the CLI and a built-in timer agree on what "old" means.
 */
import { type Clock, systemClock } from '../clock.ts'
import { GatehouseError } from '../errors.ts'
import type { CleanupResult, Store } from './store.ts'

/**
 * How old a row must be to go.
 *
 * @example
 * ```ts
 * const ages: CleanupAges = { tokenAgeSec: 300, rateLimitAgeDays: 7, sessionAgeSec: 86_400 }
 * ```
 */
export interface CleanupAges {
  /**
   * Tokens created this many seconds ago or earlier are deleted, used or not. Keep it above
   * the token TTL (60 s by default), or still-valid tokens are deleted (they then fail, closed).
   */
  readonly tokenAgeSec: number
  /** Rate-limit counters with no effect for this many days are deleted. */
  readonly rateLimitAgeDays: number
  /** Sessions disconnected this many seconds ago or earlier are deleted. Connected ones stay. */
  readonly sessionAgeSec: number
}

/**
 * The ages the `gatehouse cleanup` command uses unless told otherwise.
 *
 * @example
 * ```ts
 * await cleanupStore(store, CLEANUP_DEFAULTS, systemClock)
 * ```
 */
export const CLEANUP_DEFAULTS: CleanupAges = Object.freeze({
  tokenAgeSec: 300,
  rateLimitAgeDays: 7,
  sessionAgeSec: 86_400,
})

/**
 * Delete old tokens, rate-limit counters and disconnected sessions; returns how many of each.
 * "Old" is measured from `clock` (default the system clock). A store that works in batches
 * (Redis) calls `onProgress` with the running totals after each batch.
 * Throws `ERR_INVALID_OPTION` for a negative or non-finite age or a clock without `now()`,
 * and whatever the store throws (`ERR_STORE_UNAVAILABLE`) when the backend fails.
 *
 * @example
 * ```ts
 * const removed = await cleanupStore(store, { tokenAgeSec: 300, rateLimitAgeDays: 7, sessionAgeSec: 86_400 })
 * console.log(`removed ${removed.tokens} tokens`)
 * await cleanupStore(store, CLEANUP_DEFAULTS, manualClock(), (p) => console.error(p.tokens))
 * ```
 */
export async function cleanupStore(
  store: Store,
  ages: CleanupAges,
  clock: Clock = systemClock,
  onProgress?: (soFar: CleanupResult) => void,
): Promise<CleanupResult> {
  if (typeof clock?.now !== 'function') {
    throw new GatehouseError('ERR_INVALID_OPTION', 'cleanup: clock must have now()')
  }
  for (const name of ['tokenAgeSec', 'rateLimitAgeDays', 'sessionAgeSec'] as const) {
    const v = ages?.[name]
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new GatehouseError('ERR_INVALID_OPTION', `cleanup: ${name} must be a number >= 0`)
    }
  }
  const now = clock.now()
  const cutoffs = {
    tokensCreatedBefore: now - ages.tokenAgeSec * 1_000,
    rateLimitsBefore: now - ages.rateLimitAgeDays * 86_400_000,
    sessionsDisconnectedBefore: now - ages.sessionAgeSec * 1_000,
    // A nonce is worthless once expired: no age to configure.
    noncesExpiredBefore: now,
  }
  return onProgress === undefined ? store.cleanup(cutoffs) : store.cleanup(cutoffs, onProgress)
}
