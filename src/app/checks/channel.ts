/**
 * @module app/checks/channel
 * Channel names flow into SQL rows, Redis keys and logs, so they are validated at connect
 * and at every channel change (research/security.md §2.17).
 *
 * `__proto__`, `constructor` and the like match the default pattern and are accepted as
 * ordinary names: Gatehouse never uses a channel name as an object key (Maps, SQL
 * parameters and namespaced store keys only), so they are as harmless as `lobby`.
 */
import { DEFAULTS } from '../../defaults.ts'
import { matchesBounded } from './pattern.ts'

/** Longest channel name, whatever the pattern allows (the stores' column width). */
export const MAX_CHANNEL_LENGTH = 128

/**
 * True when `value` is a string of at most 128 characters matching `pattern`
 * (default `^[A-Za-z0-9_-]{1,128}$`: ASCII only, so `rооm` with Cyrillic `о` fails, and
 * `room\n` fails because the pattern may not carry the `m` flag).
 * Throws `ERR_INVALID_OPTION` for an unanchored pattern or one with the `m`, `g` or `y` flag.
 *
 * @example
 * ```ts
 * isValidChannel('lobby')  // true
 * isValidChannel('../x')   // false
 * isValidChannel(['lobby'])// false
 * ```
 */
export function isValidChannel(
  value: unknown,
  pattern: RegExp = DEFAULTS.channelPattern,
): value is string {
  return matchesBounded(value, pattern, MAX_CHANNEL_LENGTH)
}
