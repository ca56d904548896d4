/**
 * @module tokens/service
 * Issue and use WebSocket tokens (flow 1 and the consume step of flow 2 in DESIGN.md).
 * A token is 32 random bytes, handed out once and stored only as its SHA-256 hash, bound to
 * the user, to a hash of the HTTP session id and to the issuing app's id (its audience),
 * valid for `ttlMs` and usable once. The rules for using one live in `use.ts`.
 */
import { type Clock, systemClock } from '../clock.ts'
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import { connectUserKey, tokenUserKey } from '../limits/keys.ts'
import { type Logger, logSafe, silentLogger } from '../logger.ts'
import type { Store } from '../store/store.ts'
import { FIXED_EVENTS, publish, rateKindOf, telemetry } from '../telemetry.ts'
import { positiveInt } from '../util/options.ts'
import { checkAppId } from './app-id.ts'
import { generateToken, hashSessionId, hashToken } from './token.ts'
import { type TokenUseContext, type UsedToken, useToken } from './use.ts'

export type { UsedToken } from './use.ts'

/** Options of {@link createTokenService}. */
export interface TokenServiceOptions {
  readonly store: Store
  /**
   * The audience: the id of the app the tokens are for (`^[A-Za-z0-9._:-]{1,64}$`). Only an
   * app with this `appId` accepts them. Default `DEFAULTS.appId` (`'default'`).
   */
  readonly appId?: string | undefined
  readonly clock?: Clock | undefined
  /** Token lifetime in ms (at least 1000). Default `DEFAULTS.tokenTtlMs` (60 s). */
  readonly ttlMs?: number | undefined
  /** Tokens one user may be issued per window. Default `DEFAULTS.tokenIssueLimit` (20). */
  readonly issueLimit?: number | undefined
  /** Issue window in ms. Default `DEFAULTS.tokenIssueWindowMs` (60 s). */
  readonly issueWindowMs?: number | undefined
  /**
   * The app's per-user `$connect` budget (`createApp` passes its own): while the user has
   * spent it, `issue` refuses with a retry time, so the client learns when to come back
   * (a refused upgrade shows a browser only close code 1006). Default
   * `DEFAULTS.connectLimitPerUser` per `DEFAULTS.connectWindowMs`.
   */
  readonly connectLimitPerUser?: number | undefined
  readonly connectWindowMs?: number | undefined
  readonly logger?: Logger | undefined
}

/** The outcome of {@link TokenService.issue}. */
export type IssueResult =
  | { readonly ok: true; readonly token: string; readonly expiresInSec: number }
  | { readonly ok: false; readonly reason: 'rate'; readonly retryAfterSec: number }

/**
 * Issues, uses and revokes tokens. Store failures surface as `ERR_STORE_UNAVAILABLE` throws.
 *
 * @example
 * ```ts
 * const tokens: TokenService = createTokenService({ store })
 * await tokens.revokeSession(sessionId) // on logout
 * ```
 */
export interface TokenService {
  /** The app id every token of this service is issued under (and the only one it accepts). */
  readonly appId: string
  /**
   * A new token for `userId` bound to `sessionId` and to this service's app, unless the
   * user's connect budget or issue rate is spent.
   */
  issue(userId: string, sessionId: string): Promise<IssueResult>
  /**
   * Use `token` once from `sessionId`: the owner when it exists, is unused, unexpired, was
   * issued to that session and by this service's app; `null` for every failure alike. A
   * malformed token or a missing session returns `null` without touching the store.
   */
  consume(token: unknown, sessionId: string | null): Promise<UsedToken | null>
  /** Delete every token of a user (an in-flight `$connect` guarded by one then fails); returns how many rows went. */
  revokeUser(userId: string): Promise<number>
  /** Delete every token issued to an HTTP session; returns how many rows went. */
  revokeSession(sessionId: string): Promise<number>
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0
}

