/**
 * @module app/checks/pattern
 * Bounded, anchored pattern matching for names that come from clients (channels, handler
 * names). The length test runs before the regex, and patterns that would make
 * `test()` lie are refused: `m` (then `$` matches before a newline, so `room\n` would pass),
 * `g`/`y` (then `test()` keeps state in `lastIndex` between calls) and unanchored sources.
 */
import { GatehouseError } from '../../errors.ts'

const checked = new WeakSet<RegExp>()

/**
 * Throw `ERR_INVALID_OPTION` unless `pattern` is anchored (`^…$`) and has none of the
 * flags `m`, `g`, `y`. Cheap to call repeatedly: a pattern is inspected once.
 *
 * @example
 * ```ts
 * assertSafePattern(/^[a-z]+$/)   // ok
 * assertSafePattern(/^[a-z]+$/m)  // throws ERR_INVALID_OPTION
 * ```
 */
export function assertSafePattern(pattern: RegExp, option = 'pattern'): void {
  if (checked.has(pattern)) return
  if (!(pattern instanceof RegExp)) {
    throw new GatehouseError('ERR_INVALID_OPTION', `${option} must be a RegExp`)
  }
  const { source } = pattern
  const anchored = source.startsWith('^') && source.endsWith('$') && !source.endsWith('\\$')
  if (pattern.multiline || pattern.global || pattern.sticky || !anchored) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      `${option} must be anchored with ^…$ and must not use the m, g or y flags`,
    )
  }
  checked.add(pattern)
}

/**
 * True when `value` is a string of at most `maxLength` characters that `pattern` matches.
 *
 * @example
 * ```ts
 * matchesBounded('room-1', /^[a-z0-9-]+$/, 128) // true
 * matchesBounded(['room'], /^[a-z]+$/, 128)     // false: not a string
 * ```
 */
export function matchesBounded(
  value: unknown,
  pattern: RegExp,
  maxLength: number,
): value is string {
  assertSafePattern(pattern)
  return typeof value === 'string' && value.length <= maxLength && pattern.test(value)
}
