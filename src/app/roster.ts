/**
 * @module app/roster
 * The connections this app process opened, with their user and HTTP session, kept in
 * memory. Revocation (logout, kick, ban) closes these through the connections port without
 * asking the store, so it still takes effect while the store is down: a user who logged out
 * during an outage is not left with a live socket the app keeps serving.
 *
 * Entries go when `$disconnect` reaches this process or a revocation closes them. A
 * `$disconnect` delivered to another process leaves one here; the roster is bounded (oldest
 * first out), and such an entry only costs a close call answered Gone.
 */

/** Most connections remembered; past it the oldest is forgotten (the store still lists it). */
export const MAX_ROSTER_ENTRIES = 100_000

/** Who a connection belongs to. */
interface Owner {
  readonly userId: string | null
  readonly sessionHash: string | null
}

/** The in-memory index of this process's connections. */
export interface Roster {
  add(connectionId: string, owner: Owner): void
  remove(connectionId: string): void
  /** Connection ids of a user, or of an HTTP session (its hash), opened by this process. */
  of(owner: { readonly userId: string } | { readonly sessionHash: string }): string[]
  readonly size: number
}

/**
 * Create an empty roster.
 *
 * @example
 * ```ts
 * const roster = createRoster()
 * roster.add('abc=', { userId: 'bob', sessionHash })
 * roster.of({ userId: 'bob' }) // ['abc=']
 * ```
 */
export function createRoster(maxEntries: number = MAX_ROSTER_ENTRIES): Roster {
  const owners = new Map<string, Owner>()
  const byUser = new Map<string, Set<string>>()
  const bySession = new Map<string, Set<string>>()

  const index = (map: Map<string, Set<string>>, key: string | null, id: string): void => {
    if (key === null) return
    let ids = map.get(key)
    if (ids === undefined) {
      ids = new Set()
      map.set(key, ids)
    }
    ids.add(id)
  }
  const unindex = (map: Map<string, Set<string>>, key: string | null, id: string): void => {
    if (key === null) return
    const ids = map.get(key)
    if (ids === undefined) return
    ids.delete(id)
    if (ids.size === 0) map.delete(key)
  }
  const remove = (id: string): void => {
    const owner = owners.get(id)
    if (owner === undefined) return
    owners.delete(id)
    unindex(byUser, owner.userId, id)
    unindex(bySession, owner.sessionHash, id)
  }

  return {
    get size() {
      return owners.size
    },
    add(id, owner) {
      remove(id)
      if (owner.userId === null && owner.sessionHash === null) return
      if (owners.size >= maxEntries) {
        const oldest = owners.keys().next()
        if (!oldest.done) remove(oldest.value)
      }
      owners.set(id, owner)
      index(byUser, owner.userId, id)
      index(bySession, owner.sessionHash, id)
    },
    remove,
    of(owner) {
      const ids = 'userId' in owner ? byUser.get(owner.userId) : bySession.get(owner.sessionHash)
      return ids === undefined ? [] : [...ids]
    },
  }
}
