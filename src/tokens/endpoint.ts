/**
 * @module tokens/endpoint
 * The token endpoint as a Fetch-API handler (`Request` → `Response`), so every framework
 * adapter can mount it. The logged-in page POSTs here with its session cookie and CSRF token
 * and gets `{"token": "...", "expires_in": 60}` (DESIGN.md flow 1).
 *
 * Checks, cheapest first, each refusal with the one generic body `{"message": <status text>}`
 * of `http/refusal.ts` (the reason, a `TokenRefusalReason`, goes to the log only):
 * 1. method is POST, else 405 with `Allow: POST`; a body over
 *    `DEFAULTS.tokenRequestMaxBodyBytes` (the request needs none), else 413;
 * 2. `Sec-Fetch-Site`, when the browser sends it, is `same-origin` (or `same-site` when
 *    `allowSameSite` is set), else 403. `same-site` is refused by default because sibling
 *    subdomains are same-site and are exactly the attacker of research/security.md §2.1;
 *    `cross-site` and `none` (a typed URL or bookmark cannot POST with a CSRF header) too;
 * 3. `Origin`, when present and `allowedOrigins` is given, is one of them exactly, else 403;
 * 4. CSRF double submit: the `csrftoken` cookie equals the `X-CSRFToken` header, both
 *    non-empty and at most 256 characters, compared in constant time, else 403;
 * 5. `authenticate(req)` names a user and session, else 403;
 * 6. the per-user issue rate, else 429 with `Retry-After`;
 * 7. a store failure answers 503 (fail closed); any other failure 500.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError, isGatehouseError } from '../errors.ts'
import { HTTP_TOKEN } from '../events/headers.ts'
import { parseCookies } from '../http/cookies.ts'
import { createOriginCheck, type OriginCheck } from '../http/origin.ts'
import { refusalBody, type TokenRefusalReason } from '../http/refusal.ts'
import { type Logger, logSafe, silentLogger } from '../logger.ts'
import { publish, telemetry } from '../telemetry.ts'
import { booleanOption, readOptions } from '../util/options.ts'
import type { TokenService } from './service.ts'

/** Who sent a token request, as the host app reads it from its session. */
export interface TokenRequestIdentity {
  readonly userId: string
  readonly sessionId: string
}

/** Options of {@link createTokenEndpoint}. */
export interface TokenEndpointOptions {
  readonly tokens: TokenService
  /** The user and HTTP session behind `req` (its session cookie), or `null` when logged out. */
  readonly authenticate: (req: Request) => Promise<TokenRequestIdentity | null>
  /** Exact origins allowed to call the endpoint; when unset, `Origin` is not checked. */
  readonly allowedOrigins?: readonly string[] | undefined
  /** Also accept `Sec-Fetch-Site: same-site` (page and endpoint on sibling hosts). Default false. */
  readonly allowSameSite?: boolean | undefined
  /** Default `DEFAULTS.csrfCookieName` (`csrftoken`). */
  readonly csrfCookieName?: string | undefined
  /** Default `DEFAULTS.csrfHeaderName` (`x-csrftoken`). */
  readonly csrfHeaderName?: string | undefined
  readonly logger?: Logger | undefined
}

/** The longest CSRF value compared; longer ones are refused. */
const MAX_CSRF_LENGTH = 256

function json(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers,
    },
  })
}

function failure(status: number, headers?: Record<string, string>): Response {
  return json(status, refusalBody(status), headers)
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest()
}

/** Constant-time equality of two CSRF values (hashed first: equal lengths, no throw). */
function csrfMatches(cookie: string | undefined, header: string | null): boolean {
  if (cookie === undefined || header === null) return false
  if (cookie.length === 0 || header.length === 0) return false
  if (cookie.length > MAX_CSRF_LENGTH || header.length > MAX_CSRF_LENGTH) return false
  return timingSafeEqual(sha256(cookie), sha256(header))
}

/**
 * True when the request body is at most `limit` bytes: a declared `Content-Length` decides
 * without reading; otherwise the stream is read until it ends or passes the limit (then
 * cancelled), so an oversized body costs at most `limit` bytes of memory.
 */
async function bodyWithin(req: Request, limit: number): Promise<boolean> {
  const declared = req.headers.get('content-length')
  if (declared !== null) {
    const length = Number(declared)
    if (!Number.isSafeInteger(length) || length < 0 || length > limit) return false
  }
  if (req.body === null) return true
  const reader = req.body.getReader()
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return true
    total += value.byteLength
    if (total > limit) {
      await reader.cancel().catch(() => {})
      return false
    }
  }
}

function isIdentity(value: unknown): value is TokenRequestIdentity {
  if (typeof value !== 'object' || value === null) return false
  const { userId, sessionId } = value as Record<string, unknown>
  return (
    typeof userId === 'string' &&
    userId.length > 0 &&
    typeof sessionId === 'string' &&
    sessionId.length > 0
  )
}