/**
 * Create the token service.
 *
 * @example
 * ```ts
 * const tokens = createTokenService({ store, appId: 'chat', clock: manualClock() })
 * const issued = await tokens.issue('alice', sessionId)
 * if (issued.ok) {
 *   const who = await tokens.consume(issued.token, sessionId) // { userId: 'alice', ... }
 *   await tokens.consume(issued.token, sessionId)             // null: single use
 * }
 * ```
 */
export function createTokenService(options: TokenServiceOptions): TokenService {
  const store = options?.store
  if (typeof store?.insertToken !== 'function' || typeof store.consumeToken !== 'function') {
    throw new GatehouseError('ERR_INVALID_OPTION', 'createTokenService needs a store')
  }
  const clock = options.clock ?? systemClock
  const appId = checkAppId('appId', options.appId ?? DEFAULTS.appId)
  const ttlMs = positiveInt('ttlMs', options.ttlMs ?? DEFAULTS.tokenTtlMs, 1000)
  const issueLimit = positiveInt('issueLimit', options.issueLimit ?? DEFAULTS.tokenIssueLimit)
  const issueWindowMs = positiveInt(
    'issueWindowMs',
    options.issueWindowMs ?? DEFAULTS.tokenIssueWindowMs,
  )
  const connectBudget = {
    limit: positiveInt(
      'connectLimitPerUser',
      options.connectLimitPerUser ?? DEFAULTS.connectLimitPerUser,
    ),
    windowMs: positiveInt('connectWindowMs', options.connectWindowMs ?? DEFAULTS.connectWindowMs),
  }
  const logger = options.logger ?? silentLogger
  // Whole seconds, rounded down: the client believes the token dies no later than it does.
  const expiresInSec = Math.floor(ttlMs / 1000)
  const use: TokenUseContext = { store, appId, clock, logger }

  return {
    appId,
    async issue(userId, sessionId) {
      if (!nonEmpty(userId) || !nonEmpty(sessionId)) {
        throw new GatehouseError('ERR_INVALID_OPTION', 'issue() needs a userId and a sessionId')
      }
      const now = clock.now()
      // The connect budget is only looked at (the $connect charges it); a user who has
      // spent it is told to wait here, before an issue is counted. Counted before the token
      // exists, so a refused request creates nothing.
      const connectKey = connectUserKey(userId, connectBudget)
      const decision = await store.hit(
        [
          { ...connectKey, charge: false },
          tokenUserKey(userId, { limit: issueLimit, windowMs: issueWindowMs }),
        ],
        now,
      )
      if (!decision.allowed) {
        // Which limit refused: the user's connect rate (a token they could not use) or the
        // issue rate; both are `rate_limited` to the client and the log.
        const kind = decision.key === connectKey.key ? rateKindOf(connectKey.key) : 'token_issue'
        logger.warn(
          { event: 'token_refused', reason: 'rate_limited', limit: kind },
          'token issue refused',
        )
        if (telemetry.hasSubscribers) {
          publish({ type: 'rate_limited', kind, key: logSafe(decision.key ?? userId, 80) })
        }
        return {
          ok: false,
          reason: 'rate',
          retryAfterSec: Math.max(1, Math.ceil(decision.msBeforeNext / 1000)),
        }
      }
      const token = generateToken()
      await store.insertToken({
        hash: hashToken(token),
        userId,
        sessionHash: hashSessionId(sessionId),
        appId,
        createdAt: now,
        expiresAt: now + ttlMs,
      })
      if (telemetry.hasSubscribers) publish(FIXED_EVENTS.tokenIssued)
      return { ok: true, token, expiresInSec }
    },

    consume: (token, sessionId) => useToken(use, token, sessionId),

    async revokeUser(userId) {
      // Nothing can be issued to an empty id, so there is nothing to revoke.
      if (!nonEmpty(userId)) return 0
      return store.revokeTokens({ userId })
    },

    async revokeSession(sessionId) {
      if (!nonEmpty(sessionId)) return 0
      return store.revokeTokens({ sessionHash: hashSessionId(sessionId) })
    },
  }
}
