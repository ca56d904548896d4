/**
 * @module gateway/runtime
 * The state the gateway's parts share (options, connection table, routes) and the few
 * operations every part needs: write a frame, start a close, finish a close with exactly one
 * `$disconnect`. Kept in one place so each transition of a connection happens one way.
 */

import type { GatewayEvent } from '../events/event.ts'
import { createRouteSelector } from '../events/route-selection.ts'
import { publish, telemetry } from '../telemetry.ts'
import { CLOSE } from './close-codes.ts'
import type { Connection } from './connection-table.ts'
import { ConnectionTable } from './connection-table.ts'
import type { EncodedFrame } from './frame.ts'
import { encodeFrame, TEXT } from './frame.ts'
import {
  type ApiContext,
  type ConnectionFacts,
  type ConnectionIdentity,
  disconnectEvent,
} from './handshake.ts'
import type { IntegrationOutcome } from './integration.ts'
import { type InvokeContext, invoke } from './integrations/invoke.ts'
import type { ResolvedGatewayOptions } from './options.ts'
import { createUpgradeRateLimit, type UpgradeRateLimit } from './upgrade-rate.ts'

/** `WebSocket.OPEN`. */
const WS_OPEN = 1

// The close-code table has its own module; re-exported for the modules that import it here.
export { CLOSE }

/**
 * The shared state of one gateway.
 *
 * @example
 * ```ts
 * const rt = createRuntime(resolveGatewayOptions(options))
 * rt.table.size // open connections
 * ```
 */
export interface Runtime {
  readonly options: ResolvedGatewayOptions
  readonly api: ApiContext
  readonly table: ConnectionTable
  /** Upgrade attempts per client address (token buckets). */
  readonly upgradeRate: UpgradeRateLimit
  /** Route keys a message may select (everything but `$connect` and `$disconnect`). */
  readonly messageRouteKeys: ReadonlySet<string>
  /** The route of a message body, or `null` (Forbidden); never parses when only `$default` exists. */
  readonly selectRoute: (body: string) => string | null
  readonly invokeContext: InvokeContext
  /** Set once `close()` starts: no new connection is accepted. */
  closing: boolean
  /** Integration calls still running ($disconnect, messages), awaited by a drain. */
  readonly tasks: Set<Promise<unknown>>
  /** Called whenever a connection leaves the table (drain waits on it). */
  onConnectionRemoved: (() => void) | undefined
  /** Set when the gateway is a cluster node: ids, admission and the node's table. */
  cluster: ClusterHooks | undefined
}

/**
 * What the gateway's parts ask of the cluster node they belong to (`cluster/node.ts`).
 *
 * @example
 * ```ts
 * if (rt.cluster && !rt.cluster.admits()) return refuse(socket, 503, 'cluster_unavailable', ip)
 * const id = rt.cluster ? rt.cluster.newConnectionId() : newId()
 * ```
 */
export interface ClusterHooks {
  /** A fresh id naming this node's slot. */
  newConnectionId(): string
  /** False while the node is not registered (Redis down, slot lost): new connects get 503. */
  admits(): boolean
  /** A connection entered the table. */
  opened(conn: Connection): void
  /** A connection left the table. */
  closed(conn: Connection): void
}

/**
 * Build the runtime of a gateway from its resolved options.
 *
 * @example
 * ```ts
 * const rt = createRuntime(resolveGatewayOptions({ stage: 'dev' }))
 * ```
 */
export function createRuntime(options: ResolvedGatewayOptions): Runtime {
  const messageRouteKeys = new Set<string>()
  for (const key of options.routes.keys()) {
    if (key !== '$connect' && key !== '$disconnect') messageRouteKeys.add(key)
  }
  return {
    options,
    api: { apiId: options.apiId, stage: options.stage },
    table: new ConnectionTable(options),
    upgradeRate: createUpgradeRateLimit(options.upgradeBurstPerIp, options.upgradesPerSecondPerIp),
    messageRouteKeys,
    selectRoute: createRouteSelector(options.routeSelectionExpression, messageRouteKeys),
    invokeContext: {
      apiId: options.apiId,
      clock: options.clock,
      timeoutMs: options.integrationTimeoutMs,
      maxResponseBytes: options.maxOutboundBytes,
    },
    closing: false,
    tasks: new Set(),
    onConnectionRemoved: undefined,
    cluster: undefined,
  }
}

/**
 * Keep a background promise until it settles, so `close()` can wait for it.
 *
 * @example
 * ```ts
 * track(rt, callRoute(rt, '$disconnect', event, conn.identity))
 * ```
 */
