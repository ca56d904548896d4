/**
 * @module examples/chat/server
 * The demo's HTTP side (node:http): the page and its files, login and logout, who-am-I, the
 * Gatehouse token endpoint, and the health check.
 *
 * | route | answer |
 * |---|---|
 * | `GET /` | the chat page |
 * | `GET /static/…` | its script, style and icon |
 * | `GET /healthz` | 200 when the gateway is up, else 503 |
 * | `GET /admin`, `POST /admin/kick`, `POST /admin/revoke` | the Gatehouse admin page, for users with `chat.moderate` only (403 otherwise) |
 * | `POST /login` `{"username","password"}` | 200 + session and CSRF cookies; 401; 429 |
 * | `POST /logout` with `X-CSRFToken` | 200 `{"ok":true,"closed":n}`: session ended, the user's unused tokens revoked and sockets closed; 403; 503 `{"ok":false,…}` when the store could not complete the revocation (the session is still ended and this process's sockets closed) |
 * | `GET /api/me` | 200 `{"user","permissions"}` or 401 |
 * | `POST /api/ws-token/` | Gatehouse's token endpoint: 200 `{"token","expires_in"}`, 403, 429 |
 * | `GET /__test/stats`, `POST /__test/restart-gateway`, `POST /__test/store-outage` `{"down"}`, `POST /__test/publish` `{"channel","user","text","count"}` | only with `GATEHOUSE_DEMO_TEST=1` |
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import {
  type App,
  encodeKeyPart,
  isGatehouseError,
  type Logger,
  logSafe,
  type RevokeResult,
  type Store,
} from 'gatehouse'
import { answerBridgeError, toFetchRequest, writeFetchResponse } from 'gatehouse/node'
import type { Asset } from './assets.ts'
import type { GatewayHost } from './gateway-host.ts'
import { postChat } from './handlers.ts'
import { discardBody, readJsonObject, sendJson } from './http-util.ts'
import { chatPage, securityHeaders } from './page.ts'
import { csrfMatches, loginCookies, logoutCookies, type SessionStore } from './sessions.ts'
import type { StoreOutage, TestCounters } from './test-hooks.ts'
import { SEED_USERS, type UserDirectory } from './users.ts'

/** What the HTTP side is built from. */
export interface ChatServerDeps {
  readonly port: number
  readonly wsPort: number
  readonly origins: readonly string[]
  readonly store: Store
  readonly users: UserDirectory
  readonly sessions: SessionStore
  readonly assets: ReadonlyMap<string, Asset>
  /** The gateway and its app (`gateway.app`: the current one, across test restarts). */
  readonly gateway: GatewayHost
  readonly logger: Logger
  /** Present only in test mode. */
  readonly counters?: TestCounters | undefined
  /** Present only in test mode: takes the Gatehouse store down and up. */
  readonly outage?: StoreOutage | undefined
  /** The Gatehouse admin page, mounted at `/admin` behind the `chat.moderate` permission. */
  readonly admin: (request: Request) => Promise<Response>
}

/** The token endpoint needs no body; a request carries at most this much (else 413). */
const TOKEN_BODY_LIMIT_BYTES = 1_024

/** Login attempts per client address and per user name, per minute (failed ones count too). */
const LOGIN_LIMIT_PER_IP = 30
const LOGIN_LIMIT_PER_USER = 10
const LOGIN_WINDOW_MS = 60_000

/**
 * Build the request listener.
 *
 * @example
 * ```ts
 * createServer(createChatListener(deps)).listen(3000, '127.0.0.1')
 * ```
 */
