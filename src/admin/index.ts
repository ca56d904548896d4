/**
 * @module admin
 * `gatehouse/admin`: an optional admin page as a Fetch handler, `(request) => Response`.
 * Mount it behind your own authentication (it has none of its own). It shows live sessions
 * by channel and by user, the number of outstanding tokens (never a token or a hash), recent
 * refusals by reason and rate-limit hot keys (from the telemetry stream), and the gateway
 * nodes. Read-only unless `allowActions: true`; then it can kick a connection and revoke a
 * user, through forms protected by a signed double-submit CSRF token, with cross-site
 * `Sec-Fetch-Site` and foreign `Origin` refused.
 */
import { randomBytes } from 'node:crypto'
import { type Clock, systemClock } from '../clock.ts'
import { GatehouseError } from '../errors.ts'
import type { RefusalReason } from '../http/refusal.ts'
import { type Logger, logSafe, silentLogger } from '../logger.ts'
import type { SessionRecord, Store } from '../store/store.ts'
import { positiveInt } from '../util/options.ts'
import { ADMIN_CSRF_COOKIE, createAdminCsrf } from './csrf.ts'
import { type AdminNode, renderAdminPage } from './page.ts'
import { recordActivity } from './recent.ts'

export type { AdminNode } from './page.ts'

/** What the actions act through: an app's `send.close` and `revokeUser` (an `App` fits). */
export interface AdminActions {
  readonly send: { close(audience: { connectionId: string }): Promise<number> }
  revokeUser(userId: string): Promise<{ tokens: number; connections: number }>
}

/** Options of {@link createAdmin}. */
export interface AdminOptions {
  /** Where sessions and token counts are read. */
  readonly store: Store
  /** The app whose connections the actions close (`createApp`'s result). Needed with `allowActions`. */
  readonly app?: AdminActions
  /** Show the kick and revoke forms and accept them. Default false (read-only). */
  readonly allowActions?: boolean
  /** The path the handler is mounted at, without a trailing slash. Default `/admin`. */
  readonly basePath?: string
  /** The page title. Default `Gatehouse admin`. */
  readonly title?: string
  /** At most this many live sessions are loaded per page. Default 500. */
  readonly maxSessions?: number
  /** How many recent refusals are kept. Default 100. */
  readonly recentRefusals?: number
  /** Secret of the CSRF signatures (≥ 32 bytes). Default: random per handler. */
  readonly csrfSecret?: Uint8Array
  /**
   * The gateway nodes to list: `() => gateway.cluster.nodes()` when the gateway runs in this
   * process with `cluster`. Without it the page shows one node. A rejection (Redis down)
   * shows the registry as unreachable; the rest of the page still renders.
   */
  readonly nodes?: () => Promise<readonly AdminNode[]>
  readonly clock?: Clock
  readonly logger?: Logger
}

/** The handler, and `close()` to stop listening to the telemetry stream. */
export type AdminHandler = ((request: Request) => Promise<Response>) & { close(): void }

const KNOWN = new Set([
  'store',
  'app',
  'allowActions',
  'basePath',
  'title',
  'maxSessions',
  'recentRefusals',
  'csrfSecret',
  'nodes',
  'clock',
  'logger',
])
const BASE_PATH = /^(\/[A-Za-z0-9._~-]+)*$/
const FORM_TYPE = 'application/x-www-form-urlencoded'
const MAX_FORM_BYTES = 4096

/**
 * Create the admin handler.
 *
 * @example
 * ```ts
 * import { createAdmin } from 'gatehouse/admin'
 * const admin = createAdmin({ store, app, allowActions: true, basePath: '/admin' })
 * // in your server, after your own authentication of an operator:
 * if (url.pathname === '/admin' || url.pathname.startsWith('/admin/')) return admin(request)
 * ```
 */
