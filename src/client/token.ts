/**
 * @module client/token
 * One POST to the token endpoint, read as an outcome the reconnect loop can act on:
 * a token, an authentication failure (stop), or "retry, perhaps not before N ms".
 */

/**
 * What one token request came to.
 *
 * @example
 * ```ts
 * const out: TokenOutcome = await requestToken(req)
 * if (out.kind === 'auth') stopForGood()
 * ```
 */
export type TokenOutcome =
  | { kind: 'token'; token: string }
  /** 401/403: the session is gone or CSRF failed. Retrying cannot help. */
  | { kind: 'auth'; status?: number }
  /** Anything else: try again later, not before `retryAfterMs` when the server said so. */
  | { kind: 'retry'; status?: number; retryAfterMs?: number; cause?: unknown }

/**
 * What {@link requestToken} needs.
 *
 * @example
 * ```ts
 * const req: TokenRequest = { url: '/api/ws-token/', fetch: (u, i) => fetch(u, i),
 *   csrfHeaderName: 'X-CSRFToken', csrfToken: 'abc', signal: AbortSignal.timeout(10_000), now: Date.now() }
 * ```
 */
export interface TokenRequest {
  /** The token endpoint, e.g. `/api/ws-token/`. */
  url: string
  /** A `fetch` callable as a plain function. */
  fetch: (url: string, init: RequestInit) => Promise<Response>
  /** The CSRF header to send, when the cookie holds a value. */
  csrfHeaderName: string
  csrfToken: string | undefined
  /** Aborts the request (connect timeout, `close()`). */
  signal: AbortSignal
  /** Current time in epoch ms, to read an HTTP-date `Retry-After`. */
  now: number
}

/**
 * Tokens are base64url (32 random bytes) or a JWT. Only those characters are accepted, since a
 * token also travels as a `Sec-WebSocket-Protocol` entry, where separators are not allowed.
 *
 * @example
 * ```ts
 * TOKEN_PATTERN.test('q1w2-e3_r4') // true
 * ```
 */
export const TOKEN_PATTERN: RegExp = /^[A-Za-z0-9._~-]{1,2048}$/

/**
 * POSTs to the token endpoint with the session cookie (`credentials: 'same-origin'`) and the
 * CSRF header, and classifies the answer. Never throws: network errors become `retry`.
 *
 * @example
 * ```ts
 * const out = await requestToken({
 *   url: '/api/ws-token/', fetch: (u, i) => fetch(u, i), csrfHeaderName: 'X-CSRFToken',
 *   csrfToken: readCookie(document.cookie, 'csrftoken'), signal: AbortSignal.timeout(10_000),
 *   now: Date.now(),
 * })
 * if (out.kind === 'token') connectWith(out.token)
 * ```
 */
export async function requestToken(req: TokenRequest): Promise<TokenOutcome> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (req.csrfToken !== undefined && req.csrfToken !== '') {
    headers[req.csrfHeaderName] = req.csrfToken
  }
  let res: Response
  try {
    res = await req.fetch(req.url, {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers,
      signal: req.signal,
    })
  } catch (cause) {
    return { kind: 'retry', cause }
  }
  if (res.status === 401 || res.status === 403) {
    await discard(res)
    return { kind: 'auth', status: res.status }
  }
  if (res.status !== 200) {
    await discard(res)
    const retryAfterMs =
      res.status === 429 || res.status === 503
        ? parseRetryAfterMs(res.headers.get('retry-after'), req.now)
        : undefined
    return retryAfterMs === undefined
      ? { kind: 'retry', status: res.status }
      : { kind: 'retry', status: res.status, retryAfterMs }
  }
  let body: unknown
  try {
    body = await res.json()
  } catch (cause) {
    return { kind: 'retry', status: res.status, cause }
  }
  const token = (body as { token?: unknown } | null)?.token
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
    return { kind: 'retry', status: res.status, cause: new Error('malformed token response') }
  }
  return { kind: 'token', token }
}

/**
 * Reads `Retry-After` (delta seconds or an HTTP date) as milliseconds from `now`.
 * `undefined` when absent or unreadable; never negative.
 *
 * @example
 * ```ts
 * parseRetryAfterMs('7', Date.now()) // 7000
 * ```
 */
export function parseRetryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined
  const v = value.trim()
  if (/^\d{1,10}$/.test(v)) return Number(v) * 1000
  // Only the IMF-fixdate form (RFC 9110): `Date.parse` alone accepts far too much ("-5").
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(v)) return undefined
  const at = Date.parse(v)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - now)
}

async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel()
  } catch {
    // Nothing to free: the body was already consumed or the stream errored.
  }
}
