/**
 * @module gateway/upgrade
 * An upgrade request, from the first byte to an open connection or an HTTP answer.
 *
 * Order, cheapest refusal first, nothing reaching the app before the handshake is sound:
 * gateway closing (503) → URL length (414) → path `/` or `/{stage}` (403) → WebSocket
 * handshake headers (405/400) → a cluster node not registered (503) → pending-handshake and connection caps (503/429 with
 * `Retry-After`) → `$connect` integration (none configured: accepted) → 2xx completes the
 * upgrade, any other status is what the client gets, a failure is 502, a timeout 504 (and
 * should the app accept after all, `$disconnect` 1006 `Connect timed out` releases it).
 *
 * No frame is exchanged before `$connect` returns: the 101 is written only then, and bytes a
 * client sends early wait in the socket. The connection enters the table (and `@connections`
 * sees it) in the same tick as the 101; before that a push finds it gone.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { RawData, WebSocket, WebSocketServer } from 'ws'
import { isHttpToken } from '../events/headers.ts'
import type { GatewayRefusalReason } from '../http/refusal.ts'
import { rateKeyForIp, resolveClientIp } from '../limits/client-ip.ts'
import { logSafe } from '../logger.ts'
import { FIXED_EVENTS, publish, telemetry } from '../telemetry.ts'
import { newId } from './connection-id.ts'
import { attachConnection, Connection, connectionOf } from './connection-table.ts'
import { inspectFrames } from './frame-inspector.ts'
import {
  type ConnectionIdentity,
  connectEvent,
  type Handshake,
  identityOf,
  localEndpoint,
  readHandshake,
} from './handshake.ts'
import type { IntegrationOutcome } from './integration.ts'
import { handleMessage } from './message.ts'
import { writeRawResponse } from './raw-response.ts'
import {
  CLOSE,
  callRoute,
  closeConnection,
  connectionClosed,
  fireDisconnect,
  type Runtime,
  track,
} from './runtime.ts'

/** RFC 6455 §4.1: a base64 16-byte nonce. */
const KEY_PATTERN = /^[+/0-9A-Za-z]{22}==$/

/** Codes `ws` reports for receiver errors, mapped to the close code it sends. */
const WS_ERROR_CLOSE: Readonly<Record<string, number>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: CLOSE.messageTooLarge.code,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: CLOSE.messageTooLarge.code,
  WS_ERR_TOO_MANY_BUFFERED_PARTS: CLOSE.tooManyParts.code,
  WS_ERR_INVALID_UTF8: CLOSE.invalidUtf8.code,
}

/** Until `ws` owns a socket, a reset must not become an unhandled `'error'`. Shared. */
function destroySocket(this: Duplex): void {
  this.destroy()
}

/**
 * The protocol `$connect` chose for a request, read back by `ws`'s `handleProtocols`.
 *
 * @example
 * ```ts
 * chosenProtocols.set(req, 'gatehouse.v1') // then wss.handleUpgrade(...)
 * ```
 */
const chosenProtocols = new WeakMap<IncomingMessage, string>()

/**
 * `ws`'s `handleProtocols`: echo only what `$connect` returned, and only when the client
 * offered it (never the first offer by default, unlike `ws`).
 *
 * @example
 * ```ts
 * new WebSocketServer({ noServer: true, handleProtocols })
 * ```
 */
export function handleProtocols(offered: Set<string>, req: IncomingMessage): string | false {
  const chosen = chosenProtocols.get(req)
  return chosen !== undefined && offered.has(chosen) ? chosen : false
}

/** The offered subprotocols, or `null` when the header is malformed. */
function offeredProtocols(header: string | undefined): Set<string> | null {
  const out = new Set<string>()
  if (header === undefined) return out
  for (const part of header.split(',')) {
    const token = part.trim()
    if (!isHttpToken(token) || out.has(token)) return null
    out.add(token)
  }
  return out
}