export function track(rt: Runtime, promise: Promise<unknown>): void {
  const settled = promise.then(
    () => {},
    () => {},
  )
  rt.tasks.add(settled)
  settled.finally(() => rt.tasks.delete(settled))
}

/**
 * Call the integration of `routeKey` (which must exist).
 *
 * @example
 * ```ts
 * const outcome = await callRoute(rt, '$connect', event, facts)
 * ```
 */
export function callRoute(
  rt: Runtime,
  routeKey: string,
  event: GatewayEvent,
  facts: ConnectionFacts,
): Promise<IntegrationOutcome> {
  const integration = rt.options.routes.get(routeKey)
  if (!integration) return Promise.resolve({ kind: 'error', error: new Error('No such route') })
  if (!telemetry.hasSubscribers) return invoke(integration, event, facts, rt.invokeContext)
  // Timed only when someone listens: no clock read per message otherwise.
  const started = performance.now()
  const route =
    routeKey === '$connect' ? 'connect' : routeKey === '$disconnect' ? 'disconnect' : 'message'
  return invoke(integration, event, facts, rt.invokeContext).then((outcome) => {
    publish({
      type: 'integration',
      route,
      outcome: outcome.kind,
      durationMs: performance.now() - started,
    })
    return outcome
  })
}

/**
 * True while a connection accepts data: neither side has started closing. A peer's close
 * frame moves `ws` to CLOSING before the socket's `'close'`, and nothing may follow it.
 *
 * @example
 * ```ts
 * if (!isOpen(conn)) return 'gone'
 * ```
 */
export function isOpen(conn: Connection): boolean {
  return conn.state === 'open' && conn.ws.readyState === WS_OPEN
}

/**
 * Start closing a connection with a close frame. What `$disconnect` reports is recorded now,
 * because the peer's echo may never come. A connection already closing is left alone.
 *
 * @example
 * ```ts
 * closeConnection(conn, CLOSE.goingAway.code, CLOSE.goingAway.reason)
 * ```
 */
export function closeConnection(conn: Connection, code: number, reason: string): void {
  if (conn.state !== 'open') return
  conn.state = 'closing'
  conn.closeCode = code
  conn.closeReason = reason
  conn.queue.length = 0
  conn.ws.close(code, reason)
}

/**
 * Drop a connection without a closing handshake (a dead peer cannot answer one).
 *
 * @example
 * ```ts
 * terminateConnection(conn, CLOSE.pongTimeout.code, CLOSE.pongTimeout.reason)
 * ```
 */
export function terminateConnection(conn: Connection, code: number, reason: string): void {
  if (conn.state === 'closed') return
  if (conn.state === 'open') {
    conn.closeCode = code
    conn.closeReason = reason
  }
  conn.state = 'closing'
  conn.queue.length = 0
  conn.ws.terminate()
}

/**
 * What a write did: `sent`, or `gone` (not open), or `slow` (its buffer is over the limit: closed 1008).
 *
 * @example
 * ```ts
 * if (writeFrame(rt, conn, frame) === 'slow') gone.push(conn.id)
 * ```
 */
export type WriteResult = 'sent' | 'gone' | 'slow'

/**
 * Write a pre-encoded frame to an open connection. A reader whose unsent bytes would pass
 * `maxBufferedBytes` is closed (1008) instead: `ws` never drops, so one paused client could
 * otherwise hold any amount of memory. A data frame counts as activity for the idle timer.
 *
 * @example
 * ```ts
 * const frame = encodeFrame(Buffer.from('hi'))
 * if (writeFrame(rt, conn, frame) !== 'sent') gone.push(conn.id)
 * ```
 */
export function writeFrame(rt: Runtime, conn: Connection, frame: EncodedFrame): WriteResult {
  if (!isOpen(conn)) return 'gone'
  if (conn.ws.bufferedAmount + frame.byteLength > rt.options.maxBufferedBytes) {
    rt.options.logger.warn(
      { event: 'slow_consumer', connectionId: conn.id, buffered: conn.ws.bufferedAmount },
      'slow consumer closed',
    )
    closeConnection(conn, CLOSE.slow.code, CLOSE.slow.reason)
    return 'slow'
  }
  const { socket } = conn
  socket.cork()
  socket.write(frame.header)
  socket.write(frame.payload)
  socket.uncork()
  conn.lastActiveAt = rt.options.clock.now()
  return 'sent'
}

/**
 * Send one text message to one connection.
 *
 * @example
 * ```ts
 * sendText(rt, conn, '{"message":"Forbidden"}')
 * ```
 */
