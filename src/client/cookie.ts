/**
 * @module client/cookie
 * Reading one cookie (the CSRF double-submit value) without touching anything else.
 */

/**
 * The value of cookie `name` in a `document.cookie` string, or `undefined`.
 *
 * @example
 * ```ts
 * readCookie('sessionid=x; csrftoken=abc', 'csrftoken') // 'abc'
 * ```
 */
export function readCookie(cookieHeader: string, name: string): string | undefined {
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=')
    if (eq === -1) continue
    if (part.slice(0, eq).trim() !== name) continue
    const raw = part.slice(eq + 1).trim()
    try {
      return decodeURIComponent(raw)
    } catch {
      // A malformed escape is not worth a crash; the server compares the raw value anyway.
      return raw
    }
  }
  return undefined
}

/**
 * The default cookie reader: `document.cookie` in a browser, nothing elsewhere (Node, workers).
 *
 * @example
 * ```ts
 * const csrf = documentCookie('csrftoken')
 * ```
 */
export function documentCookie(name: string): string | undefined {
  const doc = (globalThis as { document?: { cookie?: unknown } }).document
  return typeof doc?.cookie === 'string' ? readCookie(doc.cookie, name) : undefined
}
