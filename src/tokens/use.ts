/**
 * @module tokens/use
 * Using a token: the one place that decides whether a presented token is good, and the only
 * caller of the Store's token-using operations. The rules, in the order they apply:
 *
 * 1. **Well-formed, with a session.** A value that is not 43 base64url characters, or a
 *    request without an HTTP session to bind it to, is refused without a store call, so junk
 *    costs nothing and an unknown token cannot be told from a malformed one by its timing.
 * 2. **One atomic match.** The store marks the token used in the same statement that matches
 *    its hash, the session hash, the audience (the app id of the app using it) and, when the
 *    host already knows the user, that user — unused and unexpired. A token failing any of
 *    these is neither accepted nor burnt; of concurrent uses, one wins (single use).
 * 3. **The session write is guarded by the token.** Revocation deletes token rows, used or
 *    not, so a connection is recorded only while its token's row exists.
 *
 * {@link connectWithToken} applies them for a `$connect` in one of two orders:
 *
 * - The host names the user (`identify` returned a `userId`): the app's checks of that user
 *   (`admit`) run first, while the token is untouched, then one store call
 *   (`Store.openSession`) uses the token — bound to that user — and writes the session in one
 *   commit. A user the checks refuse keeps an unburnt token.
 * - Otherwise the token is used first (`Store.consumeToken`), `admit` checks the user it
 *   names, and the session is written only while the token row still exists (a guarded
 *   `Store.createSession`), so a revocation between the two refuses the connect.
 */
import type { Clock } from '../clock.ts'
import type { AppRefusalReason } from '../http/refusal.ts'
import type { Logger } from '../logger.ts'
import type { ConsumedToken, NewSession, Store, TokenClaim } from '../store/store.ts'
import { FIXED_EVENTS, publish, telemetry } from '../telemetry.ts'
import { hashSessionId, hashToken, isWellFormedToken } from './token.ts'

/**
 * What using a token needs: the store, the app id tokens must have been issued under, a
 * clock for expiry, and a logger for the reason of each refusal.
 *
 * @example
 * ```ts
 * const ctx: TokenUseContext = { store, appId: 'chat', clock: systemClock, logger }
 * ```
 */
export interface TokenUseContext {
  readonly store: Store
  /** The audience: only tokens issued under this app id are accepted. */
  readonly appId: string
  readonly clock: Clock
  readonly logger: Logger
}

/** A used token's owner, and the token's hash (what guards the session it opens). */
export interface UsedToken extends ConsumedToken {
  readonly tokenHash: string
}

/**
 * Why a token did not open a connection, as the `$connect` refusal reason. Unknown, used,
 * expired, foreign (another session, app or user) and malformed are one reason,
 * `token_invalid`: the client must not learn which.
 */
export type TokenRefusal = Extract<
  AppRefusalReason,
  'token_missing' | 'token_invalid' | 'token_revoked'
>

/**
 * A `$connect` that presents a token; see {@link connectWithToken}.
 *
 * @example
 * ```ts
 * const request: TokenConnect<Rejection> = {
 *   token: event.query.ws_token,
 *   sessionId: identity.sessionId,
 *   userId: identity.userId ?? null,
 *   connection: { connectionId: event.connectionId, channel: 'lobby', connectedAt: event.connectedAt },
 *   admit: async (userId) => ((await loadUser(userId)) ? undefined : reject(401, 'user_unknown')),
 * }
 * ```
 */
export interface TokenConnect<R> {
  /** The token as the client sent it (`undefined` when it sent none); any value is safe. */
  readonly token: unknown
  /** The HTTP session id of the handshake (its cookie); the token must be bound to it. */
  readonly sessionId: string | null | undefined
  /** The user the host names from the handshake, or `null`; chooses the order. */
  readonly userId: string | null | undefined
  /** The session row to write, but for its user and session hash. */
  readonly connection: Pick<NewSession, 'connectionId' | 'channel' | 'connectedAt'>
  /**
   * The app's checks of the token's user (load, active, permissions, channel, custom).
   * Return a refusal to stop: nothing is written, and in the user-known order the token
   * stays unused.
   */
  readonly admit: (userId: string) => R | undefined | Promise<R | undefined>
}

/** The outcome of {@link connectWithToken}. */
export type TokenConnectOutcome<R> =
  | { readonly ok: true; readonly session: NewSession }
  | { readonly ok: false; readonly reason: TokenRefusal }
  | { readonly ok: false; readonly refused: R }

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value !== ''
}