export function createChatListener(deps: ChatServerDeps): RequestListener {
  const { store, users, sessions, assets, gateway, logger, counters } = deps
  const hosts = new Set([`127.0.0.1:${deps.port}`, `localhost:${deps.port}`])
  const origins = new Set(deps.origins)
  const pageHeaders = securityHeaders(deps.wsPort)
  const page = Buffer.from(chatPage(deps.wsPort), 'utf8')

  const authenticate = async (request: Request) => {
    const session = sessions.fromCookies(request.headers.get('cookie'))
    // The endpoint compares cookie and header; the header must also be this session's.
    if (!session || !csrfMatches(session, request.headers.get('x-csrftoken'))) return null
    return { userId: session.username, sessionId: session.sessionId }
  }
  // One endpoint per app (a test restart builds a new app).
  const endpoints = new WeakMap<App, (request: Request) => Promise<Response>>()
  const tokenEndpoint = (request: Request): Promise<Response> => {
    const app = gateway.app
    let endpoint = endpoints.get(app)
    if (endpoint === undefined) {
      endpoint = app.tokenEndpoint({ authenticate })
      endpoints.set(app, endpoint)
    }
    return endpoint(request)
  }

  /** A browser request from another site (or a page of ours under a foreign origin). */
  function crossSite(req: IncomingMessage): boolean {
    const origin = req.headers.origin
    if (origin !== undefined && !origins.has(origin)) return true
    const site = req.headers['sec-fetch-site']
    return site !== undefined && site !== 'same-origin' && site !== 'none'
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (crossSite(req)) return sendJson(res, 403, { message: 'Forbidden' })
    const body = await readJsonObject(req)
    if (body === null) return sendJson(res, 400, { message: 'Bad Request' })
    const username = typeof body.username === 'string' ? body.username : ''
    const ip = req.socket.remoteAddress ?? 'unknown'
    const decision = await store.hit(
      [
        {
          key: `login:ip:${encodeKeyPart(ip)}`,
          limit: LOGIN_LIMIT_PER_IP,
          windowMs: LOGIN_WINDOW_MS,
        },
        {
          key: `login:user:${encodeKeyPart(username)}`,
          limit: LOGIN_LIMIT_PER_USER,
          windowMs: LOGIN_WINDOW_MS,
        },
      ],
      Date.now(),
    )
    if (!decision.allowed) {
      const retry = String(Math.max(1, Math.ceil(decision.msBeforeNext / 1000)))
      return sendJson(res, 429, { message: 'Too Many Requests' }, { 'retry-after': retry })
    }
    const user = await users.verify(body.username, body.password)
    if (!user) {
      logger.warn({ event: 'login_failed', user: logSafe(username, 64), ip }, 'login failed')
      return sendJson(res, 401, { message: 'Unauthorized' })
    }
    // A new id at every login: a session id planted before login is worth nothing after.
    const previous = sessions.fromCookies(req.headers.cookie)
    const session = sessions.create(user.id, previous?.sessionId)
    if (previous) await gateway.app.revokeSession(previous.sessionId)
    logger.info({ event: 'login', user: user.id }, 'logged in')
    sendJson(
      res,
      200,
      { user: user.id, permissions: user.permissions },
      { 'set-cookie': loginCookies(session) },
    )
  }

  async function logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await discardBody(req)
    const session = sessions.fromCookies(req.headers.cookie)
    const header = req.headers['x-csrftoken']
    if (
      crossSite(req) ||
      !session ||
      !csrfMatches(session, typeof header === 'string' ? header : null)
    ) {
      return sendJson(res, 403, { message: 'Forbidden' })
    }
    // The HTTP session ends first and for sure (it is this demo's own database): no new
    // token can be issued to it from here on.
    sessions.destroy(session.sessionId)
    // DEMO.md: the user's live sockets close and their unused tokens are revoked. Other
    // browsers of the same user keep their login, so their pages reconnect with new tokens.
    let revoked: RevokeResult
    try {
      revoked = await gateway.app.revokeUser(session.username)
    } catch (err) {
      if (!isGatehouseError(err, 'ERR_REVOCATION_INCOMPLETE')) throw err
      // Never a 200 for a logout that did not fully happen: this process's sockets are
      // closed, but the store could not delete the tokens or list the other sockets.
      logger.error({ event: 'logout_incomplete', user: session.username, err }, 'logout incomplete')
      return sendJson(
        res,
        503,
        { ok: false, error: 'Service Unavailable', closed: err.details?.connections ?? 0 },
        { 'set-cookie': logoutCookies() },
      )
    }
    logger.info({ event: 'logout', user: session.username, ...revoked }, 'logged out')
    sendJson(res, 200, { ok: true, closed: revoked.connections }, { 'set-cookie': logoutCookies() })
  }

  function me(req: IncomingMessage, res: ServerResponse): void {
    const session = sessions.fromCookies(req.headers.cookie)
    const user = session ? users.get(session.username) : null
    if (user) sendJson(res, 200, { user: user.id, permissions: user.permissions })
    else sendJson(res, 401, { message: 'Unauthorized' })
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let request: Request
    try {
      request = await toFetchRequest(req, { maxBodyBytes: TOKEN_BODY_LIMIT_BYTES })
    } catch (err) {
      // The bridge's own refusals (413 over the limit, 400 for a malformed target) are
      // answers, not failures of the demo.
      logger.warn({ event: 'token_request_refused', err }, 'token request refused')
      answerBridgeError(res, err)
      return
    }
    const response = await tokenEndpoint(request)
    counters?.tokenAnswer(
      sessions.fromCookies(req.headers.cookie)?.username ?? null,
      response.status,
    )
    await writeFetchResponse(res, response)
  }

  /** The admin page is Gatehouse's; who may see it is the demo's call: moderators only. */
  async function adminPage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = sessions.fromCookies(req.headers.cookie)
    const user = session ? users.get(session.username) : null
    if (!user?.permissions.includes('chat.moderate')) {
      await discardBody(req)
      return sendJson(res, 403, { message: 'Forbidden' })
    }
    const request = await toFetchRequest(req, { maxBodyBytes: 4_096 })
    await writeFetchResponse(res, await deps.admin(request))
  }

  function staticFile(req: IncomingMessage, res: ServerResponse, file: Asset): void {
    const headers = {
      ...pageHeaders,
      'content-type': file.contentType,
      etag: file.etag,
      'cache-control': 'no-cache',
    }
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, headers)
      res.end()
      return
    }
    res.writeHead(200, { ...headers, 'content-length': file.body.byteLength })
    res.end(req.method === 'HEAD' ? undefined : file.body)
  }

  async function testRoute(path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!counters) return sendJson(res, 404, { message: 'Not Found' })
    if (path === '/__test/stats' && req.method === 'GET') {
      const connected: Record<string, number> = {}
      for (const { username } of SEED_USERS) {
        connected[username] = (await store.listConnections({ userId: username })).length
      }
      return sendJson(res, 200, { ...counters.snapshot(), connected })
    }
    if (path === '/__test/store-outage' && req.method === 'POST' && deps.outage) {
      const body = await readJsonObject(req)
      deps.outage.setDown(body?.down === true)
      return sendJson(res, 200, { ok: true, down: body?.down === true })
    }
    if (path === '/__test/publish' && req.method === 'POST') {
      // `count` chat messages `<text> 1` … `<text> <count>` from `user` to `channel`, as
      // send_message posts them, without a socket (so no per-connection message rate).
      const body = await readJsonObject(req)
      const { channel, user, text, count } = body ?? {}
      if (
        typeof channel !== 'string' ||
        typeof user !== 'string' ||
        typeof text !== 'string' ||
        !Number.isInteger(count) ||
        (count as number) < 1 ||
        (count as number) > 1_000
      ) {
        return sendJson(res, 400, { message: 'Bad Request' })
      }
      for (let i = 1; i <= (count as number); i++) {
        await postChat(gateway.app.send, channel, user, `${text} ${i}`)
      }
      return sendJson(res, 200, { ok: true })
    }
    if (path === '/__test/restart-gateway' && req.method === 'POST') {
      await discardBody(req)
      await gateway.restart()
      counters.restarted()
      return sendJson(res, 200, { ok: true })
    }
    sendJson(res, 404, { message: 'Not Found' })
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Only our own host names: a DNS-rebinding page cannot talk to the demo.
    if (!hosts.has(req.headers.host ?? ''))
      return sendJson(res, 421, { message: 'Misdirected Request' })
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const method = req.method ?? 'GET'
    const read = method === 'GET' || method === 'HEAD'

    if (path === '/healthz' && read) {
      const up = gateway.stats() !== null
      return sendJson(res, up ? 200 : 503, { status: up ? 'ok' : 'starting' })
    }
    if (path === '/' && read) {
      res.writeHead(200, {
        ...pageHeaders,
        'content-type': 'text/html; charset=utf-8',
        'content-length': page.byteLength,
        'cache-control': 'no-store',
      })
      res.end(method === 'HEAD' ? undefined : page)
      return
    }
    const file = assets.get(path)
    if (file && read) return staticFile(req, res, file)
    if (path === '/login' && method === 'POST') return login(req, res)
    if (path === '/logout' && method === 'POST') return logout(req, res)
    if (path === '/api/me' && read) return me(req, res)
    if (path === '/api/ws-token/' || path === '/api/ws-token') return token(req, res)
    if (path === '/admin' || path.startsWith('/admin/')) return adminPage(req, res)
    if (path.startsWith('/__test/')) return testRoute(path, req, res)
    sendJson(res, 404, { message: 'Not Found' })
  }

  return (req, res) => {
    route(req, res).catch((err: unknown) => {
      // The error itself: the logger keeps its type, message and stack (redacted).
      logger.error({ event: 'http_error', err }, 'request failed')
      if (!res.headersSent) sendJson(res, 500, { message: 'Internal server error' })
      else res.destroy()
    })
  }
}
