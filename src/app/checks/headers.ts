/**
 * @module app/checks/headers
 * Headers a `$connect` must carry. Lookups use own properties only, so a required name such
 * as `constructor` is never satisfied by `Object.prototype`.
 */
import { GatehouseError } from '../../errors.ts'
import { HTTP_TOKEN } from '../../events/headers.ts'

/** A compiled required-headers check: the first missing name, or `null` when all are there. */
export type RequiredHeadersCheck = (headers: Readonly<Record<string, string>>) => string | null

/**
 * Compile a required-headers check. Names are lower-cased once (event headers are
 * lower-case) and must be valid header names, else `ERR_INVALID_OPTION`. A header counts as
 * present when it is an own property holding a non-empty string.
 *
 * @example
 * ```ts
 * const missing = createRequiredHeadersCheck(['user-agent', 'x-app-version'])
 * missing({ 'user-agent': 'x' }) // 'x-app-version'
 * missing({ 'user-agent': 'x', 'x-app-version': '3' }) // null
 * ```
 */
export function createRequiredHeadersCheck(required: readonly string[]): RequiredHeadersCheck {
  if (!Array.isArray(required)) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'requiredHeaders must be an array of names')
  }
  const names = required.map((entry) => {
    const name = typeof entry === 'string' ? entry.toLowerCase() : ''
    if (!HTTP_TOKEN.test(name)) {
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        `requiredHeaders: ${JSON.stringify(entry)} is not a header name`,
      )
    }
    return name
  })
  return (headers) => {
    for (const name of names) {
      const value: unknown = Object.hasOwn(headers, name) ? headers[name] : undefined
      if (typeof value !== 'string' || value.length === 0) return name
    }
    return null
  }
}
