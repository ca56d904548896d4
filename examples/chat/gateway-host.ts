/**
 * @module examples/chat/gateway-host
 * The bundled gateway and the chat's Gatehouse app in the demo's process, wired both ways by
 * `createLocalGateway` (the app is built from the gateway's push port, and the gateway routes
 * to the app), with the `@connections` management API next to them.
 *
 * The end-to-end tests restart the gateway in place (same ports, new sockets) to show pages
 * coming back by themselves. A restart does what restarting the process would: it closes
 * every socket with 1001 and builds a new gateway and app pair (the store, users and
 * sessions stay). {@link GatewayHost.app} is always the current app.
 */
import type { App, Connections, GatewayEvent, GatewayResponse, Logger } from 'gatehouse'
import {
  createLocalGateway,
  createManagementServer,
  type Gateway,
  type GatewayStats,
  type ManagementServer,
  type MetricsSource,
} from 'gatehouse/gateway'

/** Options of {@link createGatewayHost}. */
export interface GatewayHostOptions {
  readonly host: string
  readonly wsPort: number
  readonly mgmtPort: number
  /** Build the app from the gateway's push port (once per gateway). */
  readonly app: (connections: Connections) => App
  readonly logger: Logger
  /** Served at `GET /metrics` on the management listener (loopback scrapers). */
  readonly metrics?: MetricsSource | undefined
  /** Sees every event and the app's answer (the test counters use it). */
  readonly observe?: ((event: GatewayEvent, response: GatewayResponse) => void) | undefined
}

/** The running gateway, its app and the management API. */
export interface GatewayHost {
  /** The app of the running gateway. */
  readonly app: App
  /** Listen; resolves with the WebSocket and management URLs. */
  start(): Promise<{ wsUrl: string; mgmtUrl: string }>
  /** Close every socket with 1001, then listen again on the same ports with a new pair. */
  restart(): Promise<void>
  /** Close every socket with 1001 and stop listening. */
  stop(): Promise<void>
  stats(): GatewayStats | null
}

/** How long a closing gateway waits for its clients' close frames. */
const DRAIN_MS = 3_000

/** One gateway, the app built from its port, and the management API over that port. */
interface Running {
  readonly gateway: Gateway
  readonly app: App
  readonly management: ManagementServer
}

/**
 * Create the gateway host (nothing listens until {@link GatewayHost.start}).
 *
 * @example
 * ```ts
 * const host = createGatewayHost({
 *   host: '127.0.0.1', wsPort: 3001, mgmtPort: 3002, logger,
 *   app: (connections) => createChatApp({ ...deps, connections }),
 * })
 * const { wsUrl } = await host.start()
 * await host.app.send.toAll({ type: 'hello' })
 * ```
 */
export function createGatewayHost(options: GatewayHostOptions): GatewayHost {
  const { observe } = options

  function build(): Running {
    const { gateway, app } = createLocalGateway({
      host: options.host,
      port: options.wsPort,
      logger: options.logger,
      app: (connections) => {
        const app = options.app(connections)
        if (!observe) return app
        // The same app, with every answer shown to the test counters.
        return {
          ...app,
          handle: async (event: GatewayEvent) => {
            const response = await app.handle(event)
            observe(event, response)
            return response
          },
        }
      },
    })
    const management = createManagementServer({
      connections: gateway.connections,
      stage: gateway.stage,
      host: options.host,
      // Loopback only, no credentials: what `npm start` needs on a laptop (documented).
      allowUnauthenticated: true,
      port: options.mgmtPort,
      logger: options.logger,
      ...(options.metrics ? { metrics: options.metrics } : {}),
    })
    return { gateway, app, management }
  }

  let current: Running | null = null
  // Built now so `app` is usable before `start()` (e.g. to build the HTTP side).
  let next: Running | null = build()

  async function open(): Promise<{ wsUrl: string; mgmtUrl: string }> {
    const pair = next ?? build()
    next = null
    const { port } = await pair.gateway.listen()
    const { url: mgmtUrl } = await pair.management.listen()
    current = pair
    // Clients may connect to `/` or `/{stage}`; the demo advertises the short form.
    return { wsUrl: `ws://${options.host}:${port}/`, mgmtUrl }
  }

  async function shut(): Promise<void> {
    const pair = current
    if (pair === null) return
    await pair.gateway.close({ drainMs: DRAIN_MS })
    await pair.management.close()
    current = null
  }

  return {
    get app() {
      const pair = current ?? next
      if (pair === null) throw new Error('the gateway host is stopped')
      return pair.app
    },
    start: open,
    async restart() {
      // The new pair exists before the old one closes, so `app` is never missing.
      next = build()
      await shut()
      await open()
    },
    async stop() {
      await shut()
      if (next !== null) {
        await next.gateway.close({ drainMs: 0 })
        next = null
      }
    },
    stats: () => current?.gateway.stats() ?? null,
  }
}