/** Why a handshake is malformed, as the status to answer, or `null` when it is sound. */
function handshakeError(
  req: IncomingMessage,
): { status: number; headers?: Record<string, string> } | null {
  if (req.method !== 'GET') return { status: 405, headers: { Allow: 'GET' } }
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return { status: 400 }
  const key = req.headers['sec-websocket-key']
  if (typeof key !== 'string' || !KEY_PATTERN.test(key)) return { status: 400 }
  const version = req.headers['sec-websocket-version']
  if (version !== '13' && version !== '8') {
    return { status: 400, headers: { 'Sec-WebSocket-Version': '13, 8' } }
  }
  if (offeredProtocols(req.headers['sec-websocket-protocol']) === null) return { status: 400 }
  return null
}

function pathAllowed(url: string, stage: string): boolean {
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  return path === '/' || path === `/${stage}` || path === `/${stage}/`
}

/**
 * The client was told 504, but the app's `$connect` is still running. Should the app accept
 * it after all, it has recorded a session no socket will ever end: fire `$disconnect` (1006)
 * for it. When even the late answer never comes (an HTTP `$connect` past its second
 * deadline), whether the app recorded anything is unknown, so `$disconnect` fires too: for a
 * session the app never recorded it is a no-op.
 *
 * @example
 * ```ts
 * if (outcome.kind === 'timeout' && outcome.late) releaseLateConnect(rt, identityOf(handshake), outcome.late)
 * ```
 */
export function releaseLateConnect(
  rt: Runtime,
  identity: ConnectionIdentity,
  late: Promise<IntegrationOutcome>,
): void {
  const release = late.then((outcome) => {
    const accepted =
      outcome.kind === 'response' &&
      outcome.response.status >= 200 &&
      outcome.response.status <= 299
    if (!accepted && outcome.kind !== 'timeout') return
    rt.options.logger.info(
      { event: 'connect_late', connectionId: identity.connectionId, outcome: outcome.kind },
      '$connect answered after its timeout: firing $disconnect',
    )
    fireDisconnect(rt, identity, CLOSE.connectTimedOut.code, CLOSE.connectTimedOut.reason)
  })
  track(rt, release)
}

/**
 * Build the gateway's `'upgrade'` listener.
 *
 * @example
 * ```ts
 * server.on('upgrade', createUpgradeHandler(rt, wss, pendingSockets))
 * ```
 */
