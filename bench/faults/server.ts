/**
 * @module bench/faults/server
 * The process the restart, scale and soak scenarios run and measure: the bundled gateway,
 * the app in process on an SQLite file (as `npm start` runs it), its CSRF-protected token
 * endpoint, and a control port for readings. It is restartable on the same ports and file,
 * and SIGTERM shuts it down as the CLI does: every socket closed with 1001, each `$disconnect`
 * fired, exit 0.
 *
 * Usage: node server.ts '<ServerConfig as JSON>'. Prints `{"ready":true,…}` once listening,
 * and `{"stopped":true,…}` with its final counts before exiting.
 */
import { createHook } from 'node:async_hooks'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { toNodeListener } from '../../src/adapters/node.ts'
import { createApp } from '../../src/app/create-app.ts'
import type { GatewayEvent } from '../../src/events/event.ts'
import { createGateway, type GatewayOptions } from '../../src/gateway/index.ts'
import { parseCookies } from '../../src/http/cookies.ts'
import type { Logger } from '../../src/logger.ts'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import { SERVER_ORIGIN, type ServerConfig } from './server-config.ts'

const SESSION = /^s-([A-Za-z0-9_-]{1,64})$/

const config = JSON.parse(process.argv[2] ?? '{}') as ServerConfig
const started = performance.now()

/** Counts for the control port. */
const counts = {
  connects: 0,
  disconnects: 0,
  messages: 0,
  /** `$connect` refusals by status: the app's and the gateway's own. */
  refused: {} as Record<string, number>,
  /** Token endpoint answers by status. */
  tokens: {} as Record<string, number>,
}
const bump = (map: Record<string, number>, key: number | string) => {
  map[key] = (map[key] ?? 0) + 1
}

const noop = () => {}
// The gateway's refusals before the app (caps, closing) are counted from its log lines.
const logger: Logger = {
  debug: noop,
  info: (obj: unknown, msg?: string) => {
    if (msg === 'upgrade refused') bump(counts.refused, `gw${(obj as { status: number }).status}`)
  },
  warn: noop,
  error: noop,
} as unknown as Logger

const store = await openSqliteStore({ path: join(config.dir, 'gatehouse.db') })
let handle: (event: GatewayEvent) => Promise<{ status: number }> = async () => ({ status: 503 })
const handler = { handle: (event: GatewayEvent) => handle(event) }
const gateway = createGateway({
  ...(config.gateway ?? {}),
  port: config.wsPort ?? 0,
  logger,
  routes: {
    $connect: { type: 'in-process', handler },
    $disconnect: { type: 'in-process', handler },
    $default: { type: 'in-process', handler, twoWay: true },
  },
} as unknown as GatewayOptions)

const userOf = (sessionId: string | null | undefined): string | null => {
  const m = sessionId ? SESSION.exec(sessionId) : null
  return m ? m[1]! : null
}
const app = createApp({
  store,
  connections: gateway.connections,
  allowedOrigins: [SERVER_ORIGIN],
  identify: (event) => {
    const sessionId = parseCookies(event.headers.cookie).get('sid') ?? null
    return { sessionId, userId: userOf(sessionId) }
  },
  loadUser: (id) => ({ id, permissions: ['chat.use'] }),
  permissions: { anyOf: ['chat.use'] },
  ...(config.app ?? {}),
  handlers: {
    echo: (ctx) => ctx.body,
    send_message: async (ctx) => {
      const channel = ctx.session.channel
      if (channel === null) return undefined
      await ctx.send.toChannel(channel, {
        type: 'chat_message',
        channel,
        user: ctx.user?.id,
        text: String(ctx.body.text ?? '').slice(0, 500),
      })
      return undefined
    },
  },
})
// The soak's planted leak (`--soak-plant-leak`): bytes kept per message, written so that
// they are resident, never released.
const leak: Buffer[] = []
const leakBytes = config.plantLeakBytesPerMessage ?? 0
handle = async (event) => {
  if (leakBytes > 0 && event.eventType === 'MESSAGE') leak.push(Buffer.alloc(leakBytes, 1))
  const response = await app.handle(event)
  if (event.eventType === 'CONNECT') {
    if (response.status === 200) counts.connects++
    else bump(counts.refused, response.status)
  } else if (event.eventType === 'DISCONNECT') counts.disconnects++
  else counts.messages++
  return response
}

const tokens = app.tokenEndpoint({
  authenticate: async (request) => {
    const sessionId = parseCookies(request.headers.get('cookie')).get('sid')
    const userId = userOf(sessionId)
    return userId && sessionId ? { userId, sessionId } : null
  },
})
const http = createServer(
  toNodeListener(async (request) => {
    const response = await tokens(request)
    bump(counts.tokens, response.status)
    return response
  }),
)

// Every timer alive in this process, ref'd or not (the gateway promises one sweep timer,
// not one per socket): counted from creation to its destruction (fired or cleared).
const liveTimers = new Set<number>()
createHook({
  init(id, type) {
    if (type === 'Timeout') liveTimers.add(id)
  },
  destroy(id) {
    liveTimers.delete(id)
  },
}).enable()
const timers = (): number => liveTimers.size

function stats(gc: boolean): Record<string, unknown> {
  const collect = (globalThis as { gc?: () => void }).gc
  if (gc && collect) for (let i = 0; i < 3; i++) collect()
  const m = process.memoryUsage()
  const cpu = process.cpuUsage()
  const g = gateway.stats()
  return {
    ...counts,
    open: g.openConnections,
    pending: g.pendingHandshakes,
    tasks: g.backgroundTasks,
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    cpuUs: cpu.user + cpu.system,
    timers: timers(),
    uptimeMs: Math.round(performance.now() - started),
  }
}

const control = createServer((req: IncomingMessage, res: ServerResponse) => {
  const url = new URL(req.url ?? '/', 'http://control')
  if (url.pathname === '/stats') {
    const body = JSON.stringify(stats(url.searchParams.get('gc') === '1'))
    res.writeHead(200, { 'content-type': 'application/json' }).end(body)
    return
  }
  res.writeHead(404).end()
})

const listen = (server: ReturnType<typeof createServer>, port: number) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
  })

const { url: wsUrl, port: wsPort } = await gateway.listen()
const httpPort = await listen(http, config.httpPort ?? 0)
const controlPort = await listen(control, config.controlPort ?? 0)
process.stdout.write(
  `${JSON.stringify({
    ready: true,
    pid: process.pid,
    wsUrl,
    tokenUrl: `http://127.0.0.1:${httpPort}/api/ws-token/`,
    controlUrl: `http://127.0.0.1:${controlPort}`,
    ports: { wsPort, httpPort, controlPort },
    startMs: Math.round(performance.now() - started),
  })}\n`,
)

let stopping = false
async function stop(): Promise<void> {
  if (stopping) return
  stopping = true
  // As the CLI: the gateway first (its sockets get 1001 and fire $disconnect), then the rest.
  await gateway.close()
  http.closeAllConnections()
  await new Promise((resolve) => http.close(resolve))
  const final = stats(false)
  await store.close()
  control.closeAllConnections()
  control.close()
  process.stdout.write(`${JSON.stringify({ stopped: true, ...final })}\n`, () => process.exit(0))
}
process.on('SIGTERM', () => void stop())
process.on('SIGINT', () => void stop())
// The parent is gone: stop too.
process.stdin.on('end', () => void stop())
process.stdin.resume()
