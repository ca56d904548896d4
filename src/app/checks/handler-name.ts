/**
 * @module app/checks/handler-name
 * Handler names come from the client (`action` in the message body). Only strings of the
 * registry's pattern are names at all; `["send"]` (which `String()` turns into `send`), numbers
 * and objects are not. Being a name says nothing about being registered: lookups go through
 * a `Map`, so `constructor` or `toString` are simply unknown.
 */
import { DEFAULTS } from '../../defaults.ts'
import { matchesBounded } from './pattern.ts'

/** Longest handler name (the default pattern allows 64). */
const MAX_HANDLER_NAME_LENGTH = 64

/**
 * True when `value` is a string matching `pattern` (default `^[A-Za-z][A-Za-z0-9_]{0,63}$`).
 *
 * @example
 * ```ts
 * isHandlerName('send_message')   // true
 * isHandlerName('__proto__')      // false
 * isHandlerName(['send_message']) // false
 * ```
 */
export function isHandlerName(
  value: unknown,
  pattern: RegExp = DEFAULTS.handlerNamePattern,
): value is string {
  return matchesBounded(value, pattern, MAX_HANDLER_NAME_LENGTH)
}
