/**
 * What the fault scenarios share: an app with the demo's security pipeline (cookie session,
 * single-use token, Origin, one permission) on any store, optionally served over HTTP for an
 * HTTP integration, and a WebSocket client helper that reports the upgrade's status and body.
 * Users are named by their session cookie: `sid=s-<user>` is user `<user>`.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import WebSocket from 'ws'
import { toNodeListener } from '../../src/adapters/node.ts'
import { type App, createApp } from '../../src/app/create-app.ts'
import type { AppOptions } from '../../src/app/types.ts'
import { parseCookies } from '../../src/http/cookies.ts'
import type { Store } from '../../src/store/store.ts'

export const FAULT_ORIGIN = 'http://127.0.0.1:3000'
export const FAULT_SECRET = 'fault-suite-gateway-secret-0123456789'
const SESSION = /^s-([A-Za-z0-9_-]{1,64})$/

/** The session id of `user`'s browser. */
export const sessionOf = (user: string): string => `s-${user}`

/** Counts of what the app saw, by event type and outcome. */
export interface AppCounts {
  connects: number
  disconnects: number
  disconnectsById: Map<string, number>
  disconnectCodes: Map<string, number>
  /** `performance.now()` of each connection's (last) `$disconnect`. */
  disconnectedAt: Map<string, number>
  messages: number
}

/** An app under fault, with counters. */
export interface FaultApp {
  readonly app: App
  readonly counts: AppCounts
  /** Issue a token to `user` for their session. */
  issue(user: string): Promise<string>
}

/**
 * Build the app on `store`.
 *
 * @example
 * ```ts
 * const { app, counts, issue } = faultApp(store)
 * ```
 */
export function faultApp(store: Store, overrides: Partial<AppOptions> = {}): FaultApp {
  const counts: AppCounts = {
    connects: 0,
    disconnects: 0,
    disconnectsById: new Map(),
    disconnectCodes: new Map(),
    disconnectedAt: new Map(),
    messages: 0,
  }
  const app = createApp({
    store,
    allowedOrigins: [FAULT_ORIGIN],
    identify: (event) => {
      const sessionId = parseCookies(event.headers.cookie).get('sid') ?? null
      const m = sessionId === null ? null : SESSION.exec(sessionId)
      return { sessionId, userId: m ? m[1]! : null }
    },
    loadUser: (id) => ({ id, permissions: ['chat.use'] }),
    permissions: { anyOf: ['chat.use'] },
    handlers: {
      echo: (ctx) => {
        counts.messages++
        return ctx.body
      },
    },
    // Counted through the hooks, so the counts hold whichever transport reaches the app.
    onConnect: () => {
      counts.connects++
    },
    onDisconnect: ({ event }) => {
      counts.disconnects++
      const id = event.connectionId
      counts.disconnectsById.set(id, (counts.disconnectsById.get(id) ?? 0) + 1)
      counts.disconnectCodes.set(id, event.disconnectStatusCode ?? 0)
      counts.disconnectedAt.set(id, performance.now())
    },
    ...overrides,
  })
  return {
    app,
    counts,
    async issue(user) {
      const result = await app.tokens.issue(user, sessionOf(user))
      if (!result.ok) throw new Error(`token refused: ${result.reason}`)
      return result.token
    },
  }
}

/**
 * Serve `app.fetch` over HTTP on a free loopback port (the HTTP integration's backend).
 *
 * @example
 * ```ts
 * const backend = await serveApp(app)
 * routes: { $connect: { type: 'http', url: `${backend.url}/ws/connect`, secret: FAULT_SECRET } }
 * ```
 */
export async function serveApp(app: App): Promise<{ url: string; port: number; server: Server }> {
  const server = createServer(toNodeListener((request) => app.fetch(request)))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, port, server }
}

/** What a connection attempt ended with. */
export interface Attempt {
  /** 101 when the socket opened, the HTTP status of a refused upgrade, 0 on a network error. */
  readonly status: number
  readonly body: string
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly ws?: WebSocket
  readonly ms: number
}

/**
 * Open a WebSocket as `user`'s browser would (session cookie, Origin, token in the query).
 *
 * @example
 * ```ts
 * const a = await attempt(gatewayUrl, 'alice', await issue('alice'))
 * if (a.status === 101) a.ws!.send('{"action":"echo"}')
 * ```
 */
export function attempt(
  url: string,
  user: string,
  token: string,
  options: { localAddress?: string; timeoutMs?: number } = {},
): Promise<Attempt> {
  const started = performance.now()
  const target = `${url}?ws_token=${encodeURIComponent(token)}&channel=lobby`
  const ws = new WebSocket(target, {
    headers: { cookie: `sid=${sessionOf(user)}`, origin: FAULT_ORIGIN },
    perMessageDeflate: false,
    handshakeTimeout: options.timeoutMs ?? 60_000,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  })
  return new Promise((resolve) => {
    const done = (a: Omit<Attempt, 'ms'>) => resolve({ ...a, ms: performance.now() - started })
    ws.once('open', () => {
      ws.on('error', () => {})
      done({ status: 101, body: '', headers: {}, ws })
    })
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (d: Buffer) => {
        body += d.toString()
      })
      res.on('end', () => {
        ws.terminate()
        done({ status: res.statusCode ?? 0, body, headers: res.headers })
      })
      res.on('error', () => done({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    ws.once('error', () => {
      if (ws.readyState !== WebSocket.OPEN) done({ status: 0, body: '', headers: {} })
    })
  })
}

/**
 * The next text message on `ws`, parsed.
 *
 * @example
 * ```ts
 * ws.send('{"action":"echo"}'); const reply = await nextMessage(ws, 5_000)
 * ```
 */
export function nextMessage(ws: WebSocket, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.off('message', onMessage)
      reject(new Error('no message in time'))
    }, timeoutMs)
    const onMessage = (data: Buffer) => {
      clearTimeout(timer)
      resolve(JSON.parse(data.toString()) as Record<string, unknown>)
    }
    ws.once('message', onMessage)
  })
}

/** A body a refusal may carry: empty, or one generic `{"message":…}` with no detail. */
export const GENERIC_BODY = /^(|\{"message":"[A-Za-z ]{1,40}"\})$/
