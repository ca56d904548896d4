/**
 * @module store/memory
 * The reference Store: plain Maps in one process. Same semantics as the SQLite, PostgreSQL
 * and Redis stores (it passes the same conformance suite), so tests of other parts can use
 * it without a file. Nothing survives a restart and nothing is shared between processes,
 * so it is no production store; rows grow until `cleanup()` removes them.
 */
import { GatehouseError } from '../errors.ts'
import {
  advanceCounts,
  charges,
  hitInOrder,
  validateRateKeys,
  type WindowCounts,
} from '../limits/sliding-window.ts'
import { type AudienceTarget, audienceTarget } from './audience.ts'
import { newEpoch, readOf, validateHistoryLimits, validateSince } from './history.ts'
import { validateNonce } from './nonce.ts'
import type {
  Audience,
  ChannelPresence,
  CleanupCutoffs,
  CleanupResult,
  ConsumedToken,
  HistoryEntry,
  HistoryLimits,
  HistoryPosition,
  NewSession,
  RateDecision,
  RateKey,
  SessionActivity,
  SessionGuard,
  SessionRecord,
  Store,
  TokenClaim,
  TokenCounts,
  TokenRecord,
  UserTokenClaim,
} from './store.ts'

interface StoredToken extends TokenRecord {
  usedAt: number | null
}

interface StoredCounter extends WindowCounts {
  readonly windowMs: number
}

type MutableSession = { -readonly [K in keyof SessionRecord]: SessionRecord[K] }

/**
 * Create an empty in-memory Store. Every method completes synchronously inside its promise,
 * which is what makes consume and hit atomic here: no other call can interleave.
 *
 * @example
 * ```ts
 * const store = createMemoryStore()
 * await store.insertToken({ hash, userId: 'alice', sessionHash, appId: 'chat', createdAt: 0, expiresAt: 60_000 })
 * const claim = { hash, sessionHash, appId: 'chat', userId: null }
 * await store.consumeToken(claim, 1_000) // { userId: 'alice', sessionHash }
 * await store.consumeToken(claim, 1_000) // null: single use
 * ```
 */
