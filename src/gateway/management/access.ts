/**
 * @module gateway/management/access
 * Who may reach the management API at all, checked before anything else: the peer address
 * (an unauthenticated API answers loopback peers only, whatever socket it is mounted on),
 * the `Host` header (a page on `evil.example` whose DNS name is rebound to 127.0.0.1 sends
 * `Host: evil.example`, so a browser on this machine cannot be turned against a loopback API),
 * and the browser's own word on where a request comes from (`Origin`, `Sec-Fetch-Site`): a
 * page on any origin can send a "simple" cross-site POST to `127.0.0.1` without a preflight,
 * and an unsigned API must not act on it.
 */
import type { IncomingMessage } from 'node:http'
import { GatehouseError } from '../../errors.ts'

const V4_LOOPBACK = /^127(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
const NAME = /^[a-z0-9.-]{1,253}$/
// An IPv6 literal has at least two colons, which also tells it from `name:port`.
const V6 = /^(?=[^:]*:[^:]*:)[0-9a-f:.]{2,45}$/

/**
 * True for a loopback peer address: `127.0.0.0/8`, `::1`, or `127.x.y.z` mapped into IPv6
 * (`::ffff:127.0.0.1`). Anything else, `undefined` included, is false.
 *
 * @example
 * ```ts
 * isLoopbackAddress(req.socket.remoteAddress) // '::ffff:127.0.0.1' → true, '10.0.0.7' → false
 * ```
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false
  const a = address.toLowerCase()
  if (a === '::1') return true
  return V4_LOOPBACK.test(a.startsWith('::ffff:') ? a.slice(7) : a)
}

/** The name part of a `Host` value (`name`, `name:port`, `[v6]`, `[v6]:port`), lowercased. */
function hostName(value: string): string | null {
  const v = value.toLowerCase()
  const close = v.startsWith('[') ? v.indexOf(']') : -1
  const colon = close >= 0 ? close + 1 : v.indexOf(':')
  const name = close >= 0 ? v.slice(1, close) : colon < 0 ? v : v.slice(0, colon)
  const port = colon < 0 || colon === v.length ? '' : v.slice(colon)
  if (port !== '' && !/^:\d{1,5}$/.test(port)) return null
  if (v.startsWith('[') ? !V6.test(name) : !NAME.test(name)) return null
  return name
}

/** An `allowedHosts` entry as {@link hostName} names it: `name`, `::1` or `[::1]`, no port. */
function allowedName(entry: string): string | null {
  const e = entry.toLowerCase()
  const bracketed = e.startsWith('[') && e.endsWith(']')
  const inner = bracketed ? e.slice(1, -1) : e
  if (V6.test(inner)) return inner
  return !bracketed && NAME.test(e) ? e : null
}

/**
 * Build the `Host` check. With `allowedHosts`, only those names (or address literals; IPv6
 * with or without brackets; no port) pass. Without it: `localhost`, loopback address literals
 * and the address the request arrived on (`req.socket.localAddress`). A request with no
 * `Host`, several, or a malformed one never passes.
 *
 * @example
 * ```ts
 * const hostAllowed = createHostCheck(['gateway.internal'])
 * if (!hostAllowed(req)) return reply403()
 * ```
 */
export function createHostCheck(
  allowedHosts: readonly string[] | undefined,
): (req: IncomingMessage) => boolean {
  let allowed: ReadonlySet<string> | undefined
  if (allowedHosts !== undefined) {
    if (!Array.isArray(allowedHosts) || allowedHosts.length === 0) {
      throw new GatehouseError('ERR_INVALID_OPTION', 'allowedHosts must list at least one host.')
    }
    const names = new Set<string>()
    for (const entry of allowedHosts) {
      const name = typeof entry === 'string' ? allowedName(entry) : null
      if (name === null) {
        throw new GatehouseError(
          'ERR_INVALID_OPTION',
          `allowedHosts entries are host names or addresses without a port; got ${JSON.stringify(entry)}.`,
        )
      }
      names.add(name)
    }
    allowed = names
  }
  return (req) => {
    const values = req.headersDistinct.host
    if (values?.length !== 1) return false
    const name = hostName(values[0] as string)
    if (name === null) return false
    if (allowed) return allowed.has(name)
    if (name === 'localhost' || isLoopbackAddress(name)) return true
    const local = req.socket.localAddress?.toLowerCase()
    if (local === undefined) return false
    return name === local || (local.startsWith('::ffff:') && name === local.slice(7))
  }
}

/**
 * Build the browser-origin check. A request passes when it carries no `Origin` and no
 * `Sec-Fetch-Site` of `cross-site` or `same-site` (what servers, the SDK and curl send), or
 * when its `Origin` is one of `allowedOrigins` (exact `scheme://host[:port]`; default none).
 * Browsers send `Origin` on every POST and DELETE, so a page elsewhere is refused whatever
 * its body; `Sec-Fetch-Site` also catches the GETs a browser sends without `Origin`.
 *
 * @throws GatehouseError `ERR_INVALID_OPTION` for an entry that is not a serialised origin.
 * @example
 * ```ts
 * const originAllowed = createOriginCheck(['https://admin.example'])
 * if (!originAllowed(req)) return reply403()
 * ```
 */
export function createOriginCheck(
  allowedOrigins: readonly string[] | undefined,
): (req: IncomingMessage) => boolean {
  const allowed = new Set<string>()
  if (allowedOrigins !== undefined) {
    if (!Array.isArray(allowedOrigins)) {
      throw new GatehouseError('ERR_INVALID_OPTION', 'allowedOrigins must be an array of origins.')
    }
    for (const entry of allowedOrigins) {
      if (typeof entry !== 'string' || !isSerializedOrigin(entry)) {
        throw new GatehouseError(
          'ERR_INVALID_OPTION',
          `allowedOrigins entries are origins (scheme://host[:port]); got ${JSON.stringify(entry)}.`,
        )
      }
      allowed.add(entry)
    }
  }
  return (req) => {
    const origins = req.headersDistinct.origin
    if (origins !== undefined) {
      // Several Origin headers, or one that is not listed: refused. Listed: the caller chose it.
      return origins.length === 1 && allowed.has(origins[0] as string)
    }
    const site = req.headers['sec-fetch-site']
    return site !== 'cross-site' && site !== 'same-site'
  }
}

function isSerializedOrigin(value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value
  } catch {
    return false
  }
}

/** Body types an unsigned call may send: none of them is one a page can send without a preflight. */
const UNSIGNED_BODY_TYPES: ReadonlySet<string> = new Set([
  'application/json',
  'application/octet-stream',
])

/**
 * True when an unsigned request's `Content-Type` is `application/json` or
 * `application/octet-stream` (parameters such as `charset` allowed). A browser sends a
 * cross-site POST without a preflight only as `text/plain`, a form type or no type at all,
 * so requiring one of these two refuses those even from a browser that sends no `Origin`.
 *
 * @example
 * ```ts
 * isUnsignedBodyType(req) // 'application/octet-stream' → true, 'text/plain' → false
 * ```
 */
export function isUnsignedBodyType(req: IncomingMessage): boolean {
  const value = req.headers['content-type']
  if (typeof value !== 'string') return false
  const media = (value.split(';')[0] ?? '').trim().toLowerCase()
  return UNSIGNED_BODY_TYPES.has(media)
}
