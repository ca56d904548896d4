/**
 * @module app/revoke
 * Logout, kick and ban: end a user's (or one HTTP session's) sockets and, when asked, their
 * tokens. It must not fail open. The store can be down exactly when a user logs out, so:
 *
 * 1. the sockets this process opened are closed first, from its in-memory roster, through
 *    the connections port: no store needed (the bundled gateway holds them; on AWS the
 *    Management API does);
 * 2. the tokens are deleted (used ones too; see `Store.revokeTokens`), with retries;
 * 3. every socket the store lists is closed (other processes', and any opened meanwhile),
 *    with retries. Without a connections port the sessions the store lists are marked
 *    disconnected instead (with the same retries), so their sockets' next message is refused.
 *
 * If step 2 or 3 still fails, the call throws `ERR_REVOCATION_INCOMPLETE` with what it did
 * do in `details`, so the host never reports a logout that did not fully happen.
 */

import type { Clock } from '../clock.ts'
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { mapBounded } from '../push/bounded.ts'
import type { Connections } from '../push/connections.ts'
import type { Store } from '../store/store.ts'
import { publish, telemetry } from '../telemetry.ts'
import type { TokenService } from '../tokens/service.ts'
import { hashSessionId } from '../tokens/token.ts'
import type { Roster } from './roster.ts'
import type { Sender } from './send.ts'

/** What a revocation or kick did. */
export interface RevokeResult {
  /** Token rows deleted, used or not (0 for a kick without `revoke`). */
  readonly tokens: number
  /** Sockets closed (without a connections port: sessions the store marked disconnected). */
  readonly connections: number
}

/** Options of {@link Revoker.kick}. */
export interface KickOptions {
  /**
   * Also delete all the user's tokens (used or not), so no page of theirs can reconnect with
   * a token it already holds. The host should then end the user's HTTP sessions too (its
   * own session store; Gatehouse cannot), or the page simply fetches a new token. Default
   * false: the kick only closes sockets.
   */
  readonly revoke?: boolean
  /** Pushed to each of the user's sockets before it is closed (e.g. `{ type: 'kicked' }`). */
  readonly message?: unknown
}

/** The revocation operations of an app. */
export interface Revoker {
  revokeUser(userId: string): Promise<RevokeResult>
  revokeSession(sessionId: string): Promise<RevokeResult>
  kick(userId: string, options?: KickOptions): Promise<RevokeResult>
}

/** What the revoker works with. */
export interface RevokerDeps {
  readonly store: Store
  readonly tokens: TokenService
  readonly send: Sender
  readonly connections: Connections | undefined
  readonly roster: Roster
  readonly clock: Clock
  readonly logger: Logger
}

type Owner = { readonly userId: string } | { readonly sessionHash: string }

const encoder = new TextEncoder()
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** `fn`, tried up to `DEFAULTS.revokeAttempts` times with a growing pause between tries. */
async function retried<T>(fn: () => Promise<T>): Promise<T> {
  let last: unknown
  for (let attempt = 0; attempt < DEFAULTS.revokeAttempts; attempt++) {
    if (attempt > 0) await sleep(DEFAULTS.revokeRetryDelayMs * attempt)
    try {
      return await fn()
    } catch (err) {
      last = err
    }
  }
  throw last
}

/**
 * Build the revocation operations.
 *
 * @example
 * ```ts
 * const revoker = createRevoker({ store, tokens, send, connections, roster, clock, logger })
 * await revoker.kick('bob', { revoke: true, message: { type: 'kicked' } }) // { tokens: 2, connections: 1 }
 * ```
 */
export function createRevoker(deps: RevokerDeps): Revoker {
  const { store, tokens, send, connections, roster, clock, logger } = deps

  // Step 1: what this process opened, without the store.
  async function closeLocal(owner: Owner, message: Uint8Array | undefined): Promise<number> {
    if (!connections) return 0
    const ids = roster.of(owner)
    if (ids.length === 0) return 0
    const results = await mapBounded(ids, DEFAULTS.pushConcurrency, async (id) => {
      if (message !== undefined) {
        const sent = await connections.post(id, message).catch(() => false)
        // A farewell is a push like any other for messages_out.
        if (telemetry.hasSubscribers) publish({ type: 'push', recipients: 1, sent: sent ? 1 : 0 })
      }
      return connections.delete(id)
    })
    const ended: string[] = []
    let closed = 0
    results.forEach((r, i) => {
      if (!r.ok) return
      ended.push(ids[i]!)
      roster.remove(ids[i]!)
      if (r.value) closed++
    })
    // Best effort: the $disconnect each close causes marks them too, and cleanup reconciles.
    if (ended.length > 0) await store.markDisconnected(ended, clock.now()).catch(() => 0)
    return closed
  }

  async function end(
    scope: 'user' | 'session',
    owner: Owner,
    revokeTokens: (() => Promise<number>) | undefined,
    message?: unknown,
  ): Promise<RevokeResult> {
    const data =
      message === undefined
        ? undefined
        : encoder.encode(typeof message === 'string' ? message : JSON.stringify(message))
    let closed = await closeLocal(owner, data)
    let revoked = 0
    const incomplete: string[] = []
    let cause: unknown
    if (revokeTokens) {
      try {
        revoked = await retried(revokeTokens)
      } catch (err) {
        incomplete.push('tokens')
        cause = err
      }
    }
    if (connections) {
      try {
        closed += await retried(async () => {
          if (data !== undefined && 'userId' in owner) await send.toUser(owner.userId, data)
          return send.close(owner)
        })
      } catch (err) {
        incomplete.push('connections')
        cause ??= err
      }
    } else {
      // No port to close sockets with (an HTTP integration without pushes): end the
      // sessions in the store instead, so the message path refuses the socket's next
      // message. Reporting success without this would leave a logged-out socket served.
      try {
        closed += await retried(async () => {
          const ids = await store.listConnections(owner)
          return ids.length === 0 ? 0 : store.markDisconnected(ids, clock.now())
        })
      } catch (err) {
        incomplete.push('connections')
        cause ??= err
      }
    }
    const result = { tokens: revoked, connections: closed }
    if (incomplete.length > 0) {
      logger.error(
        { event: 'revocation_incomplete', scope, ...result, incomplete, err: cause },
        'revocation incomplete',
      )
      throw new GatehouseError(
        'ERR_REVOCATION_INCOMPLETE',
        `Revocation incomplete (${incomplete.join(', ')} not done); this process's sockets were closed. Try again.`,
        { cause, details: { ...result, incomplete } },
      )
    }
    logger.info({ event: 'revoked', scope, ...result }, `${scope} revoked`)
    return result
  }

  return {
    revokeUser: (userId) => end('user', { userId }, () => tokens.revokeUser(userId)),
    revokeSession: (sessionId) =>
      end('session', { sessionHash: hashSessionId(sessionId) }, () =>
        tokens.revokeSession(sessionId),
      ),
    kick: (userId, options = {}) =>
      end(
        'user',
        { userId },
        options.revoke === true ? () => tokens.revokeUser(userId) : undefined,
        options.message,
      ),
  }
}
