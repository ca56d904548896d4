/**
 * @module app/checks/connection-id
 * Connection ids address pushes and sessions; one that does not look like an id the gateway
 * issues is refused before any store work.
 */
import { DEFAULTS } from '../../defaults.ts'
import { matchesBounded } from './pattern.ts'

/** Longest connection id accepted. */
export const MAX_CONNECTION_ID_LENGTH = 128

/**
 * True when `value` is a string of at most 128 characters matching `pattern`
 * (default `^[A-Za-z0-9_=-]{1,128}$`, the URL-safe base64 AWS issues).
 *
 * @example
 * ```ts
 * isValidConnectionId('R1kmxc2VNjMCFIA=') // true
 * isValidConnectionId('abc=\n')           // false
 * ```
 */
export function isValidConnectionId(
  value: unknown,
  pattern: RegExp = DEFAULTS.connectionIdPattern,
): value is string {
  return matchesBounded(value, pattern, MAX_CONNECTION_ID_LENGTH)
}