/** Rule 1: the claim to match, or the refusal, without touching the store. */
function claimOf(
  ctx: TokenUseContext,
  token: unknown,
  sessionId: string | null | undefined,
  userId: string | null,
): TokenClaim | 'token_missing' | 'token_invalid' {
  if (!isWellFormedToken(token)) {
    const reason = token === undefined ? 'token_missing' : 'token_invalid'
    ctx.logger.info({ event: 'token_rejected', reason, detail: 'malformed' }, 'token rejected')
    if (telemetry.hasSubscribers) publish({ type: 'token_refused', stage: 'use', reason })
    return reason
  }
  if (!nonEmpty(sessionId)) {
    ctx.logger.info(
      { event: 'token_rejected', reason: 'token_invalid', detail: 'no_session' },
      'token rejected',
    )
    if (telemetry.hasSubscribers) {
      publish({ type: 'token_refused', stage: 'use', reason: 'token_invalid' })
    }
    return 'token_invalid'
  }
  return { hash: hashToken(token), sessionHash: hashSessionId(sessionId), appId: ctx.appId, userId }
}

function invalid(ctx: TokenUseContext): 'token_invalid' {
  // Unknown, used, expired, other session, other app and other user are one reason: the
  // store cannot tell them apart without a second query, and the client must not learn which.
  ctx.logger.info({ event: 'token_rejected', reason: 'token_invalid' }, 'token rejected')
  if (telemetry.hasSubscribers) {
    publish({ type: 'token_refused', stage: 'use', reason: 'token_invalid' })
  }
  return 'token_invalid'
}

/**
 * Use `token` once from `sessionId` (rules 1 and 2): its owner when it is well-formed, exists,
 * is unused, unexpired, bound to that session, issued by `ctx.appId` and (when `userId` is
 * given) to that user; `null` for every failure alike, each logged with its reason.
 *
 * @example
 * ```ts
 * const used = await useToken(ctx, query.ws_token, identity.sessionId)
 * if (used === null) return reject(401, 'token_invalid')
 * ```
 */
export async function useToken(
  ctx: TokenUseContext,
  token: unknown,
  sessionId: string | null | undefined,
  userId: string | null = null,
): Promise<UsedToken | null> {
  const claim = claimOf(ctx, token, sessionId, nonEmpty(userId) ? userId : null)
  if (typeof claim === 'string') return null
  const owner = await ctx.store.consumeToken(claim, ctx.clock.now())
  if (owner === null) {
    invalid(ctx)
    return null
  }
  if (telemetry.hasSubscribers) publish(FIXED_EVENTS.tokenUsed)
  return { ...owner, tokenHash: claim.hash }
}

/**
 * Open a connection with a token: rules 1 to 3 in the order the request allows (see the
 * module comment), with the app's user checks (`admit`) where they keep a refused user's
 * token unburnt. Store failures throw `ERR_STORE_UNAVAILABLE` (the caller answers 503);
 * nothing is written unless the outcome is `ok`.
 *
 * @example
 * ```ts
 * const outcome = await connectWithToken(ctx, request)
 * if (outcome.ok) onConnected(outcome.session)
 * else if ('refused' in outcome) return outcome.refused // an admit refusal
 * else return reject(401, outcome.reason)
 * ```
 */
export async function connectWithToken<R>(
  ctx: TokenUseContext,
  request: TokenConnect<R>,
): Promise<TokenConnectOutcome<R>> {
  const known = nonEmpty(request.userId) ? request.userId : null
  const claim = claimOf(ctx, request.token, request.sessionId, known)
  if (typeof claim === 'string') return { ok: false, reason: claim }
  const row = (userId: string): NewSession => ({
    connectionId: request.connection.connectionId,
    userId,
    sessionHash: claim.sessionHash,
    channel: request.connection.channel,
    connectedAt: request.connection.connectedAt,
  })

  if (known !== null) {
    // The user is checked while the token is untouched; then one commit uses the token
    // (which must be this user's) and writes the session, or does neither.
    const refused = await request.admit(known)
    if (refused !== undefined) return { ok: false, refused }
    const session = row(known)
    const owner = await ctx.store.openSession({ ...claim, userId: known }, session, ctx.clock.now())
    if (owner === null) return { ok: false, reason: invalid(ctx) }
    if (telemetry.hasSubscribers) publish(FIXED_EVENTS.tokenUsed)
    return { ok: true, session }
  }

  const owner = await ctx.store.consumeToken(claim, ctx.clock.now())
  if (owner === null) return { ok: false, reason: invalid(ctx) }
  if (telemetry.hasSubscribers) publish(FIXED_EVENTS.tokenUsed)
  const refused = await request.admit(owner.userId)
  if (refused !== undefined) return { ok: false, refused }
  const session = row(owner.userId)
  // Written only while the token row exists: a revocation (logout, kick, ban) since the
  // token was used has deleted it, and then no socket opens that the revocation missed.
  const written = await ctx.store.createSession(session, { tokenHash: claim.hash })
  if (written) return { ok: true, session }
  ctx.logger.info({ event: 'token_rejected', reason: 'token_revoked' }, 'token revoked in flight')
  if (telemetry.hasSubscribers) {
    publish({ type: 'token_refused', stage: 'use', reason: 'token_revoked' })
  }
  return { ok: false, reason: 'token_revoked' }
}
