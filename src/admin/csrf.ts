/**
 * @module admin/csrf
 * The admin page's CSRF defence for its actions: a signed double-submit token. The page sets
 * a `SameSite=Strict`, `HttpOnly` cookie holding `nonce.signature` and puts the same value in
 * each form; an action is accepted only when the form field equals the cookie and the
 * signature (HMAC-SHA-256 under a per-handler secret) is valid, so a cookie planted by a
 * sibling subdomain is worthless too. Cross-site `Sec-Fetch-Site` and foreign `Origin` are
 * refused before that (see admin/handler.ts).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { parseCookies } from '../http/cookies.ts'

/** The cookie that carries the token. `__Host-` is not used: the demo runs on plain http. */
export const ADMIN_CSRF_COOKIE = 'gatehouse_admin_csrf'

/** Make and check tokens under one secret. */
export interface AdminCsrf {
  /** The token of this page: the cookie's when it is valid, else a new one. */
  tokenFor(cookieHeader: string | null): { token: string; fresh: boolean }
  /** True when the form's token equals the cookie's and is signed by this handler. */
  verify(cookieHeader: string | null, formToken: string | null): boolean
}

/**
 * Build the CSRF token maker of one admin handler.
 *
 * @example
 * ```ts
 * const csrf = createAdminCsrf(randomBytes(32))
 * const { token } = csrf.tokenFor(request.headers.get('cookie'))
 * csrf.verify(request.headers.get('cookie'), form.get('csrf')) // true for the same page
 * ```
 */
export function createAdminCsrf(secret: Uint8Array): AdminCsrf {
  const sign = (nonce: string): string =>
    createHmac('sha256', secret).update(nonce).digest('base64url')
  const valid = (token: string | undefined | null): token is string => {
    if (typeof token !== 'string' || token.length > 128) return false
    const dot = token.indexOf('.')
    if (dot <= 0) return false
    return same(token.slice(dot + 1), sign(token.slice(0, dot)))
  }
  return {
    tokenFor(cookieHeader) {
      const current = parseCookies(cookieHeader).get(ADMIN_CSRF_COOKIE)
      if (valid(current)) return { token: current, fresh: false }
      const nonce = randomBytes(18).toString('base64url')
      return { token: `${nonce}.${sign(nonce)}`, fresh: true }
    },
    verify(cookieHeader, formToken) {
      const cookie = parseCookies(cookieHeader).get(ADMIN_CSRF_COOKIE)
      return valid(cookie) && typeof formToken === 'string' && same(cookie, formToken)
    },
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
