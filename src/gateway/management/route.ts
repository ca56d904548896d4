/**
 * @module gateway/management/route
 * Map a raw request path onto the `@connections` API: `/{stage}/@connections/{id}` (one
 * connection) or `/{stage}/@connections` (the fan-out extension). SDKs percent-encode the id
 * (`=` → `%3D`) and some clients send `@` as `%40`, so each segment is decoded exactly once.
 * Anything else is forbidden, as on AWS.
 */
import { DEFAULTS } from '../../defaults.ts'

/** What a management path addresses. */
export type ManagementRoute =
  | { readonly kind: 'connection'; readonly id: string; readonly idValid: boolean }
  | { readonly kind: 'fanout' }
  | { readonly kind: 'forbidden' }

const FORBIDDEN: ManagementRoute = { kind: 'forbidden' }

/**
 * Split a request target into its raw path and raw query (both still percent-encoded).
 *
 * @example
 * ```ts
 * splitTarget('/production/@connections/a%3D?x=1') // ['/production/@connections/a%3D', 'x=1']
 * ```
 */
export function splitTarget(target: string): [path: string, query: string] {
  const q = target.indexOf('?')
  return q < 0 ? [target, ''] : [target.slice(0, q), target.slice(q + 1)]
}

/**
 * Parse a raw (encoded) path for the given stage. An id that cannot be a connection id is
 * reported with `idValid: false`, so the caller answers 410 without a lookup.
 *
 * @example
 * ```ts
 * parseManagementPath('/production/%40connections/R1kmxc2VNjMCFIA%3D', 'production')
 * // { kind: 'connection', id: 'R1kmxc2VNjMCFIA=', idValid: true }
 * parseManagementPath('/dev/@connections/x', 'production') // { kind: 'forbidden' }
 * ```
 */
export function parseManagementPath(rawPath: string, stage: string): ManagementRoute {
  if (!rawPath.startsWith('/')) return FORBIDDEN
  const raw = rawPath.slice(1).split('/')
  if (raw.length < 2 || raw.length > 3) return FORBIDDEN
  const segments: string[] = []
  for (const segment of raw) {
    try {
      segments.push(decodeURIComponent(segment))
    } catch {
      return FORBIDDEN
    }
  }
  if (segments[0] !== stage || segments[1] !== '@connections') return FORBIDDEN
  if (segments.length === 2) return { kind: 'fanout' }
  const id = segments[2] as string
  return { kind: 'connection', id, idValid: DEFAULTS.connectionIdPattern.test(id) }
}