export function createAdmin(options: AdminOptions): AdminHandler {
  if (options === null || typeof options !== 'object') {
    throw new GatehouseError('ERR_INVALID_OPTION', 'createAdmin() needs options.')
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      throw new GatehouseError('ERR_INVALID_OPTION', `createAdmin(): unknown option \`${key}\`.`)
    }
  }
  const { store } = options
  if (typeof store?.listConnections !== 'function' || typeof store.getSession !== 'function') {
    throw new GatehouseError('ERR_INVALID_OPTION', 'createAdmin() needs a `store`.')
  }
  const allowActions = options.allowActions === true
  if (allowActions && (typeof options.app?.revokeUser !== 'function' || !options.app.send)) {
    throw new GatehouseError(
      'ERR_OPTION_CONFLICT',
      'allowActions needs `app` (to close and revoke).',
    )
  }
  const basePath = options.basePath ?? '/admin'
  if (typeof basePath !== 'string' || !BASE_PATH.test(basePath)) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      'basePath must look like /admin (no trailing slash).',
    )
  }
  const title = typeof options.title === 'string' ? options.title : 'Gatehouse admin'
  const maxSessions = positiveInt('maxSessions', options.maxSessions ?? 500)
  const keep = positiveInt('recentRefusals', options.recentRefusals ?? 100)
  const secret = options.csrfSecret ?? randomBytes(32)
  if (!(secret instanceof Uint8Array) || secret.byteLength < 32) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'csrfSecret must be at least 32 bytes.')
  }
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? silentLogger
  const csrf = createAdminCsrf(secret)
  const recent = recordActivity(keep, () => clock.now())

  async function liveSessions(): Promise<{ sessions: SessionRecord[]; total: number }> {
    const ids = await store.listConnections({ all: true })
    const rows = await Promise.all(ids.slice(0, maxSessions).map((id) => store.getSession(id)))
    const sessions = rows.filter((s): s is SessionRecord => s?.connected === true)
    sessions.sort((a, b) => a.connectedAt - b.connectedAt)
    return { sessions, total: ids.length }
  }

  async function listNodes(): Promise<readonly AdminNode[] | 'unreachable' | undefined> {
    if (options.nodes === undefined) return undefined
    try {
      return await options.nodes()
    } catch (err) {
      logger.warn(
        { event: 'admin_nodes_failed', err },
        'admin: the gateway registry is unreachable',
      )
      return 'unreachable'
    }
  }

  async function page(request: Request, notice?: string): Promise<Response> {
    const cookieHeader = request.headers.get('cookie')
    const { token, fresh } = csrf.tokenFor(cookieHeader)
    const [{ sessions, total }, tokens, nodes] = await Promise.all([
      liveSessions(),
      store.countTokens(clock.now()).catch(() => null),
      listNodes(),
    ])
    const styleNonce = randomBytes(12).toString('base64')
    const html = renderAdminPage({
      title,
      basePath,
      now: clock.now(),
      sessions,
      totalSessions: total,
      outstandingTokens: tokens?.outstanding ?? null,
      recent,
      allowActions,
      csrfToken: token,
      styleNonce,
      notice,
      nodes,
    })
    const headers = new Headers(pageHeaders(styleNonce))
    headers.set('content-type', 'text/html; charset=utf-8')
    if (fresh) {
      headers.append(
        'set-cookie',
        `${ADMIN_CSRF_COOKIE}=${token}; Path=${basePath || '/'}; HttpOnly; SameSite=Strict`,
      )
    }
    return new Response(html, { status: 200, headers })
  }

  function refuse(status: number, detail: string): Response {
    const reason: RefusalReason =
      detail === 'method'
        ? 'method_not_allowed'
        : detail === 'fetch_site'
          ? 'fetch_site_forbidden'
          : detail === 'origin'
            ? 'origin_forbidden'
            : 'csrf_mismatch'
    logger.warn({ event: 'admin_refused', reason, detail }, 'admin request refused')
    return new Response(status === 405 ? 'Method Not Allowed' : 'Forbidden', {
      status,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
    })
  }

  async function act(request: Request, name: string): Promise<Response> {
    // Cheapest refusals first; a browser sends Sec-Fetch-Site on every POST it makes.
    const site = request.headers.get('sec-fetch-site')
    if (site !== null && site !== 'same-origin') return refuse(403, 'fetch_site')
    const origin = request.headers.get('origin')
    if (origin !== null && origin !== new URL(request.url).origin) return refuse(403, 'origin')
    const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
    if (type !== FORM_TYPE) return refuse(403, 'content_type')
    const text = await request.text()
    if (text.length > MAX_FORM_BYTES) return refuse(403, 'form_size')
    const form = new URLSearchParams(text)
    if (!csrf.verify(request.headers.get('cookie'), form.get('csrf'))) return refuse(403, 'csrf')
    const app = options.app as AdminActions
    let notice: string
    if (name === 'kick') {
      const id = form.get('connectionId') ?? ''
      const closed = id === '' ? 0 : await app.send.close({ connectionId: id })
      notice = closed > 0 ? `Connection ${id} closed.` : `Connection ${id} was already gone.`
      logger.info(
        { event: 'admin_kick', connectionId: logSafe(id), closed },
        'admin kicked a connection',
      )
    } else {
      const user = form.get('userId') ?? ''
      const revoked = user === '' ? { tokens: 0, connections: 0 } : await app.revokeUser(user)
      notice = `User ${user} revoked: ${revoked.connections} sockets closed, ${revoked.tokens} tokens deleted.`
      logger.info(
        { event: 'admin_revoke', userId: logSafe(user), ...revoked },
        'admin revoked a user',
      )
    }
    // Post/redirect/get would need the notice in the URL; answering the page itself keeps
    // it out of logs and history.
    return page(request, notice)
  }

  const handler = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname
    const sub = path === basePath || path === `${basePath}/` ? '' : path.slice(basePath.length + 1)
    if (!path.startsWith(basePath) || (sub !== '' && !path.startsWith(`${basePath}/`))) {
      return new Response('Not Found', { status: 404 })
    }
    if (sub === '') {
      if (request.method !== 'GET' && request.method !== 'HEAD') return refuse(405, 'method')
      return page(request)
    }
    if ((sub === 'kick' || sub === 'revoke') && allowActions) {
      if (request.method !== 'POST') return refuse(405, 'method')
      return act(request, sub)
    }
    return new Response('Not Found', { status: 404 })
  }
  return Object.assign(handler, { close: () => recent.close() })
}

/** No script at all, the one style block by nonce, forms to this origin only, never framed. */
function pageHeaders(styleNonce: string): Record<string, string> {
  return {
    'content-security-policy': `default-src 'none'; style-src 'nonce-${styleNonce}'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    'x-content-type-options': 'nosniff',
    // Not no-referrer: under it Chromium sends `Origin: null` with the page's own forms.
    'referrer-policy': 'same-origin',
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
  }
}
