/**
 * @module http/origin
 * The Origin check against Cross-Site WebSocket Hijacking (research/security.md §2.1):
 * an exact match of the serialized origin (scheme, host, port) against an allowlist.
 * Never a substring test: `https://app.example.com.evil.test` is a different origin.
 */
import { GatehouseError } from '../errors.ts'

/**
 * - `ok`: the header names an allowed origin.
 * - `missing-ok`: no `Origin` header (a non-browser client) and Origin is not required;
 *   the token still has to authenticate it.
 * - `missing`: no `Origin` header, and Origin is required (`requireOrigin`).
 * - `forbidden`: anything else.
 */
export type OriginVerdict = 'ok' | 'missing-ok' | 'missing' | 'forbidden'

/** A compiled Origin check. */
export type OriginCheck = (originHeader: string | null | undefined) => OriginVerdict

/** Options of {@link createOriginCheck}. */
export interface OriginCheckOptions {
  /** Refuse requests without `Origin` (only browsers get through). Default false. */
  readonly requireOrigin?: boolean | undefined
}

/**
 * The only shape a serialized origin has: scheme `://` host [`:` port], nothing else.
 * No userinfo (`@`), path, query, fragment, backslash, comma (two headers joined) or space.
 */
const ORIGIN_SHAPE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@\\\s,]+$/
/** Host names an allowlist may hold: DNS labels (punycode) or a bracketed IPv6 literal. */
const ALLOWED_HOST = /^(?:\[[0-9a-f:.]+\]|[a-z0-9_-]+(?:\.[a-z0-9_-]+)*)$/
/** Longer `Origin` values are refused before any parsing. */
const MAX_ORIGIN_LENGTH = 2048

/** The serialized origin of `value`, or `null` when `value` is not exactly an origin. */
function parseOrigin(value: string): string | null {
  if (value.length > MAX_ORIGIN_LENGTH || !ORIGIN_SHAPE.test(value)) return null
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return null
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null
  if (url.username !== '' || url.password !== '') return null
  return url.origin
}

function normalizeAllowed(entry: unknown): string {
  const origin = typeof entry === 'string' ? parseOrigin(entry) : null
  if (origin === null || !ALLOWED_HOST.test(new URL(origin).hostname)) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      `allowedOrigins: ${JSON.stringify(entry)} is not an origin like https://app.example.com`,
    )
  }
  return origin
}

/**
 * Compile an Origin check. `allowed` entries are origins such as `https://app.example.com`
 * or `http://127.0.0.1:3000`, normalised once (case, default port); an entry with a path,
 * userinfo, wildcard or another scheme throws `ERR_INVALID_OPTION` here, not at request time.
 *
 * At request time the header must itself be a plain origin (no path, userinfo, spaces or
 * commas — two `Origin` headers arrive joined by `", "`); `null` and unparseable values
 * are forbidden. An empty allowlist forbids every browser.
 *
 * @example
 * ```ts
 * const checkOrigin = createOriginCheck(['https://app.example.com'], { requireOrigin: false })
 * checkOrigin('https://app.example.com')          // 'ok'
 * checkOrigin('https://app.example.com.evil.test') // 'forbidden'
 * checkOrigin(undefined)                            // 'missing-ok'
 * ```
 */
export function createOriginCheck(
  allowed: readonly string[],
  options: OriginCheckOptions = {},
): OriginCheck {
  if (!Array.isArray(allowed)) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'allowedOrigins must be an array of origins')
  }
  const origins = new Set<string>(allowed.map(normalizeAllowed))
  const requireOrigin = options.requireOrigin === true
  return (originHeader) => {
    if (originHeader === undefined || originHeader === null) {
      return requireOrigin ? 'missing' : 'missing-ok'
    }
    if (typeof originHeader !== 'string') return 'forbidden'
    const origin = parseOrigin(originHeader)
    return origin !== null && origins.has(origin) ? 'ok' : 'forbidden'
  }
}
