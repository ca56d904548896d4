/**
 * @module gateway/message
 * One client message, from frame to reply: rate limit, route selection, integration call,
 * and what the client gets back.
 *
 * Ordering: a connection's messages start their integration calls in arrival order, at most
 * `maxInFlightPerConnection` at a time (default 1: each call finishes before the next starts,
 * so the app sees a connection's messages in order and replies come back in order). Raising
 * it lets one connection's calls overlap; they still start in order but may finish out of it.
 * AWS does not document its behaviour here (research `apigw-ws-spec.md` §8.12).
 */

import { randomRequestId } from '../events/ids.ts'
import { statusText } from '../http/refusal.ts'
import { takeToken } from '../limits/token-bucket.ts'
import { logSafe } from '../logger.ts'
import { FIXED_EVENTS, publish, telemetry } from '../telemetry.ts'
import type { Connection } from './connection-table.ts'
import { messageEvent } from './handshake.ts'
import {
  CLOSE,
  callRoute,
  closeConnection,
  type Runtime,
  sendError,
  sendReply,
  track,
} from './runtime.ts'

/**
 * Messages of the error frames, as AWS words them: the status texts of `http/refusal.ts`, so a
 * frame and an HTTP refusal for the same failure say the same thing.
 *
 * @example
 * ```ts
 * sendError(rt, conn, ERROR_MESSAGES.forbidden, requestId)
 * ```
 */
export const ERROR_MESSAGES = Object.freeze({
  forbidden: statusText(403),
  internal: statusText(502),
  timeout: statusText(504),
  throttled: statusText(429),
})

/**
 * Handle one complete message of an open connection.
 *
 * @example
 * ```ts
 * ws.on('message', (data, isBinary) => handleMessage(rt, conn, data as Buffer, isBinary))
 * ```
 */
export function handleMessage(
  rt: Runtime,
  conn: Connection,
  data: Buffer,
  isBinary: boolean,
): void {
  if (conn.state !== 'open') return
  if (isBinary) {
    // The frame inspector closes on the first binary frame; this is the backstop.
    closeConnection(conn, CLOSE.binary.code, CLOSE.binary.reason)
    return
  }
  if (telemetry.hasSubscribers) publish(FIXED_EVENTS.messageIn)
  const now = rt.options.clock.now()
  conn.lastActiveAt = now
  const o = rt.options
  if (
    conn.queue.length >= o.maxQueuedMessagesPerConnection ||
    !takeToken(conn, o.messageBurst, o.messagesPerSecond, now)
  ) {
    throttled(rt, conn)
    return
  }
  conn.strikes = 0
  conn.queue.push(data.toString('utf8'))
  pump(rt, conn)
}

/**
 * A message over the rate: the first of a streak gets an error frame (one, so a flood is not
 * answered by a flood), and a streak as long as the burst closes the connection (1008).
 */
function throttled(rt: Runtime, conn: Connection): void {
  conn.strikes += 1
  if (telemetry.hasSubscribers) publish({ type: 'rate_limited', kind: 'message' })
  if (conn.strikes === 1) sendError(rt, conn, ERROR_MESSAGES.throttled, randomRequestId())
  if (conn.strikes >= rt.options.messageBurst) {
    rt.options.logger.warn(
      { event: 'message_rate_exceeded', reason: 'rate_limited', connectionId: conn.id },
      'message rate exceeded: closing',
    )
    closeConnection(conn, CLOSE.rate.code, CLOSE.rate.reason)
  }
}

/** Start queued messages while the connection has free integration slots. */
function pump(rt: Runtime, conn: Connection): void {
  while (
    conn.state === 'open' &&
    conn.inFlight < rt.options.maxInFlightPerConnection &&
    conn.queue.length > 0
  ) {
    const body = conn.queue.shift() as string
    conn.inFlight += 1
    const run = dispatch(rt, conn, body).finally(() => {
      conn.inFlight -= 1
      pump(rt, conn)
    })
    track(rt, run)
  }
}

async function dispatch(rt: Runtime, conn: Connection, body: string): Promise<void> {
  const { options } = rt
  const routeKey = rt.selectRoute(body)
  if (routeKey === null) {
    sendError(rt, conn, ERROR_MESSAGES.forbidden, randomRequestId())
    return
  }
  const event = messageEvent(conn.identity, rt.api, routeKey, body, options.clock.now())
  const outcome = await callRoute(rt, routeKey, event, conn.identity)
  // Closed while the call ran: the reply has nowhere to go.
  if (conn.state !== 'open') return
  if (outcome.kind === 'timeout') {
    options.logger.warn(
      {
        event: 'integration_timeout',
        route: 'message',
        connectionId: conn.id,
        requestId: event.requestId,
        routeKey: logSafe(routeKey),
      },
      'integration timed out',
    )
    sendError(rt, conn, ERROR_MESSAGES.timeout, event.requestId)
    return
  }
  if (outcome.kind === 'error') {
    options.logger.warn(
      {
        event: 'integration_failed',
        route: 'message',
        connectionId: conn.id,
        requestId: event.requestId,
        routeKey: logSafe(routeKey),
        err: outcome.error,
      },
      'integration failed',
    )
    sendError(rt, conn, ERROR_MESSAGES.internal, event.requestId)
    return
  }
  const integration = options.routes.get(routeKey)
  const reply = outcome.response.body
  // One-way routes send nothing whatever the backend said; two-way routes send its body
  // verbatim, whatever the status (AWS proxy integrations ignore it).
  if (!integration?.twoWay || reply === undefined || reply === '') return
  if (Buffer.byteLength(reply, 'utf8') > options.maxOutboundBytes) {
    options.logger.warn(
      { event: 'reply_too_large', connectionId: conn.id, requestId: event.requestId },
      'reply too large',
    )
    sendError(rt, conn, ERROR_MESSAGES.internal, event.requestId)
    return
  }
  sendReply(rt, conn, reply)
}
