/**
 * @module util/options
 * The checks behind every option, so each part rejects bad values the same way and with the
 * same message shape: the key (with its path, e.g. `handlers.kick.permissions.anyOf`) and
 * what was expected. Options are read once into a private copy; nothing here keeps a
 * reference to the caller's object or arrays.
 */
import { GatehouseError } from '../errors.ts'

/**
 * `value` when it is a safe integer ≥ `min`, else a `GatehouseError('ERR_INVALID_OPTION')`
 * naming the option.
 *
 * @example
 * ```ts
 * const ttlMs = positiveInt('ttlMs', options.ttlMs ?? 60_000, 1000)
 * ```
 */
export function positiveInt(name: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      `\`${name}\` must be an integer ≥ ${min}; got ${describe(value)}.`,
    )
  }
  return value
}

/**
 * A short, safe description of a value for an error message (never its full content:
 * options can hold secrets).
 *
 * @example
 * ```ts
 * describe('yes') // 'a string'
 * describe([1])   // 'an array'
 * ```
 */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'undefined') {
    return String(value)
  }
  if (typeof value === 'object') return 'an object'
  return `a ${typeof value}`
}

/**
 * Throw `ERR_INVALID_OPTION` naming `key`: `` `key` must be <expected>; got <what>. ``
 *
 * @example
 * ```ts
 * if (typeof v !== 'boolean') invalidOption('useToken', 'a boolean', v)
 * ```
 */
export function invalidOption(key: string, expected: string, ...got: unknown[]): never {
  const suffix = got.length > 0 ? `; got ${describe(got[0])}` : ''
  throw new GatehouseError('ERR_INVALID_OPTION', `\`${key}\` must be ${expected}${suffix}.`)
}

/**
 * True for an object that is not an array, a function, a class instance with exotic
 * behaviour, or `null`: what an options bag (or a nested rule) must be.
 *
 * @example
 * ```ts
 * isRecord({ anyOf: ['x'] }) // true
 * isRecord(['x'])            // false
 * ```
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * A snapshot of an options object with a fixed shape: its own enumerable keys, each read
 * exactly once (a getter cannot answer differently later), into a null-prototype copy.
 * An unknown key (a typo such as `allowedOrigin`) throws `ERR_INVALID_OPTION` naming it.
 *
 * @example
 * ```ts
 * const o = readOptions('permissions', value, ['anyOf', 'allOf'])
 * o.anyOf // read once; the caller's object is not consulted again
 * ```
 */
export function readOptions<K extends string>(
  where: string,
  value: unknown,
  known: readonly K[],
): Partial<Record<K, unknown>> {
  if (!isRecord(value)) invalidOption(where === '' ? 'options' : where, 'an object', value)
  const allowed: ReadonlySet<string> = new Set(known)
  const copy = Object.create(null) as Record<string, unknown>
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        `Unknown option \`${where === '' ? key : `${where}.${key}`}\`; known: ${known.join(', ')}.`,
      )
    }
    copy[key] = value[key]
  }
  return copy as Partial<Record<K, unknown>>
}

/**
 * `value` as a boolean, `fallback` when undefined; anything else (`'yes'`, `1`) throws.
 *
 * @example
 * ```ts
 * const useToken = booleanOption('useToken', o.useToken, true)
 * ```
 */
export function booleanOption(key: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') invalidOption(key, 'true or false', value)
  return value
}

/**
 * `value` as a function, or `undefined` when absent; anything else throws.
 *
 * @example
 * ```ts
 * const loadUser = functionOption('loadUser', o.loadUser)
 * ```
 */
export function functionOption<F extends (...args: never[]) => unknown>(
  key: string,
  value: unknown,
): F | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'function') invalidOption(key, 'a function', value)
  return value as F
}

/**
 * What each entry of a string-array option must be.
 *
 * @example
 * ```ts
 * const rule: EntryRule = { test: (s) => s.length > 0, expected: 'a non-empty name' }
 * stringArrayOption('names', ['a', ''], [], rule) // throws: `names[1]` must be a non-empty name
 * ```
 */
export interface EntryRule {
  readonly test: (entry: string) => boolean
  /** For the message, e.g. `a non-empty permission name`. */
  readonly expected: string
}

const ANY_STRING: EntryRule = { test: () => true, expected: 'a string' }

/**
 * A frozen copy of an array of strings, each checked by `entry`; `fallback` when undefined.
 * The copy is taken by index, so the caller's array (or a later `push`/`splice` on it) is
 * never consulted again.
 *
 * @example
 * ```ts
 * const origins = stringArrayOption('allowedOrigins', o.allowedOrigins, [])
 * ```
 */
export function stringArrayOption(
  key: string,
  value: unknown,
  fallback: readonly string[] | undefined,
  entry: EntryRule = ANY_STRING,
): readonly string[] | undefined {
  if (value === undefined) return fallback === undefined ? undefined : Object.freeze([...fallback])
  if (!Array.isArray(value)) invalidOption(key, `an array (each ${entry.expected})`, value)
  const copy: string[] = []
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i]
    if (typeof item !== 'string' || !entry.test(item)) {
      invalidOption(`${key}[${i}]`, entry.expected, item)
    }
    copy.push(item)
  }
  return Object.freeze(copy)
}

/**
 * `value` as a string matching `pattern`, `fallback` when undefined; anything else throws.
 *
 * @example
 * ```ts
 * const appId = patternOption('appId', o.appId, 'default', /^[A-Za-z0-9._:-]{1,64}$/)
 * ```
 */
export function patternOption(
  key: string,
  value: unknown,
  fallback: string,
  pattern: RegExp,
): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !pattern.test(value)) {
    invalidOption(key, `a string matching ${String(pattern)}`, value)
  }
  return value
}
