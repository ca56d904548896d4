/**
 * @module gateway/gateway
 * `createGateway`: the bundled gateway. It holds the WebSocket connections the way AWS API
 * Gateway WebSocket APIs do and turns each `$connect`, message and `$disconnect` into a call
 * to the route's integration (the app in process, an HTTP backend, or a Lambda-style
 * function). Pushes go through {@link Gateway.connections}.
 */
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import { GatehouseError } from '../errors.ts'
import { type GatewayRefusalReason, refusalBody } from '../http/refusal.ts'
import type { Connections } from '../push/connections.ts'
import { publish, telemetry } from '../telemetry.ts'
import { type ClusterInfo, createClusterNode } from './cluster/node.ts'
import { type GatewayOptions, resolveGatewayOptions } from './options.ts'
import { createConnectionsPort } from './push.ts'
import { writeRawResponse } from './raw-response.ts'
import { CLOSE, closeConnection, createRuntime, terminateConnection } from './runtime.ts'
import { startSweep } from './sweep.ts'
import { createUpgradeHandler, handleProtocols } from './upgrade.ts'

/**
 * What {@link Gateway.stats} reports.
 *
 * @example
 * ```ts
 * const { openConnections, pendingHandshakes } = gateway.stats()
 * ```
 */
export interface GatewayStats {
  /** Sockets in the table (open, or closing and not yet closed). */
  readonly openConnections: number
  /** Upgrades waiting for their `$connect` integration. */
  readonly pendingHandshakes: number
  /** Integration calls and `$disconnect` calls still running. */
  readonly backgroundTasks: number
  /** Distinct client addresses the per-IP caps track (bounded by open + pending). */
  readonly trackedAddresses: number
}

/**
 * A running gateway.
 *
 * @example
 * ```ts
 * const gateway = createGateway({ routes })
 * const { url } = await gateway.listen()
 * await gateway.connections.post(connectionId, 'hello')
 * await gateway.close({ drainMs: 2_000 })
 * ```
 */
export interface Gateway {
  /** Bind `host:port`; resolves with the WebSocket URL (`ws://host:port/{stage}`) and port. */
  listen(): Promise<{ url: string; port: number }>
  /** The WebSocket URL once listening. */
  readonly url: string | undefined
  /**
   * Stop: refuse new upgrades, close every socket with 1001 (each fires its `$disconnect`),
   * wait up to `drainMs` (default 5000) for closes and running integration calls, then drop
   * what is left and close the HTTP server. A `drainMs` that is not a non-negative number
   * rejects with `ERR_INVALID_OPTION` and changes nothing (the gateway keeps running).
   */
  close(options?: { readonly drainMs?: number }): Promise<void>
  /**
   * Push to, describe and close connections (the in-process `Connections` port). On a
   * cluster node: any connection of the cluster, routed to its node.
   */
  readonly connections: Connections
  /** This node of a cluster (`cluster` option); undefined on a single gateway. */
  readonly cluster: ClusterInfo | undefined
  stats(): GatewayStats
  /** The gateway's own HTTP server (also what {@link listen} binds). */
  readonly server: Server
  /** Handle an upgrade from a server of your own: `server.on('upgrade', gateway.handleUpgrade)`. */
  readonly handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  /** Answer a plain HTTP request: `GET /healthz` → 200, mounted handlers, else 426. */
  readonly handleRequest: RequestListener
  /**
   * Serve some plain HTTP requests with `listener` (e.g. the `@connections` API on the
   * gateway's port). Mounts are tried in order, before the 426 answer.
   */
  mount(match: (req: IncomingMessage) => boolean, listener: RequestListener): void
  readonly apiId: string
  readonly stage: string
}

/**
 * Create a gateway. For a Gatehouse app in the same process, `createLocalGateway` builds the
 * gateway and the app together (the app from `gateway.connections`).
 *
 * @example
 * ```ts
 * const gateway = createGateway({
 *   port: 3001,
 *   routes: {
 *     $connect: { type: 'http', url: 'http://127.0.0.1:8000/ws/connect' },
 *     $disconnect: { type: 'http', url: 'http://127.0.0.1:8000/ws/disconnect' },
 *     $default: { type: 'http', url: 'http://127.0.0.1:8000/ws/default', twoWay: true },
 *   },
 * })
 * const { url } = await gateway.listen() // ws://127.0.0.1:3001/production
 * ```
 */
