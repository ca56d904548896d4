/**
 * @module store/store
 * The Store contract: tokens, rate-limit counters and sessions, shaped so SQLite, PostgreSQL
 * and Redis can each implement every method in one atomic round trip
 * (`UPDATE … RETURNING`, `INSERT … ON CONFLICT … RETURNING`, `GETDEL` or a Lua script).
 * One conformance suite (`test/conformance/store.ts`) runs against every implementation.
 *
 * Failure rule: an implementation that cannot reach its backend throws a
 * `GatehouseError('ERR_STORE_UNAVAILABLE')`; callers answer 503 and never "allow".
 *
 * Group commit (`store/group-commit.ts`): an implementation may queue the writes of connects
 * and token issues ({@link Store.hit}, {@link Store.insertToken}, {@link Store.consumeToken},
 * {@link Store.createSession}, {@link Store.openSession}) and commit all those of one
 * event-loop turn in one transaction, as the SQLite and PostgreSQL stores do. Each call's
 * promise then settles once that transaction has committed, with the call's own result (a
 * refusal is a result and never fails the others). When the transaction fails, it is rolled
 * back as a whole and EVERY call of it rejects with `ERR_STORE_UNAVAILABLE`: no token is
 * left used without its session. Every other guarantee below holds per call as before.
 */

import type { RateDecision, RateKey } from '../limits/rate.ts'

// The rate-limit shapes live with the algorithm that judges them (limits/), so limits/ never
// imports store/; the Store contract names them, and re-exports them for implementers.
export type { RateDecision, RateKey }

/** A token as stored: only its SHA-256 hash, never the token itself. */
export interface TokenRecord {
  /** Hex SHA-256 of the raw token (64 characters). */
  readonly hash: string
  readonly userId: string
  /** Hex SHA-256 of the session id the token was issued to. */
  readonly sessionHash: string
  /**
   * The audience: the `appId` of the app that issued the token. Only that app's `$connect`
   * accepts it, so apps side by side on one store never accept each other's tokens.
   */
  readonly appId: string
  readonly createdAt: number
  readonly expiresAt: number
}

/** Who a consumed token belonged to. */
export interface ConsumedToken {
  readonly userId: string
  readonly sessionHash: string
}

/** A live or past WebSocket connection of a user. */
export interface SessionRecord {
  readonly connectionId: string
  /** `null` for anonymous connections of apps with `useToken: false`. */
  readonly userId: string | null
  /** Hash of the HTTP session the connection was opened from (for revocation). */
  readonly sessionHash: string | null
  readonly channel: string | null
  readonly connected: boolean
  readonly requestCount: number
  readonly connectedAt: number
  readonly lastSeenAt: number
  readonly disconnectedAt: number | null
}

/**
 * Messages a session handled since the last write, as {@link Store.recordActivity} adds them.
 *
 * @example
 * ```ts
 * await store.recordActivity([{ connectionId: 'c1', count: 3, lastSeenAt: Date.now() }])
 * ```
 */
export interface SessionActivity {
  readonly connectionId: string
  /** Messages to add to `requestCount` (a positive integer). */
  readonly count: number
  readonly lastSeenAt: number
}

/** The fields a new session needs; the store sets the counters. */
export interface NewSession {
  readonly connectionId: string
  readonly userId: string | null
  readonly sessionHash: string | null
  readonly channel: string | null
  readonly connectedAt: number
}

/**
 * The condition of a guarded {@link Store.createSession}: the hash of the token the
 * connection consumed, whose row must still exist (not revoked) for the session to be written.
 *
 * @example
 * ```ts
 * const written = await store.createSession(session, { tokenHash: hashToken(token) })
 * if (!written) return reject(401, 'token_revoked')
 * ```
 */
export interface SessionGuard {
  readonly tokenHash: string
}

/**
 * What a presented token must match to be used ({@link Store.consumeToken},
 * {@link Store.openSession}): its hash, the HTTP session presenting it, the app it is
 * presented to (the audience), and the user when the host already knows them. Every field is
 * matched in the same atomic statement that marks the token used, so a token that fails any
 * of them is neither accepted nor burnt.
 *
 * @example
 * ```ts
 * const claim: TokenClaim = { hash: hashToken(token), sessionHash, appId: 'chat', userId: null }
 * ```
 */
