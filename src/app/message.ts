/**
 * @module app/message
 * The message pipeline: gateway → size → session and user → app permissions → parse → select →
 * handler permissions → handler. The session and user come from the app's session cache
 * (filled at `$connect`), else from one store read: a message writes nothing to the store
 * (its count and time are written behind, in batches, by the activity recorder). Unknown, hostile, malformed and forbidden names all end the
 * same way: the `default` handler when the app has one, else one generic error reply.
 * A message from a socket with no connected session, or whose user is gone or inactive, gets
 * the generic reply and its socket is closed.
 */
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError, isGatehouseError } from '../errors.ts'
import type { GatewayEvent, GatewayResponse } from '../events/event.ts'
import {
  type AppRefusalReason,
  FORBIDDEN_REPLY,
  INTERNAL_ERROR_REPLY,
  UNAVAILABLE_REPLY,
  validationReply,
} from '../http/refusal.ts'
import { logSafe } from '../logger.ts'
import type { Store } from '../store/store.ts'
import type { TokenService } from '../tokens/service.ts'
import type { ActivityRecorder } from './activity.ts'
import type { Authenticity } from './authenticity.ts'
import { isValidChannel } from './checks/channel.ts'
import { parseMessage } from './checks/json.ts'
import { hasPermissions } from './checks/permissions.ts'
import type { AppConfig } from './config.ts'
import { guard } from './guard.ts'
import { firePresence } from './presence.ts'
import { type Recovery, readRecoveryRequest } from './recovery.ts'
import type { HandlerRegistry, RegisteredHandler } from './registry.ts'
import { readRequestId, replyEnvelope, withRequestId } from './reply.ts'
import type { Sender } from './send.ts'
import type { CachedSession, SessionCache } from './session-cache.ts'
import type { MessageContext, PermissionRule, User } from './types.ts'
import { type Validation, validateBody } from './validate.ts'

/** What the message pipeline needs beyond its config. */
export interface MessageDeps {
  readonly config: AppConfig
  readonly store: Store
  readonly registry: HandlerRegistry
  readonly send: Sender
  readonly authenticity: Authenticity
  /** Handed to handlers as `ctx.tokens`. */
  readonly tokens: TokenService
  /** Where each message finds its session and user (filled at `$connect`). */
  readonly cache: SessionCache
  /** Where each message's count and time go, written behind. */
  readonly activity: ActivityRecorder
  /** Answers a reconnected client's `{"action":"$recover"}`. */
  readonly recovery?: Recovery
}

/** Store reads a message makes before it gives up racing revocations (then 503). */
const MAX_LOAD_ATTEMPTS = 3

const REPLIES = { unavailable: UNAVAILABLE_REPLY, internal: INTERNAL_ERROR_REPLY }
const EMPTY_BODY: Readonly<Record<string, unknown>> = Object.freeze({})
const encoder = new TextEncoder()

/**
 * Build the message handler of an app.
 *
 * @example
 * ```ts
 * const onMessage = createMessagePipeline({ config, store, registry, send, authenticity, tokens, cache, activity })
 * const reply = await onMessage(event) // { status: 200, body: '{"type":"ok"}' }
 * ```
 */
