/**
 * @module app/session-cache
 * What a message needs from its connection (the session row and the user the app loaded),
 * kept in memory per app from the `$connect` that opened it, so a message costs no store
 * round trip. The store stays the truth:
 * - an entry is trusted for `ttlMs` at most, then read again (a revocation made by another
 *   process of the app, which cannot reach this memory, is seen within that bound; it also
 *   closes the sockets at the gateway before it resolves, so no later message is delivered);
 * - revocation, kicks, channel changes and `$disconnect` in this process drop entries at once;
 * - every drop bumps an `epoch`. A fill (at `$connect`, or after a miss) is refused when the
 *   epoch moved since its store read started: that read may predate a revocation that has
 *   since finished, and its answer is not to be kept nor acted on.
 * The size is bounded: past `maxEntries` the oldest entry goes (Map order is insertion order).
 */
import type { SessionRecord } from '../store/store.ts'
import type { User } from './types.ts'

/**
 * A connection's authority as of its last store read.
 *
 * @example
 * ```ts
 * const entry: CachedSession = { session, user, expiresAt: now + 2_000 }
 * ```
 */
export interface CachedSession {
  readonly session: SessionRecord
  readonly user: User | null
  /** Clock time after which the entry is read again from the store. */
  readonly expiresAt: number
}

/**
 * A bounded, per-app cache of connected sessions keyed by connection id.
 *
 * @example
 * ```ts
 * const cache = createSessionCache({ ttlMs: 2_000, maxEntries: 100_000 })
 * const epoch = cache.epoch
 * const session = await store.getSession(id)
 * if (session?.connected && cache.fill(session, user, epoch, clock.now())) run(handler)
 * ```
 */
export interface SessionCache {
  /** Moves on every drop; a fill that saw another value is refused. */
  readonly epoch: number
  /** The live entry of `connectionId`, or undefined when absent or expired. */
  get(connectionId: string, now: number): CachedSession | undefined
  /** Keep `session` if nothing was dropped since `epoch`; false (and nothing kept) otherwise. */
  fill(session: SessionRecord, user: User | null, epoch: number, now: number): boolean
  /** Replace the channel of a kept entry (after the store moved it). */
  setChannel(connectionId: string, channel: string | null): void
  /** Drop these connections. */
  forget(connectionIds: readonly string[]): void
  /** Drop every connection of a user, or opened from an HTTP session (by its hash). */
  forgetWhere(match: { readonly userId: string } | { readonly sessionHash: string }): void
  readonly size: number
}

/**
 * Build a {@link SessionCache}. `ttlMs: 0` keeps nothing: every message reads the store.
 *
 * @example
 * ```ts
 * const cache = createSessionCache({ ttlMs: DEFAULTS.sessionCacheTtlMs, maxEntries: DEFAULTS.sessionCacheMaxEntries })
 * ```
 */
export function createSessionCache(options: {
  readonly ttlMs: number
  readonly maxEntries: number
  /** The clock of the expiry sweep; default `Date.now`. */
  readonly now?: () => number
}): SessionCache {
  const { ttlMs, maxEntries } = options
  const clockNow = options.now ?? Date.now
  const entries = new Map<string, CachedSession>()
  let epoch = 0
  let sweep: ReturnType<typeof setTimeout> | undefined

  // Entries are kept in fill order and all live ttlMs, so the expired ones are at the head:
  // dropping them is amortised O(1) per fill, and idle connections do not keep an entry (a
  // session and a user each) alive after their TTL.
  function dropExpired(now: number): void {
    for (const [id, entry] of entries) {
      if (entry.expiresAt > now) return
      entries.delete(id)
    }
  }

  // One timer per cache (never one per connection), armed only while entries exist, so the
  // tail of a burst of connects is dropped too when no further fill comes. Unref'd.
  function armSweep(): void {
    if (sweep !== undefined) return
    sweep = setTimeout(() => {
      sweep = undefined
      dropExpired(clockNow())
      if (entries.size > 0) armSweep()
    }, ttlMs)
    sweep.unref?.()
  }

  return {
    get epoch() {
      return epoch
    },
    get size() {
      return entries.size
    },
    get(connectionId, now) {
      const entry = entries.get(connectionId)
      if (entry === undefined) return undefined
      if (now < entry.expiresAt) return entry
      entries.delete(connectionId)
      return undefined
    },
    fill(session, user, seen, now) {
      if (seen !== epoch) return false
      if (ttlMs === 0) return true
      dropExpired(now)
      entries.delete(session.connectionId)
      entries.set(session.connectionId, { session, user, expiresAt: now + ttlMs })
      armSweep()
      if (entries.size > maxEntries) {
        const oldest = entries.keys().next().value as string
        entries.delete(oldest)
      }
      return true
    },
    setChannel(connectionId, channel) {
      const entry = entries.get(connectionId)
      if (entry === undefined) return
      entries.set(connectionId, { ...entry, session: { ...entry.session, channel } })
    },
    forget(connectionIds) {
      epoch += 1
      for (const id of connectionIds) entries.delete(id)
    },
    forgetWhere(match) {
      epoch += 1
      for (const [id, entry] of entries) {
        if (
          'userId' in match
            ? entry.session.userId === match.userId
            : entry.session.sessionHash === match.sessionHash
        )
          entries.delete(id)
      }
    },
  }
}