export interface TokenClaim {
  /** Hex SHA-256 of the raw token. */
  readonly hash: string
  /** Hex SHA-256 of the HTTP session id presenting the token. */
  readonly sessionHash: string
  /** The `appId` of the app the token is presented to; it must be the issuing app's. */
  readonly appId: string
  /**
   * The user the host already knows from the handshake (e.g. its session cookie), which the
   * token must have been issued to; `null` when the host does not know (any owner matches,
   * and the owner is what the call returns).
   */
  readonly userId: string | null
}

/**
 * A {@link TokenClaim} that names its user, as {@link Store.openSession} needs: the session
 * it writes is that user's, so the token must be theirs.
 *
 * @example
 * ```ts
 * const claim: UserTokenClaim = { hash, sessionHash, appId: 'chat', userId: 'alice' }
 * ```
 */
export interface UserTokenClaim extends TokenClaim {
  readonly userId: string
}

/** Which connected sessions a push or a revocation addresses. */
export type Audience =
  | { readonly connectionId: string }
  | { readonly userId: string }
  | { readonly sessionHash: string }
  | { readonly channel: string }
  | { readonly all: true }

/**
 * One user in a channel, as {@link Store.channelPresence} reports them.
 *
 * @example
 * ```ts
 * const m: PresenceMember = { userId: 'alice', connections: 2 } // two tabs open
 * ```
 */
export interface PresenceMember {
  readonly userId: string
  /** That user's connected sessions in the channel (tabs, devices). */
  readonly connections: number
}

/**
 * Who is connected to a channel: each user once, with their connection count, sorted by
 * user id, and how many anonymous connections (apps with `useToken: false`) are there too.
 *
 * @example
 * ```ts
 * const p: ChannelPresence = { channel: 'lobby', members: [{ userId: 'alice', connections: 2 }], anonymous: 0 }
 * ```
 */
export interface ChannelPresence {
  readonly channel: string
  readonly members: readonly PresenceMember[]
  readonly anonymous: number
}

/** What {@link Store.countTokens} counts. */
export interface TokenCounts {
  /** Issued, not used, not expired. */
  readonly outstanding: number
}

/** Cut-offs for {@link Store.cleanup}: rows older than each (epoch ms) are removed. */
export interface CleanupCutoffs {
  /** Tokens created before this (used, expired or not) are deleted. */
  readonly tokensCreatedBefore: number
  /** Rate-limit counters whose window ended before this are deleted. */
  readonly rateLimitsBefore: number
  /** Disconnected sessions whose disconnect came before this are deleted. */
  readonly sessionsDisconnectedBefore: number
  /** Nonces ({@link Store.claimNonce}) that expired before this are deleted. */
  readonly noncesExpiredBefore: number
}

/** How many rows {@link Store.cleanup} removed. */
export interface CleanupResult {
  readonly tokens: number
  readonly rateLimits: number
  readonly sessions: number
  readonly nonces: number
}

/**
 * How much history a channel keeps: the last `size` messages, none older than `ttlMs`.
 *
 * @example
 * ```ts
 * const limits: HistoryLimits = { size: 100, ttlMs: 5 * 60_000 }
 * ```
 */
export interface HistoryLimits {
  readonly size: number
  readonly ttlMs: number
}

/**
 * Where a message sits in its channel's history: its offset (1, 2, 3, … per channel, no
 * gaps) and the epoch of the history stream (a random string that changes when the history
 * is lost, so offsets of a lost stream are never taken for offsets of the new one).
 *
 * @example
 * ```ts
 * const at: HistoryPosition = await store.appendHistory('lobby', '{"text":"hi"}', limits, now)
 * ```
 */
export interface HistoryPosition {
  readonly offset: number
  readonly epoch: string
}

/**
 * One stored message of a channel's history.
 *
 * @example
 * ```ts
 * const e: HistoryEntry = { offset: 12, message: '{"type":"chat_message"}', at: Date.now() }
 * ```
 */
export interface HistoryEntry {
  readonly offset: number
  /** The message as it was sent (its JSON text). */
  readonly message: string
  /** When it was appended (epoch ms). */
  readonly at: number
}

/**
 * What {@link Store.readHistory} found after an offset.
 *
 * @example
 * ```ts
 * const read = await store.readHistory('lobby', 40, limits, now)
 * if (read.epoch === epoch && read.complete) for (const e of read.entries) push(e)
 * ```
 */
