/**
 * @module app/checks/json
 * Parsing client messages (research/security.md §2.19). `JSON.parse` itself survives deep
 * nesting, but any later recursive step (stringify, structuredClone, logging) can throw on a
 * 10 KB message, so depth is capped by a byte scan before parsing. `__proto__` keys and
 * `constructor.prototype` pairs are dropped, so merging the result into another object can
 * never swap or poison a prototype.
 */
import { DEFAULTS } from '../../defaults.ts'
import { GatehouseError } from '../../errors.ts'

const OPEN_BRACE = 0x7b
const OPEN_BRACKET = 0x5b
const CLOSE_BRACE = 0x7d
const CLOSE_BRACKET = 0x5d
const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * True when the nesting of `[`/`{` outside strings never exceeds `maxDepth`. Malformed
 * text may pass; `JSON.parse` refuses it next. One pass, no allocation.
 *
 * @example
 * ```ts
 * withinDepth('{"a":[1]}', 2)          // true
 * withinDepth('['.repeat(5000), 32)    // false
 * ```
 */
export function withinDepth(text: string, maxDepth: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) {
      inString = true
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return false
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--
    }
  }
  return true
}

/** Drops `__proto__` keys and `constructor` objects that carry a `prototype`. */
function scrub(key: string, value: unknown): unknown {
  if (key === '__proto__') return undefined
  if (
    key === 'constructor' &&
    typeof value === 'object' &&
    value !== null &&
    Object.hasOwn(value, 'prototype')
  ) {
    return undefined
  }
  return value
}

/**
 * Only a key spelled out as `__proto__` or `constructor`, or written with `\u` escapes, can
 * produce those keys: other text skips the (slower) reviver.
 */
function mayHoldPoison(text: string): boolean {
  return text.includes('__proto__') || text.includes('constructor') || text.includes('\\u')
}

/**
 * The message as a plain object, or `null` when it is not JSON, nests deeper than
 * `maxDepth`, or is not an object (arrays, strings and numbers are `null` too). Never throws
 * for any input. Poisoning keys are removed from every level.
 * Throws `ERR_INVALID_OPTION` only for a `maxDepth` that is not a positive integer.
 *
 * @example
 * ```ts
 * parseMessage('{"action":"send_message","text":"hi"}') // { action: 'send_message', text: 'hi' }
 * parseMessage('{"__proto__":{"isAdmin":true}}')          // {}
 * parseMessage('['.repeat(5000))                          // null
 * ```
 */
export function parseMessage(
  body: string,
  maxDepth: number = DEFAULTS.maxJsonDepth,
): Record<string, unknown> | null {
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 1) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'maxJsonDepth must be a positive integer')
  }
  if (typeof body !== 'string' || !withinDepth(body, maxDepth)) return null
  let value: unknown
  try {
    value = mayHoldPoison(body) ? JSON.parse(body, scrub) : JSON.parse(body)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
  return value as Record<string, unknown>
}
