/**
 * @module http/cookies
 * A small, bounded `Cookie` header parser. The result is a `Map`, so names such as
 * `__proto__` or `constructor` are plain keys and can never touch a prototype.
 */
import { HTTP_TOKEN } from '../events/headers.ts'

/** Longer `Cookie` headers are refused outright (Node's whole-header limit is 16 KiB). */
export const MAX_COOKIE_HEADER_LENGTH = 16_384
/** Pairs read from one header; later pairs are ignored. */
export const MAX_COOKIE_PAIRS = 128

/**
 * The cookies of a `Cookie` header, by name. Bounds: a header longer than
 * {@link MAX_COOKIE_HEADER_LENGTH} yields an empty map (fail closed: no session, no CSRF
 * cookie), and only the first {@link MAX_COOKIE_PAIRS} pairs are read. Names that are not
 * RFC 6265 tokens are skipped. When a name repeats, the first value wins (browsers send the
 * most specific path first). Values are trimmed and unquoted but not percent-decoded.
 *
 * @example
 * ```ts
 * const cookies = parseCookies(req.headers.get('cookie'))
 * cookies.get('csrftoken') // 'kq3v…' or undefined
 * ```
 */
export function parseCookies(header: string | null | undefined): Map<string, string> {
  const cookies = new Map<string, string>()
  if (typeof header !== 'string' || header.length > MAX_COOKIE_HEADER_LENGTH) return cookies
  let pairs = 0
  let start = 0
  while (start <= header.length && pairs < MAX_COOKIE_PAIRS) {
    let end = header.indexOf(';', start)
    if (end === -1) end = header.length
    const pair = header.slice(start, end)
    start = end + 1
    const eq = pair.indexOf('=')
    if (eq === -1) continue
    pairs++
    const name = pair.slice(0, eq).trim()
    if (!HTTP_TOKEN.test(name) || cookies.has(name)) continue
    let value = pair.slice(eq + 1).trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1)
    }
    cookies.set(name, value)
  }
  return cookies
}