export function createMessagePipeline(
  deps: MessageDeps,
): (event: GatewayEvent) => Promise<GatewayResponse> {
  const { config, store, registry, send, authenticity, tokens, cache, activity, recovery } = deps
  // From the frozen config only: the caller's options object is never read again.
  const { logger, loadUser, permissions, authorizeChannel } = config

  function refuse(
    event: GatewayEvent,
    reason: AppRefusalReason,
    status: number,
    extra?: object,
    rid?: string,
  ): GatewayResponse {
    logger.warn(
      { event: 'message_rejected', reason, connectionId: event.connectionId, ...extra },
      'message rejected',
    )
    return { status, body: withRequestId(FORBIDDEN_REPLY, rid) }
  }

  // Tell the client once, then close its socket. The reply is pushed before the close, so it
  // arrives first; when it could not be pushed (no connections port, or already gone) it
  // travels as the route's answer instead.
  async function refuseAndClose(event: GatewayEvent, reason: AppRefusalReason) {
    const { connectionId } = event
    const pushed = await send.toConnection(connectionId, FORBIDDEN_REPLY).then(
      (r) => r.sent === 1,
      () => false,
    )
    await send.close({ connectionId }).catch(() => 0)
    logger.warn(
      { event: 'message_rejected', reason, connectionId },
      'message rejected; connection closed',
    )
    return pushed ? { status: 403 } : { status: 403, body: FORBIDDEN_REPLY }
  }

  type Loaded = CachedSession | 'none' | 'user_unknown' | 'user_inactive'

  // A miss (after a restart, on another process of the app, or past the entry's lifetime):
  // one store read, no write. When a revocation, kick or disconnect ran while it was in
  // flight (the epoch moved), its answer may predate that revocation: read again.
  async function load(connectionId: string): Promise<Loaded> {
    for (let attempt = 0; attempt < MAX_LOAD_ATTEMPTS; attempt++) {
      const epoch = cache.epoch
      const session = await store.getSession(connectionId)
      if (!session?.connected) return 'none'
      let user: User | null = null
      if (session.userId !== null) {
        user = loadUser ? await loadUser(session.userId) : null
        // Stale authority.
        if (!user) return 'user_unknown'
        if (user.active === false) return 'user_inactive'
      }
      const now = config.clock.now()
      if (cache.fill(session, user, epoch, now)) return { session, user, expiresAt: now }
    }
    // Revocations kept landing during the read: fail closed, as for an outage.
    throw new GatehouseError('ERR_STORE_UNAVAILABLE', 'session read kept racing revocations')
  }

  function allowed(user: User | null, rule: PermissionRule | undefined): boolean {
    if (!rule) return true
    return user !== null && hasPermissions(user.permissions, rule)
  }

  return (event) =>
    guard(
      logger,
      'message',
      event,
      async () => {
        const untrusted = authenticity.check(event)
        if (untrusted) return refuse(event, untrusted.reason, 403)
        const text = event.body ?? ''
        // Cheap length test first; the byte count only matters near the limit.
        if (
          text.length * 3 > config.maxMessageBytes &&
          encoder.encode(text).byteLength > config.maxMessageBytes
        ) {
          return refuse(event, 'event_invalid', 413)
        }
        const now = config.clock.now()
        // The shared replay claim (when on) runs alongside the session lookup: no added
        // latency. On a cache hit there is no store read to run alongside.
        let epoch = cache.epoch
        const [replayed, found] = await Promise.all([
          authenticity.claimShared(event),
          cache.get(event.connectionId, now) ?? load(event.connectionId),
        ])
        // A replay to this process of a call another process ran: refused, socket untouched.
        if (replayed) return refuse(event, replayed.reason, 403)
        let known = found
        // A revocation, kick or disconnect landed while the claim was awaited: look again.
        while (epoch !== cache.epoch) {
          epoch = cache.epoch
          known = cache.get(event.connectionId, now) ?? (await load(event.connectionId))
        }
        // No connected session: a socket that opened although its session was revoked while
        // its $connect ran (the close found it not yet open), or one the store already ended.
        if (known === 'none') return refuseAndClose(event, 'connection_unknown')
        if (known === 'user_unknown' || known === 'user_inactive')
          return refuseAndClose(event, known)
        const { session, user } = known
        activity.note(event.connectionId, now)
        // Parsed before the app's permission check, so that refusal carries the request id too.
        const parsed = parseMessage(text, config.maxJsonDepth) ?? EMPTY_BODY
        const rid = readRequestId(parsed)
        if (!allowed(user, permissions))
          return refuse(event, 'permission_denied', 403, undefined, rid)

        const routeKey = Object.hasOwn(parsed, config.actionKey)
          ? config.actionKey
          : Object.hasOwn(parsed, 'handler')
            ? 'handler'
            : undefined
        const name = routeKey === undefined ? undefined : parsed[routeKey]
        // Answered by the app itself (no handler can take the name: `$` is outside the
        // handler-name pattern); the missed messages and the notice are pushed, no reply.
        if (recovery && name === DEFAULTS.historyRecoverAction) {
          const fromBody = readRecoveryRequest(parsed.since, parsed.epoch) ?? undefined
          await recovery.recover(event.connectionId, session.channel, fromBody)
          return { status: 200 }
        }
        let target: RegisteredHandler | undefined = registry.get(name)
        if (target && !allowed(user, target.permissions)) {
          logger.warn(
            {
              event: 'message_rejected',
              reason: 'permission_denied',
              handler: target.name,
              connectionId: event.connectionId,
            },
            'handler forbidden',
          )
          target = undefined
        }
        target ??= registry.fallback
        if (!target)
          return refuse(
            event,
            'event_invalid',
            403,
            { handler: typeof name === 'string' ? logSafe(name, 64) : typeof name },
            rid,
          )

        // Only handlers with a schema pay for validation; the others see the parsed body.
        let body: unknown = parsed
        if (target.schema) {
          let checked: Validation
          try {
            const routing: string[] = rid === undefined ? [] : [DEFAULTS.requestIdKey]
            if (routeKey !== undefined) routing.push(routeKey)
            const pending = validateBody(target.schema, parsed, routing)
            checked = pending instanceof Promise ? await pending : pending
          } catch (err) {
            logger.error(
              {
                event: 'handler_failed',
                handler: target.name,
                connectionId: event.connectionId,
                err,
              },
              'schema threw',
            )
            return { status: 500, body: withRequestId(INTERNAL_ERROR_REPLY, rid) }
          }
          if (!checked.ok) {
            logger.warn(
              {
                event: 'message_rejected',
                reason: 'body_invalid',
                handler: target.name,
                paths: checked.paths,
                connectionId: event.connectionId,
              },
              'message body invalid',
            )
            return { status: 400, body: withRequestId(validationReply(checked.paths), rid) }
          }
          body = checked.value
        }

        const ctx: MessageContext<unknown> = {
          event,
          session,
          user,
          action: target.name,
          body,
          send,
          tokens,
          logger,
          changeChannel: async (channel: unknown) => {
            if (!isValidChannel(channel, config.channelPattern)) return false
            if (authorizeChannel && !(await authorizeChannel(user, channel))) return false
            if (!(await store.setChannel(event.connectionId, channel))) {
              cache.forget([event.connectionId])
              return false
            }
            cache.setChannel(event.connectionId, channel)
            const from = session.channel
            if (from !== channel) {
              const who = { userId: session.userId, connectionId: event.connectionId }
              const cause = 'channel_change' as const
              await firePresence(config.onPresence, { logger, send, store }, [
                ...(from === null
                  ? []
                  : [{ type: 'leave' as const, channel: from, ...who, cause }]),
                { type: 'join', channel, ...who, cause },
              ])
            }
            return true
          },
        }
        let result: unknown
        try {
          result = await target.run(ctx as MessageContext)
        } catch (err) {
          // A store outage inside the handler is an outage (503 from guard), not a handler bug.
          if (isGatehouseError(err, 'ERR_STORE_UNAVAILABLE')) throw err
          logger.error(
            {
              event: 'handler_failed',
              handler: target.name,
              connectionId: event.connectionId,
              err,
            },
            'handler threw',
          )
          return { status: 500, body: withRequestId(INTERNAL_ERROR_REPLY, rid) }
        }
        // A request always gets an answer, `undefined` included, so its promise settles.
        if (rid !== undefined) return { status: 200, body: replyEnvelope(rid, result) }
        if (result === undefined) return { status: 200 }
        return { status: 200, body: typeof result === 'string' ? result : JSON.stringify(result) }
      },
      REPLIES,
    )
}