function checkName(option: string, value: string): string {
  if (typeof value !== 'string' || !HTTP_TOKEN.test(value)) {
    throw new GatehouseError('ERR_INVALID_OPTION', `${option} must be a cookie/header name`)
  }
  return value
}

/**
 * Create the token endpoint handler.
 *
 * @example
 * ```ts
 * const tokens = createTokenService({ store })
 * const tokenEndpoint = createTokenEndpoint({
 *   tokens,
 *   authenticate: async (req) => sessions.fromCookie(req.headers.get('cookie')),
 *   allowedOrigins: ['https://app.example.com'],
 * })
 * // POST /api/ws-token/ → 200 {"token":"…","expires_in":60}
 * const res = await tokenEndpoint(request)
 * ```
 */
export function createTokenEndpoint(
  options: TokenEndpointOptions,
): (req: Request) => Promise<Response> {
  // Unknown keys (a typo such as `allowedOrigin`) are refused rather than ignored.
  readOptions('createTokenEndpoint', options, [
    'tokens',
    'authenticate',
    'allowedOrigins',
    'allowSameSite',
    'csrfCookieName',
    'csrfHeaderName',
    'logger',
  ])
  const { tokens, authenticate } = options
  if (typeof tokens?.issue !== 'function' || typeof authenticate !== 'function') {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      'createTokenEndpoint needs tokens and authenticate',
    )
  }
  const checkOrigin: OriginCheck | null =
    options.allowedOrigins === undefined
      ? null
      : createOriginCheck(options.allowedOrigins, { requireOrigin: false })
  const allowSameSite = booleanOption(
    'allowSameSite',
    options.allowSameSite,
    DEFAULTS.allowSameSite,
  )
  const fetchSites = new Set(allowSameSite ? ['same-origin', 'same-site'] : ['same-origin'])
  const cookieName = checkName('csrfCookieName', options.csrfCookieName ?? DEFAULTS.csrfCookieName)
  const headerName = checkName('csrfHeaderName', options.csrfHeaderName ?? DEFAULTS.csrfHeaderName)
  const logger = options.logger ?? silentLogger

  // Every refusal of the endpoint: one log line with its closed reason, one telemetry event.
  const refused = (
    level: 'info' | 'warn' | 'error',
    reason: TokenRefusalReason,
    fields: Record<string, unknown>,
    msg: string,
  ): void => {
    logger[level]({ event: 'token_request_rejected', reason, ...fields }, msg)
    if (telemetry.hasSubscribers) publish({ type: 'token_refused', stage: 'issue', reason })
  }
  const reject = (reason: TokenRefusalReason, fields: Record<string, unknown> = {}): Response => {
    refused('warn', reason, fields, 'token request rejected')
    return failure(403)
  }

  return async (req) => {
    try {
      if (req.method !== 'POST') {
        refused(
          'info',
          'method_not_allowed',
          { method: logSafe(req.method, 16) },
          'token request rejected',
        )
        return failure(405, { allow: 'POST' })
      }
      // A token request needs no body; one over the limit is answered 413, not read on.
      if (!(await bodyWithin(req, DEFAULTS.tokenRequestMaxBodyBytes))) {
        refused('info', 'payload_too_large', {}, 'token request rejected')
        return failure(413)
      }
      const site = req.headers.get('sec-fetch-site')
      if (site !== null && !fetchSites.has(site)) {
        return reject('fetch_site_forbidden', { secFetchSite: logSafe(site, 32) })
      }
      const origin = req.headers.get('origin')
      if (checkOrigin !== null && origin !== null && checkOrigin(origin) !== 'ok') {
        return reject('origin_forbidden', { origin: logSafe(origin) })
      }
      const cookies = parseCookies(req.headers.get('cookie'))
      if (!csrfMatches(cookies.get(cookieName), req.headers.get(headerName))) {
        return reject('csrf_mismatch')
      }
      const identity: unknown = await authenticate(req)
      if (!isIdentity(identity)) return reject('unauthenticated')

      const issued = await tokens.issue(identity.userId, identity.sessionId)
      if (!issued.ok) {
        refused(
          'warn',
          'rate_limited',
          { userId: logSafe(identity.userId) },
          'token request rejected',
        )
        return failure(429, { 'retry-after': String(issued.retryAfterSec) })
      }
      logger.debug({ event: 'token_issued', userId: logSafe(identity.userId) }, 'token issued')
      return json(200, JSON.stringify({ token: issued.token, expires_in: issued.expiresInSec }))
    } catch (err) {
      if (isGatehouseError(err, 'ERR_STORE_UNAVAILABLE')) {
        refused('error', 'store_unavailable', { err }, 'token request failed')
        return failure(503)
      }
      // The message may carry host details; log it (with its stack), never send it.
      refused(
        'error',
        'internal_error',
        { err: err instanceof Error ? err : logSafe(err) },
        'token request failed',
      )
      return failure(500)
    }
  }
}