export function createUpgradeHandler(
  rt: Runtime,
  wss: WebSocketServer,
  pendingSockets: Set<Duplex>,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const o = rt.options
  const { logger, clock } = o
  const retryAfter = { 'Retry-After': String(o.retryAfterSeconds) }

  /** One `'data'` listener for every connection: its state hangs off the socket. */
  function inspectData(this: Duplex, chunk: Buffer): void {
    const conn = connectionOf(this)
    if (conn === undefined) return
    const violation = inspectFrames(conn, chunk, o.maxFrameBytes)
    if (violation === null) return
    logger.info(
      { event: 'frame_violation', connectionId: conn.id, code: violation.code },
      violation.reason,
    )
    closeConnection(conn, violation.code, violation.reason)
  }

  // The WebSocket listeners, shared by every connection: `ws` calls them with the socket as
  // `this`, and the record hangs off it.

  function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    const conn = connectionOf(this)
    if (conn !== undefined) handleMessage(rt, conn, data as Buffer, isBinary)
  }

  function onPong(this: WebSocket): void {
    const conn = connectionOf(this)
    if (conn !== undefined) conn.pingSentAt = 0
  }

  function onError(this: WebSocket, err: Error & { code?: string }): void {
    const conn = connectionOf(this)
    if (conn === undefined) return
    // ws closes the socket itself after a protocol error; record why for $disconnect.
    if (conn.state === 'open') {
      conn.state = 'closing'
      conn.closeCode = WS_ERROR_CLOSE[err.code ?? ''] ?? CLOSE.protocolError.code
      conn.closeReason = ''
    }
    logger.info(
      { event: 'protocol_error', connectionId: conn.id, code: logSafe(err.code ?? '') },
      'protocol error',
    )
  }

  function onClose(this: WebSocket, code: number, reason: Buffer): void {
    const conn = connectionOf(this)
    if (conn !== undefined) connectionClosed(rt, conn, code, reason.toString('utf8'))
  }

  // Every refusal: the reason to the log, the one generic body of its status to the client.
  function refuse(
    socket: Duplex,
    status: number,
    reason: GatewayRefusalReason,
    ip: string,
    headers?: Record<string, string>,
  ): void {
    logger.info(
      { event: 'upgrade_refused', status, reason, sourceIp: logSafe(ip) },
      'upgrade refused',
    )
    if (telemetry.hasSubscribers) {
      publish({ type: 'gateway_connect', outcome: 'refused', status, reason })
    }
    writeRawResponse(socket, status, headers)
  }

  function open(handshake: Handshake, ipKey: string, ws: WebSocket, socket: Duplex): Connection {
    const now = clock.now()
    // Headers and query were for $connect only; a connection lives for hours.
    const conn = new Connection(identityOf(handshake), ws, socket, ipKey, now, o.messageBurst)
    rt.table.add(conn)
    rt.cluster?.opened(conn)
    attachConnection(socket, conn)
    // Ahead of ws's own reader: frame limits are checked before ws assembles a message.
    socket.prependListener('data', inspectData)
    attachConnection(ws, conn)
    ws.on('message', onMessage)
    ws.on('pong', onPong)
    ws.on('error', onError)
    ws.on('close', onClose)
    logger.info(
      {
        event: 'connection_opened',
        connectionId: conn.id,
        sourceIp: logSafe(conn.identity.sourceIp),
      },
      'connected',
    )
    if (telemetry.hasSubscribers) {
      publish(FIXED_EVENTS.gatewayAccepted)
      publish(FIXED_EVENTS.connectionOpened)
    }
    return conn
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const peer = req.socket.remoteAddress ?? ''
    const url = req.url ?? '/'
    if (rt.closing) return refuse(socket, 503, 'gateway_closing', peer, retryAfter)
    if (url.length > o.maxUrlLength) return refuse(socket, 414, 'url_too_long', peer)
    if (!pathAllowed(url, o.stage)) return refuse(socket, 403, 'path_forbidden', peer)
    const bad = handshakeError(req)
    if (bad) {
      const reason = bad.status === 405 ? 'method_not_allowed' : 'handshake_invalid'
      return refuse(socket, bad.status, reason, peer, bad.headers)
    }

    // A cluster node that is not registered cannot issue a routable id nor record the
    // session for a survivor: fail closed before the app hears of it.
    if (rt.cluster !== undefined && !rt.cluster.admits()) {
      return refuse(socket, 503, 'cluster_unavailable', peer, retryAfter)
    }

    const forwarded = req.headers['x-forwarded-for']
    const sourceIp = resolveClientIp(
      peer,
      typeof forwarded === 'string' ? forwarded : undefined,
      o.trustedProxies,
      o.trustedHops,
    )
    const ipKey = rateKeyForIp(sourceIp)
    // The rate first: an address over it never reaches the app, not even as a refusal.
    if (!rt.upgradeRate.take(ipKey, clock.now())) {
      return refuse(socket, 429, 'upgrade_rate_per_ip', sourceIp, retryAfter)
    }
    const refusal = rt.table.admit(ipKey)
    if (refusal) return refuse(socket, refusal.status, refusal.reason, sourceIp, retryAfter)

    const endpoint = localEndpoint(req.socket)
    const handshake = readHandshake(req, {
      connectionId: rt.cluster !== undefined ? rt.cluster.newConnectionId() : newId(),
      connectedAt: clock.now(),
      sourceIp,
      domainName: o.domainName ?? endpoint.domainName,
      localPort: endpoint.localPort,
    })
    const id = handshake.connectionId
    rt.table.addPending(id, ipKey)
    pendingSockets.add(socket)
    let response: { status: number; headers?: Readonly<Record<string, string>> } = { status: 200 }
    try {
      if (o.routes.has('$connect')) {
        const event = connectEvent(handshake, rt.api, clock.now())
        const outcome = await callRoute(rt, '$connect', event, handshake)
        if (outcome.kind === 'timeout') {
          logger.warn(
            {
              event: 'integration_timeout',
              route: '$connect',
              connectionId: id,
              requestId: event.requestId,
            },
            '$connect timed out',
          )
          if (outcome.late) releaseLateConnect(rt, identityOf(handshake), outcome.late)
          return refuse(socket, 504, 'integration_timeout', sourceIp)
        }
        if (outcome.kind === 'error') {
          logger.warn(
            {
              event: 'integration_failed',
              route: '$connect',
              connectionId: id,
              requestId: event.requestId,
              err: outcome.error,
            },
            '$connect failed',
          )
          return refuse(socket, 502, 'integration_failed', sourceIp)
        }
        response = outcome.response
        if (response.status < 200) {
          // An informational status cannot answer an upgrade; writing it raw would be a lie.
          logger.warn(
            {
              event: 'integration_failed',
              route: '$connect',
              connectionId: id,
              requestId: event.requestId,
              status: response.status,
            },
            '$connect returned 1xx',
          )
          return refuse(socket, 502, 'integration_failed', sourceIp)
        }
      }
    } finally {
      rt.table.removePending(id)
      pendingSockets.delete(socket)
    }

    if (response.status < 200 || response.status > 299) {
      // Only Retry-After survives among the app's headers (it tells a throttled client when).
      const retry = response.headers?.['retry-after']
      const keep =
        (response.status === 429 || response.status === 503) &&
        retry !== undefined &&
        /^\d{1,9}$/.test(retry)
      return refuse(
        socket,
        response.status,
        'connect_refused',
        sourceIp,
        keep ? { 'Retry-After': retry } : undefined,
      )
    }

    // The app accepted. From here on, if the upgrade cannot finish, the app still hears a
    // $disconnect so whatever it recorded at $connect is released.
    if (rt.closing || socket.destroyed || !socket.writable) {
      if (!socket.destroyed) {
        refuse(socket, 503, 'gateway_closing', sourceIp, retryAfter)
      }
      fireDisconnect(
        rt,
        handshake,
        rt.closing ? CLOSE.goingAway.code : CLOSE.abnormal.code,
        rt.closing ? CLOSE.goingAway.reason : CLOSE.abnormal.reason,
      )
      return
    }
    const protocol = response.headers?.['sec-websocket-protocol']
    if (protocol !== undefined) chosenProtocols.set(req, protocol)
    let opened = false
    wss.handleUpgrade(req, socket, head, (ws) => {
      opened = true
      open(handshake, ipKey, ws, socket)
    })
    if (!opened) fireDisconnect(rt, handshake, CLOSE.abnormal.code, CLOSE.abnormal.reason)
  }

  return (req, socket, head) => {
    // Until ws owns the socket, a reset must not become an unhandled 'error'.
    socket.on('error', destroySocket)
    upgrade(req, socket, head).catch((error: unknown) => {
      logger.error(
        { event: 'upgrade_refused', status: 500, reason: 'internal_error', err: error },
        'upgrade failed',
      )
      if (telemetry.hasSubscribers) {
        publish({
          type: 'gateway_connect',
          outcome: 'refused',
          status: 500,
          reason: 'internal_error',
        })
      }
      if (!socket.destroyed) writeRawResponse(socket, 500)
    })
  }
}