export function createMemoryStore(): Store {
  const tokens = new Map<string, StoredToken>()
  const counters = new Map<string, StoredCounter>()
  const sessions = new Map<string, MutableSession>()
  const nonces = new Map<string, number>()
  const histories = new Map<string, { epoch: string; offset: number; entries: HistoryEntry[] }>()
  let closed = false

  // Each method runs its body synchronously; a closed store fails like an unreachable backend.
  function run<T>(op: string, body: () => T): Promise<T> {
    if (closed) {
      return Promise.reject(
        new GatehouseError('ERR_STORE_UNAVAILABLE', `memory store: ${op} after close()`),
      )
    }
    try {
      return Promise.resolve(body())
    } catch (err) {
      return Promise.reject(err)
    }
  }

  const snapshot = (s: MutableSession): SessionRecord => ({ ...s })

  function matches(s: MutableSession, t: AudienceTarget): boolean {
    switch (t.kind) {
      case 'all':
        return true
      case 'connectionId':
        return s.connectionId === t.value
      case 'userId':
        return s.userId === t.value
      case 'sessionHash':
        return s.sessionHash === t.value
      case 'channel':
        return s.channel === t.value
    }
  }

  // The one token match of consumeToken and openSession: every field of the claim, unused,
  // unexpired; marks the token used and returns its owner, or null with nothing changed.
  function useToken(claim: TokenClaim, now: number): ConsumedToken | null {
    const t = tokens.get(claim.hash)
    if (t === undefined || t.usedAt !== null || !(t.expiresAt > now)) return null
    if (t.sessionHash !== claim.sessionHash || t.appId !== claim.appId) return null
    if (claim.userId !== null && t.userId !== claim.userId) return null
    t.usedAt = now
    return { userId: t.userId, sessionHash: t.sessionHash }
  }

  // Replace any row of the id with a fresh connected session.
  function writeSession(s: NewSession): void {
    sessions.set(s.connectionId, {
      connectionId: s.connectionId,
      userId: s.userId,
      sessionHash: s.sessionHash,
      channel: s.channel,
      connected: true,
      requestCount: 0,
      connectedAt: s.connectedAt,
      lastSeenAt: s.connectedAt,
      disconnectedAt: null,
    })
  }

  return {
    // One process: nothing is shared, so replays to another process are not this store's.
    shared: false,

    insertToken: (token: TokenRecord) =>
      run('insertToken', () => {
        // Never overwrite: rebinding an existing hash to another user would hand over a token.
        if (tokens.has(token.hash)) {
          throw new GatehouseError('ERR_STORE_UNAVAILABLE', 'memory store: duplicate token hash')
        }
        tokens.set(token.hash, {
          hash: token.hash,
          userId: token.userId,
          sessionHash: token.sessionHash,
          appId: token.appId,
          createdAt: token.createdAt,
          expiresAt: token.expiresAt,
          usedAt: null,
        })
      }),

    consumeToken: (claim: TokenClaim, now: number) =>
      run('consumeToken', () => useToken(claim, now)),

    revokeTokens: (owner: { userId: string } | { sessionHash: string }) =>
      run('revokeTokens', () => {
        const byUser = 'userId' in owner
        let n = 0
        for (const [hash, t] of tokens) {
          if (byUser ? t.userId === owner.userId : t.sessionHash === owner.sessionHash) {
            tokens.delete(hash)
            n++
          }
        }
        return n
      }),

    hit: (keys: readonly RateKey[], now: number) =>
      run('hit', (): RateDecision => {
        validateRateKeys(keys)
        return hitInOrder(keys, now, (k) => {
          const next = advanceCounts(counters.get(k.key), now, k.windowMs)
          if (charges(k)) counters.set(k.key, { ...next, windowMs: k.windowMs })
          return next
        })
      }),

    createSession: (s: NewSession, guard?: SessionGuard) =>
      run('createSession', () => {
        if (guard !== undefined && !tokens.has(guard.tokenHash)) return false
        writeSession(s)
        return true
      }),

    openSession: (claim: UserTokenClaim, s: NewSession, now: number) =>
      run('openSession', () => {
        const owner = useToken(claim, now)
        if (owner !== null) writeSession(s)
        return owner
      }),

    touchSession: (connectionId: string, now: number) =>
      run('touchSession', () => {
        const s = sessions.get(connectionId)
        if (s === undefined || !s.connected) return null
        s.requestCount += 1
        s.lastSeenAt = now
        return snapshot(s)
      }),

    recordActivity: (activity: readonly SessionActivity[]) =>
      run('recordActivity', () => {
        for (const a of activity) {
          const s = sessions.get(a.connectionId)
          if (s === undefined) continue
          s.requestCount += a.count
          s.lastSeenAt = Math.max(s.lastSeenAt, a.lastSeenAt)
        }
      }),

    getSession: (connectionId: string) =>
      run('getSession', () => {
        const s = sessions.get(connectionId)
        return s === undefined ? null : snapshot(s)
      }),

    setChannel: (connectionId: string, channel: string | null) =>
      run('setChannel', () => {
        const s = sessions.get(connectionId)
        if (s === undefined || !s.connected) return false
        s.channel = channel
        return true
      }),

    markDisconnected: (connectionIds: readonly string[], now: number, connectedBefore = Infinity) =>
      run('markDisconnected', () => {
        let n = 0
        for (const id of connectionIds) {
          const s = sessions.get(id)
          if (s === undefined || !s.connected || s.connectedAt >= connectedBefore) continue
          s.connected = false
          s.disconnectedAt = now
          n++
        }
        return n
      }),

    listConnections: (audience: Audience) =>
      run('listConnections', () => {
        const target = audienceTarget(audience)
        const ids: string[] = []
        for (const s of sessions.values()) {
          if (s.connected && matches(s, target)) ids.push(s.connectionId)
        }
        return ids
      }),

    claimNonce: (key: string, expiresAt: number, now: number) =>
      run('claimNonce', () => {
        validateNonce(key, expiresAt, now)
        const held = nonces.get(key)
        if (held !== undefined && held > now) return false
        nonces.set(key, expiresAt)
        return true
      }),

    channelPresence: (channel: string) =>
      run('channelPresence', (): ChannelPresence => {
        const counts = new Map<string, number>()
        let anonymous = 0
        for (const s of sessions.values()) {
          if (!s.connected || s.channel !== channel) continue
          if (s.userId === null) anonymous++
          else counts.set(s.userId, (counts.get(s.userId) ?? 0) + 1)
        }
        const members = [...counts]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([userId, connections]) => ({ userId, connections }))
        return { channel, members, anonymous }
      }),

    appendHistory: (channel: string, message: string, limits: HistoryLimits, now: number) =>
      run('appendHistory', (): HistoryPosition => {
        validateHistoryLimits(limits, now)
        let h = histories.get(channel)
        if (h === undefined) {
          h = { epoch: newEpoch(), offset: 0, entries: [] }
          histories.set(channel, h)
        }
        h.offset++
        h.entries.push({ offset: h.offset, message, at: now })
        // Trimmed here by size and age, oldest first (the entries are in offset order).
        const bornAfter = now - limits.ttlMs
        let drop = Math.max(0, h.entries.length - limits.size)
        while (drop < h.entries.length && !(h.entries[drop]!.at > bornAfter)) drop++
        if (drop > 0) h.entries.splice(0, drop)
        return { offset: h.offset, epoch: h.epoch }
      }),

    readHistory: (channel: string, since: number, limits: HistoryLimits, now: number) =>
      run('readHistory', () => {
        validateHistoryLimits(limits, now)
        validateSince(since)
        const h = histories.get(channel)
        if (h === undefined) return readOf(null, 0, [], since, limits, now)
        return readOf(h.epoch, h.offset, h.entries, since, limits, now)
      }),

    countTokens: (now: number) =>
      run('countTokens', (): TokenCounts => {
        let outstanding = 0
        for (const t of tokens.values()) if (t.usedAt === null && t.expiresAt > now) outstanding++
        return { outstanding }
      }),

    cleanup: (cutoffs: CleanupCutoffs) =>
      run('cleanup', (): CleanupResult => {
        let n = 0
        for (const [key, expiresAt] of nonces) {
          if (expiresAt < cutoffs.noncesExpiredBefore) {
            nonces.delete(key)
            n++
          }
        }
        let t = 0
        let r = 0
        let s = 0
        for (const [hash, tok] of tokens) {
          if (tok.createdAt < cutoffs.tokensCreatedBefore) {
            tokens.delete(hash)
            t++
          }
        }
        for (const [key, c] of counters) {
          // A bucket still weighs on the estimate for one window after it ends (as "previous").
          if (c.windowStart + 2 * c.windowMs < cutoffs.rateLimitsBefore) {
            counters.delete(key)
            r++
          }
        }
        for (const [id, sess] of sessions) {
          if (
            !sess.connected &&
            sess.disconnectedAt !== null &&
            sess.disconnectedAt < cutoffs.sessionsDisconnectedBefore
          ) {
            sessions.delete(id)
            s++
          }
        }
        return { tokens: t, rateLimits: r, sessions: s, nonces: n }
      }),

    close: async () => {
      closed = true
    },
  }
}