export function createGateway(options: GatewayOptions = {}): Gateway {
  const resolved = resolveGatewayOptions(options)
  const rt = createRuntime(resolved)
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: resolved.maxMessageBytes,
    maxFragments: resolved.maxFragments,
    // Chunks the receiver may hold unparsed (ws's default is 262 144): tiny TCP segments
    // must not cost memory by count rather than bytes.
    maxBufferedChunks: 16_384,
    clientTracking: false,
    handleProtocols,
    // ws honours it; @types/ws does not list it yet.
    ...({ closeTimeout: resolved.closeTimeoutMs } as object),
  })
  const pendingSockets = new Set<Duplex>()
  const handleUpgrade = createUpgradeHandler(rt, wss, pendingSockets)
  const mounts: Array<{ match: (req: IncomingMessage) => boolean; listener: RequestListener }> = []
  const stopSweep = startSweep(rt)
  const localConnections = createConnectionsPort(rt)
  const clusterNode = resolved.cluster
    ? createClusterNode(rt, localConnections, resolved.cluster)
    : undefined
  rt.cluster = clusterNode?.hooks
  const connections = clusterNode?.connections ?? localConnections
  let url: string | undefined
  let closing: Promise<void> | undefined

  const handleRequest: RequestListener = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      // A cluster node that cannot accept connections tells its load balancer so.
      const status = rt.closing
        ? 'closing'
        : clusterNode && !clusterNode.info.healthy
          ? 'cluster_unavailable'
          : 'ok'
      res.writeHead(status === 'ok' ? 200 : 503, {
        'Content-Type': 'application/json',
        'Cache-Control': 'no-store',
      })
      res.end(`{"status":"${status}"}`)
      return
    }
    for (const mount of mounts) {
      if (mount.match(req)) {
        mount.listener(req, res)
        return
      }
    }
    const reason: GatewayRefusalReason = 'upgrade_required'
    rt.options.logger.debug(
      { event: 'upgrade_refused', status: 426, reason },
      'plain request refused',
    )
    if (telemetry.hasSubscribers) {
      publish({ type: 'gateway_connect', outcome: 'refused', status: 426, reason })
    }
    const body = refusalBody(426)
    res.writeHead(426, {
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
    })
    res.end(body)
  }

  const server = createServer(
    {
      headersTimeout: resolved.headersTimeoutMs,
      requestTimeout: resolved.requestTimeoutMs,
      connectionsCheckingInterval: resolved.connectionsCheckingIntervalMs,
      maxHeaderSize: 16_384,
    },
    handleRequest,
  )
  server.on('upgrade', handleUpgrade)

  async function drain(drainMs: number): Promise<void> {
    const deadline = Date.now() + drainMs
    const remaining = () => Math.max(0, deadline - Date.now())
    // Upgrades still waiting on $connect are refused as any upgrade during shutdown is.
    if (pendingSockets.size > 0) {
      const reason: GatewayRefusalReason = 'gateway_closing'
      rt.options.logger.info(
        { event: 'upgrade_refused', status: 503, reason, count: pendingSockets.size },
        'upgrades refused',
      )
    }
    for (const socket of pendingSockets) writeRawResponse(socket, 503)
    for (const conn of rt.table.values())
      closeConnection(conn, CLOSE.goingAway.code, CLOSE.goingAway.reason)
    if (rt.table.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, remaining())
        function done(): void {
          clearTimeout(timer)
          rt.onConnectionRemoved = undefined
          resolve()
        }
        rt.onConnectionRemoved = () => {
          if (rt.table.size === 0) done()
        }
      })
    }
    // Peers that never answered the close frame are dropped; each still fires $disconnect.
    for (const conn of rt.table.values())
      terminateConnection(conn, CLOSE.goingAway.code, CLOSE.goingAway.reason)
    await new Promise((resolve) => setImmediate(resolve))
    if (rt.tasks.size > 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.allSettled([...rt.tasks]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, remaining())
        }),
      ])
      clearTimeout(timer)
    }
  }

  const gateway: Gateway = {
    async listen() {
      if (rt.closing) throw new GatehouseError('ERR_GATEWAY_CLOSED', 'The gateway is closed.')
      if (url !== undefined)
        throw new GatehouseError('ERR_INVALID_OPTION', 'The gateway is already listening.')
      // A node listens once registered: before, it could only refuse every connect.
      if (clusterNode && resolved.cluster) {
        await clusterNode.ready(resolved.cluster.deadAfterMs * 2)
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(resolved.port, resolved.host, () => {
          server.off('error', reject)
          resolve()
        })
      })
      const port = (server.address() as AddressInfo).port
      const host = resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host
      url = `ws://${host}:${port}/${resolved.stage}`
      return { url, port }
    },
    get url() {
      return url
    },
    close(closeOptions = {}) {
      if (closing) return closing
      // Validate before anything changes: a bad drainMs must leave the gateway running and
      // closable, not cache a rejected close.
      const drainMs = closeOptions.drainMs ?? 5_000
      if (typeof drainMs !== 'number' || !Number.isFinite(drainMs) || drainMs < 0) {
        return Promise.reject(
          new GatehouseError('ERR_INVALID_OPTION', '`drainMs` must be a non-negative number.'),
        )
      }
      closing = (async () => {
        rt.closing = true
        stopSweep()
        await drain(drainMs)
        // After the drain: its sockets' $disconnects were sent here, so nobody must reap it.
        await clusterNode?.close()
        wss.close()
        if (server.listening) {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()))
          server.closeAllConnections()
          await closed
        }
      })()
      return closing
    },
    connections,
    cluster: clusterNode?.info,
    stats() {
      return {
        openConnections: rt.table.size,
        pendingHandshakes: rt.table.pendingSize,
        backgroundTasks: rt.tasks.size,
        trackedAddresses: rt.table.trackedAddresses,
      }
    },
    server,
    handleUpgrade,
    handleRequest,
    mount(match, listener) {
      if (typeof match !== 'function' || typeof listener !== 'function') {
        throw new GatehouseError(
          'ERR_INVALID_OPTION',
          'mount(match, listener) takes two functions.',
        )
      }
      mounts.push({ match, listener })
    },
    apiId: resolved.apiId,
    stage: resolved.stage,
  }

  return gateway
}
