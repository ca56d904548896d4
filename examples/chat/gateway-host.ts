/**
 * @module examples/chat/gateway-host
 * The bundled gateway in the demo's process, with the app as its in-process integration, and
 * the `@connections` management API next to it. The gateway can be restarted in place (same
 * port, new sockets), which is how the end-to-end tests show the page coming back by itself.
 */
import type { EventHandler, GatewayEvent, GatewayResponse, Logger } from 'gatehouse'
import {
  createGateway,
  createManagementServer,
  type Gateway,
  type GatewayStats,
  type ManagementServer,
} from 'gatehouse/gateway'
import { createSwitchableConnections, type SwitchableConnections } from './connections.ts'

/** Options of {@link createGatewayHost}. */
export interface GatewayHostOptions {
  readonly host: string
  readonly wsPort: number
  readonly mgmtPort: number
  /** The app: answers `$connect`, `$disconnect` and messages. */
  readonly app: EventHandler
  readonly logger: Logger
  /** Sees every event and the app's answer (the test counters use it). */
  readonly observe?: ((event: GatewayEvent, response: GatewayResponse) => void) | undefined
}

/** The running gateway and management API. */
export interface GatewayHost {
  /** The port the app pushes through; follows restarts. */
  readonly connections: SwitchableConnections
  /** Listen; resolves with the WebSocket and management URLs. */
  start(): Promise<{ wsUrl: string; mgmtUrl: string }>
  /** Close every socket with 1001, then listen again on the same port. */
  restart(): Promise<void>
  /** Close every socket with 1001 and stop listening. */
  stop(): Promise<void>
  stats(): GatewayStats | null
}

/** How long a closing gateway waits for its clients' close frames. */
const DRAIN_MS = 3_000

/**
 * Create the gateway host (nothing listens until {@link GatewayHost.start}).
 *
 * @example
 * ```ts
 * const host = createGatewayHost({ host: '127.0.0.1', wsPort: 3001, mgmtPort: 3002, app: lateApp, logger })
 * const app = createApp({ ..., connections: host.connections })
 * const { wsUrl } = await host.start()
 * ```
 */
export function createGatewayHost(options: GatewayHostOptions): GatewayHost {
  const connections = createSwitchableConnections()
  const { app, observe } = options

  const integration: EventHandler = {
    async handle(event) {
      const response = await app.handle(event)
      observe?.(event, response)
      return response
    },
  }

  const makeGateway = (): Gateway =>
    createGateway({
      host: options.host,
      port: options.wsPort,
      logger: options.logger,
      routes: {
        $connect: { type: 'in-process', handler: integration },
        $disconnect: { type: 'in-process', handler: integration },
        $default: { type: 'in-process', handler: integration, twoWay: true },
      },
    })

  let gateway: Gateway | null = null
  let management: ManagementServer | null = null

  async function open(): Promise<string> {
    const next = makeGateway()
    const { port } = await next.listen()
    gateway = next
    connections.use(next.connections)
    // Clients may connect to `/` or `/{stage}`; the demo advertises the short form.
    return `ws://${options.host}:${port}/`
  }

  async function shut(): Promise<void> {
    const current = gateway
    if (current === null) return
    await current.close({ drainMs: DRAIN_MS })
    connections.use(null)
    gateway = null
  }

  return {
    connections,
    async start() {
      const wsUrl = await open()
      management = createManagementServer({
        connections,
        stage: gateway!.stage,
        host: options.host,
        // Loopback only, no credentials: what `npm start` needs on a laptop (documented).
        allowUnauthenticated: true,
        port: options.mgmtPort,
        logger: options.logger,
      })
      const { url: mgmtUrl } = await management.listen()
      return { wsUrl, mgmtUrl }
    },
    async restart() {
      await shut()
      await open()
    },
    async stop() {
      await shut()
      await management?.close()
      management = null
    },
    stats: () => gateway?.stats() ?? null,
  }
}