export interface HistoryRead {
  /** The channel's current epoch; `null` when it has no history (never written, or lost). */
  readonly epoch: string | null
  /** The latest offset written in this epoch (0 without history). */
  readonly offset: number
  /** The retained entries after the offset asked for, oldest first. */
  readonly entries: readonly HistoryEntry[]
  /**
   * True when `entries` hold every message after the offset asked for (none trimmed by size
   * or age in between).
   */
  readonly complete: boolean
}

/**
 * Persistence for tokens, rate limits and sessions.
 *
 * @example
 * ```ts
 * const store = await openSqliteStore({ path: '.data/gatehouse.db' })
 * await store.insertToken({ hash, userId: 'alice', sessionHash, appId: 'chat', createdAt: now, expiresAt: now + 60_000 })
 * const claim = { hash, sessionHash, appId: 'chat', userId: null }
 * const who = await store.consumeToken(claim, now) // { userId: 'alice', ... } once, then null
 * ```
 */
export interface Store {
  /**
   * True when other processes (app instances, gateway nodes) can use the same data:
   * PostgreSQL and Redis. An app then checks signed gateway calls against replays with
   * {@link Store.claimNonce} by default, not only in its own memory.
   */
  readonly shared: boolean
  /** Store a new token (its hash). */
  insertToken(token: TokenRecord): Promise<void>
  /**
   * Use a token once, atomically, in one statement: succeeds only if `claim.hash` exists, is
   * unused, unexpired at `now`, and was issued to `claim.sessionHash`, by the app
   * `claim.appId`, and (when given) to `claim.userId`. A token that fails any of these —
   * presented from another session, to another app, or for another user — is neither
   * accepted nor burnt. Of any number of concurrent calls, at most one succeeds.
   */
  consumeToken(claim: TokenClaim, now: number): Promise<ConsumedToken | null>
  /**
   * Delete every token of a user or of a session, used or not; returns how many token rows
   * it removed. Used tokens go too: a `$connect` that has consumed its token but not yet
   * written its session holds the token's hash, and {@link Store.createSession} with that
   * hash as its guard then writes nothing, so a revocation cannot miss a socket in flight.
   */
  revokeTokens(owner: { userId: string } | { sessionHash: string }): Promise<number>

  /**
   * Count one attempt against the keys, in order (sliding window: current and previous
   * bucket, weighted), and stop at the first key that refuses: that key counts the attempt
   * (refused attempts are limited too), the keys after it are neither counted nor written.
   * So a caller lists the key it trusts first (the client IP) and a key the client chooses
   * (a user name sent to a login form) after it: an IP that is refused cannot create rows
   * for names it makes up. A key with `charge: false` is judged without being counted.
   * Allowed only when every key passes. One round trip for all keys on every store.
   */
  hit(keys: readonly RateKey[], now: number): Promise<RateDecision>

