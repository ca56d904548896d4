/**
 * @module app/checks/host
 * Exact `Host` matching: the host name case-insensitively, the port exactly as written
 * (`example.com` and `example.com:443` are different values). Never a substring test.
 */
import { GatehouseError } from '../../errors.ts'

/** A compiled Host check: true when the header is one of the allowed values. */
export type HostCheck = (hostHeader: string | null | undefined) => boolean

/** `host[:port]`: DNS labels (an optional trailing dot) or a bracketed IPv6 literal. */
const HOST_VALUE = /^(?:\[[0-9a-f:.]+\]|[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?)(?::\d{1,5})?$/
const MAX_HOST_LENGTH = 300

/**
 * Compile a Host check. Entries are `host` or `host:port`, lower-cased once; an entry with a
 * scheme, path, wildcard or spaces throws `ERR_INVALID_OPTION`. An empty list allows nothing.
 *
 * @example
 * ```ts
 * const checkHost = createHostCheck(['app.example.com', '127.0.0.1:3000'])
 * checkHost('APP.example.com')      // true
 * checkHost('app.example.com:8080') // false
 * checkHost('evil.app.example.com') // false
 * ```
 */
export function createHostCheck(allowed: readonly string[]): HostCheck {
  if (!Array.isArray(allowed)) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'allowedHosts must be an array of host names')
  }
  const hosts = new Set<string>()
  for (const entry of allowed) {
    const host = typeof entry === 'string' ? entry.toLowerCase() : ''
    if (host.length > MAX_HOST_LENGTH || !HOST_VALUE.test(host)) {
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        `allowedHosts: ${JSON.stringify(entry)} is not a host like app.example.com[:port]`,
      )
    }
    hosts.add(host)
  }
  return (hostHeader) =>
    typeof hostHeader === 'string' &&
    hostHeader.length <= MAX_HOST_LENGTH &&
    hosts.has(hostHeader.toLowerCase())
}
