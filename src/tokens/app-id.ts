/**
 * @module tokens/app-id
 * The app id: the audience a token is bound to. Every token records the id of the app that
 * issued it, and only an app with that id uses it, so several apps (views) on one store never
 * accept each other's tokens. The id is stored in every token row and compared as an exact
 * string, so it is kept short and plain.
 */
import { GatehouseError } from '../errors.ts'
import { describe } from '../util/options.ts'

/**
 * What an app id may be: 1 to 64 letters, digits, `.`, `_`, `:` or `-`.
 *
 * @example
 * ```ts
 * APP_ID_PATTERN.test('chat.v2') // true
 * APP_ID_PATTERN.test('chat room') // false
 * ```
 */
export const APP_ID_PATTERN: RegExp = /^[A-Za-z0-9._:-]{1,64}$/

/**
 * `value` when it is a valid app id, else a `GatehouseError('ERR_INVALID_OPTION')` naming the
 * option. Run once, when an app or a token service is built.
 *
 * @example
 * ```ts
 * const appId = checkAppId('appId', options.appId ?? DEFAULTS.appId)
 * ```
 */
export function checkAppId(name: string, value: unknown): string {
  // The length test first, so a huge string is never scanned by the regex.
  if (typeof value !== 'string' || value.length > 64 || !APP_ID_PATTERN.test(value)) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      `\`${name}\` must match ${String(APP_ID_PATTERN)}; got ${
        // Never String() an arbitrary value: a null-prototype object makes it throw.
        typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : describe(value)
      }.`,
    )
  }
  return value
}