  /**
   * Record a connection that passed `$connect`, replacing any row of the same connection id.
   * With a `guard`, the row is written only if the token row `guard.tokenHash` still exists,
   * tested and written in one atomic statement (a concurrent {@link Store.revokeTokens}
   * either runs first, and nothing is written, or after, and then finds the session).
   * Returns whether the row was written: always `true` without a guard.
   */
  createSession(session: NewSession, guard?: SessionGuard): Promise<boolean>
  /**
   * {@link Store.consumeToken} and {@link Store.createSession} as one atomic unit, for a
   * `$connect` whose user is known before its token: use the token with the same match as
   * `consumeToken` (unused, unexpired at `now`, issued to `token.sessionHash`, by
   * `token.appId`, AND to `token.userId`) and, only if that succeeded, write `session`
   * (replacing any row of the same connection id). Returns the token's owner, or `null` with nothing written (no burnt
   * token, no session). Of any number of concurrent calls with one token, at most one
   * succeeds. A {@link Store.revokeTokens} that runs first deletes the token, so this
   * returns `null`; one that runs after finds the session. One commit on every backend.
   *
   * @example
   * ```ts
   * const claim = { hash, sessionHash, appId: 'chat', userId: 'alice' }
   * const owner = await store.openSession(claim, session, now)
   * if (owner === null) return reject(401, 'token_invalid')
   * ```
   */
  openSession(
    token: UserTokenClaim,
    session: NewSession,
    now: number,
  ): Promise<ConsumedToken | null>
  /**
   * The connected session of `connectionId`, with its request count bumped and `lastSeenAt`
   * set to `now` in the same statement; `null` when unknown or disconnected.
   */
  touchSession(connectionId: string, now: number): Promise<SessionRecord | null>
  /**
   * Add the activity of many sessions at once, written behind the message path: each entry
   * adds `count` to its session's request count and moves `lastSeenAt` forward (never back).
   * Sessions in any state are updated (a message counted before its socket closed still
   * counts); unknown ids are skipped. One round trip for the whole batch.
   */
  recordActivity(activity: readonly SessionActivity[]): Promise<void>
  /** Read a session without touching it (any state); `null` when unknown. */
  getSession(connectionId: string): Promise<SessionRecord | null>
  /** Move a connected session to another channel; false when not connected. */
  setChannel(connectionId: string, channel: string | null): Promise<boolean>
  /**
   * Mark sessions disconnected (best effort, idempotent); returns how many changed.
   * With `connectedBefore`, only sessions that connected before it are marked: a push that
   * races a connection's handshake is answered Gone (as on AWS) and must not end a session
   * whose socket is about to open.
   */
  markDisconnected(
    connectionIds: readonly string[],
    now: number,
    connectedBefore?: number,
  ): Promise<number>
  /** Connection ids of the connected sessions an audience names. */
  listConnections(audience: Audience): Promise<string[]>
  /**
   * How many tokens are outstanding at `now`: issued, unused and unexpired (for the admin
   * page; never which ones). Proportional to the tokens stored, so not for a hot path.
   */
  countTokens(now: number): Promise<TokenCounts>

  /**
   * Claim a one-time key until `expiresAt` (epoch ms), atomically: true when the key was
   * absent or had expired at `now` (it is now held until `expiresAt`), false when it is held.
   * Of any number of concurrent calls with one key, across every process sharing the store,
   * exactly one gets true. The app uses it so a signed gateway call replayed to another app
   * process is refused there too. One round trip (`INSERT … ON CONFLICT … WHERE expired`,
   * `SET NX PX`).
   *
   * @example
   * ```ts
   * await store.claimNonce('sig:4f1c…', now + 60_000, now) // true
   * await store.claimNonce('sig:4f1c…', now + 60_000, now) // false: already claimed
   * ```
   */
  claimNonce(key: string, expiresAt: number, now: number): Promise<boolean>

  /**
   * Who is connected to `channel` ({@link ChannelPresence}), in one query or script: one
   * round trip however many members, so presence can be read on every join and leave.
   */
  channelPresence(channel: string): Promise<ChannelPresence>

  /**
   * Append `message` to `channel`'s history and return its position: the next offset of the
   * channel (1 for a new or lost history, which gets a new epoch), assigned atomically, so
   * concurrent appends from any process get distinct consecutive offsets. Entries beyond the
   * last `limits.size` or older than `limits.ttlMs` at `now` are dropped (at once or lazily;
   * {@link Store.readHistory} never returns them). One round trip.
   *
   * @example
   * ```ts
   * await store.appendHistory('lobby', '{"text":"hi"}', { size: 100, ttlMs: 300_000 }, now)
   * // { offset: 1, epoch: 'pW3k9Zq0Lr2xYb7A' }
   * ```
   */
  appendHistory(
    channel: string,
    message: string,
    limits: HistoryLimits,
    now: number,
  ): Promise<HistoryPosition>
  /**
   * The entries of `channel`'s history after offset `since`, oldest first, within `limits`
   * at `now`, with the channel's epoch and latest offset ({@link HistoryRead}). One round trip.
   */
  readHistory(
    channel: string,
    since: number,
    limits: HistoryLimits,
    now: number,
  ): Promise<HistoryRead>

  /**
   * Delete old rows; see {@link CleanupCutoffs}. A store that works in batches (Redis)
   * calls `onProgress` with the running totals after each batch, so a long run can report
   * where it is.
   */
  cleanup(
    cutoffs: CleanupCutoffs,
    onProgress?: (soFar: CleanupResult) => void,
  ): Promise<CleanupResult>
  /** Release the backend connection. */
  close(): Promise<void>
}
