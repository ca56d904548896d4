/**
 * @module app/message
 * The message pipeline: gateway → size → session → user → app permissions → parse → select →
 * handler permissions → handler. Unknown, hostile, malformed and forbidden names all end the
 * same way: the `default` handler when the app has one, else one generic error reply.
 * A message from a socket with no connected session, or whose user is gone or inactive, gets
 * the generic reply and its socket is closed.
 */
import { DEFAULTS } from '../defaults.ts'
import { isGatehouseError } from '../errors.ts'
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
import type { Authenticity } from './authenticity.ts'
import { isValidChannel } from './checks/channel.ts'
import { parseMessage } from './checks/json.ts'
import { hasPermissions } from './checks/permissions.ts'
import type { AppConfig } from './config.ts'
import { guard } from './guard.ts'
import type { HandlerRegistry, RegisteredHandler } from './registry.ts'
import { readRequestId, replyEnvelope, withRequestId } from './reply.ts'
import type { Sender } from './send.ts'
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
}

const REPLIES = { unavailable: UNAVAILABLE_REPLY, internal: INTERNAL_ERROR_REPLY }
const EMPTY_BODY: Readonly<Record<string, unknown>> = Object.freeze({})
const encoder = new TextEncoder()

/**
 * Build the message handler of an app.
 *
 * @example
 * ```ts
 * const onMessage = createMessagePipeline({ config, store, registry, send, authenticity, tokens })
 * const reply = await onMessage(event) // { status: 200, body: '{"type":"ok"}' }
 * ```
 */
export function createMessagePipeline(
  deps: MessageDeps,
): (event: GatewayEvent) => Promise<GatewayResponse> {
  const { config, store, registry, send, authenticity, tokens } = deps
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
        // The shared replay claim (when on) runs alongside the session read: no added
        // latency, and on Redis both commands leave in one write.
        const [replayed, session] = await Promise.all([
          authenticity.claimShared(event),
          store.touchSession(event.connectionId, config.clock.now()),
        ])
        // A replay to this process of a call another process ran: refused, socket untouched.
        if (replayed) return refuse(event, replayed.reason, 403)
        // No connected session: a socket that opened although its session was revoked while
        // its $connect ran (the close found it not yet open), or one the store already ended.
        if (!session) return refuseAndClose(event, 'connection_unknown')

        let user: User | null = null
        if (session.userId !== null) {
          user = loadUser ? await loadUser(session.userId) : null
          // Stale authority.
          if (!user || user.active === false)
            return refuseAndClose(event, user ? 'user_inactive' : 'user_unknown')
        }
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
            return store.setChannel(event.connectionId, channel)
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