export function sendText(rt: Runtime, conn: Connection, text: string): WriteResult {
  return writeFrame(rt, conn, encodeFrame(Buffer.from(text, 'utf8'), TEXT))
}

// Sockets whose replies of this turn are held in their write buffer, released together.
const held: Connection['socket'][] = []
let releaseArmed = false

function releaseHeld(): void {
  releaseArmed = false
  // uncork on a socket destroyed meanwhile is a no-op.
  for (const socket of held) socket.uncork()
  held.length = 0
}

/**
 * Send an integration's reply. Replies resolve in promise callbacks, one per message, so
 * written at once each would be a syscall of its own; held until the end of the turn, the
 * replies of one socket leave in one `writev`. One `setImmediate` per turn for all sockets
 * (never a timer per message or per socket), and only on this path: a fan-out loop writes
 * each socket once anyway, and a close or terminate never follows a reply in the same turn.
 *
 * @example
 * ```ts
 * sendReply(rt, conn, outcome.response.body)
 * ```
 */
export function sendReply(rt: Runtime, conn: Connection, text: string): WriteResult {
  const { socket } = conn
  if (isOpen(conn) && socket.writableCorked === 0) {
    socket.cork()
    held.push(socket)
    if (!releaseArmed) {
      releaseArmed = true
      setImmediate(releaseHeld)
    }
  }
  return sendText(rt, conn, text)
}

/**
 * Send AWS's error frame: `{"message":…,"connectionId":…,"requestId":…}`.
 *
 * @example
 * ```ts
 * sendError(rt, conn, 'Internal server error', event.requestId)
 * ```
 */
export function sendError(rt: Runtime, conn: Connection, message: string, requestId: string): void {
  sendText(rt, conn, JSON.stringify({ message, connectionId: conn.id, requestId }))
}

/**
 * Fire `$disconnect` for a connection the app accepted. Best effort, as on AWS: a failure is
 * logged and swallowed. The returned promise settles when the call is done (a reaper bounds
 * its concurrency with it); it never rejects.
 *
 * @example
 * ```ts
 * fireDisconnect(rt, conn.identity, 1000, 'Connection Closed Normally')
 * ```
 */
export function fireDisconnect(
  rt: Runtime,
  identity: ConnectionIdentity,
  code: number,
  reason: string,
): Promise<void> {
  if (!rt.options.routes.has('$disconnect')) return Promise.resolve()
  const { clock, logger } = rt.options
  const event = disconnectEvent(identity, rt.api, code, reason, clock.now())
  const run = callRoute(rt, '$disconnect', event, identity).then(
    (outcome) => {
      if (outcome.kind === 'response') return
      const failed = outcome.kind === 'timeout' ? 'integration_timeout' : 'integration_failed'
      logger.warn(
        {
          event: failed,
          route: '$disconnect',
          connectionId: identity.connectionId,
          requestId: event.requestId,
          outcome: outcome.kind,
          ...(outcome.kind === 'error' ? { err: outcome.error } : {}),
        },
        '$disconnect integration failed',
      )
    },
    (error: unknown) =>
      logger.error(
        { event: 'integration_failed', route: '$disconnect', err: error },
        '$disconnect failed',
      ),
  )
  track(rt, run)
  return run
}

/**
 * The socket of an established connection closed: forget it and fire its one `$disconnect`,
 * with the code the gateway closed with, else the peer's close code and reason.
 *
 * @example
 * ```ts
 * ws.on('close', (code, reason) => connectionClosed(rt, conn, code, reason.toString()))
 * ```
 */
export function connectionClosed(
  rt: Runtime,
  conn: Connection,
  code: number,
  reason: string,
): void {
  if (conn.state === 'closed') return
  conn.state = 'closed'
  conn.queue.length = 0
  rt.table.remove(conn)
  rt.cluster?.closed(conn)
  rt.options.logger.info(
    { event: 'connection_closed', connectionId: conn.id, code: conn.closeCode ?? code },
    'disconnected',
  )
  if (telemetry.hasSubscribers) publish({ type: 'connection_closed', code: conn.closeCode ?? code })
  // A reaped connection's $disconnect was sent by the node that reaped it.
  if (!conn.skipDisconnect) {
    fireDisconnect(rt, conn.identity, conn.closeCode ?? code, conn.closeReason ?? reason)
  }
  rt.onConnectionRemoved?.()
}

/**
 * A short, log-safe description of an error (never a stack).
 *
 * @example
 * ```ts
 * errorText(new TypeError('bad')) // 'TypeError: bad'
 * ```
 */
export function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`
  return String(error)
}
