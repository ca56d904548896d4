/**
 * @module gateway/management/access
 * Who may reach the management API at all, checked before anything else: the peer address
 * (an unauthenticated API answers loopback peers only, whatever socket it is mounted on) and
 * the `Host` header (a page on `evil.example` whose DNS name is rebound to 127.0.0.1 sends
 * `Host: evil.example`, so a browser on this machine cannot be turned against a loopback API).
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
