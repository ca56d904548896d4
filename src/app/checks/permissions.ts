/**
 * @module app/checks/permissions
 * Permission rules with both lists enforced together (upstream's `if … elif` ignored the
 * any-of list whenever an all-of list was set; research/security.md §1).
 */
import { invalidOption, readOptions, stringArrayOption } from '../../util/options.ts'
import type { PermissionRule } from '../types.ts'

/**
 * True when the user satisfies `rule`: at least one of `anyOf` (an empty or absent list is no
 * requirement) and every one of `allOf`. No rule allows everyone. Anything that is neither
 * a Set nor an array of permissions counts as no permissions (fail closed).
 *
 * @example
 * ```ts
 * hasPermissions(['chat.use'], { anyOf: ['chat.use', 'chat.admin'] })         // true
 * hasPermissions(['chat.use'], { anyOf: ['chat.use'], allOf: ['chat.admin'] }) // false
 * hasPermissions([], undefined)                                                // true
 * ```
 */
export function hasPermissions(
  userPerms: ReadonlySet<string> | readonly string[],
  rule: PermissionRule | undefined,
): boolean {
  if (rule === undefined || rule === null) return true
  const has = toLookup(userPerms)
  const anyOf: unknown = rule.anyOf ?? []
  const allOf: unknown = rule.allOf ?? []
  // A malformed rule (a string instead of a list) denies rather than half-applies.
  if (!Array.isArray(anyOf) || !Array.isArray(allOf)) return false
  if (anyOf.length > 0 && !anyOf.some(has)) return false
  return allOf.every(has)
}

function toLookup(perms: ReadonlySet<string> | readonly string[]): (name: unknown) => boolean {
  if (perms instanceof Set) return (name) => typeof name === 'string' && perms.has(name)
  if (Array.isArray(perms)) {
    const set = new Set<unknown>(perms)
    return (name) => typeof name === 'string' && set.has(name)
  }
  return () => false
}

/** Longest permission name a rule may hold. */
const MAX_PERMISSION_LENGTH = 256
const PERMISSION_NAME = {
  test: (name: string) => name.length > 0 && name.length <= MAX_PERMISSION_LENGTH,
  expected: `a permission name (1 to ${MAX_PERMISSION_LENGTH} characters)`,
}

/**
 * Check a permission rule from the options and return a frozen copy, so the caller's object
 * and arrays are never read again. Refused with `ERR_INVALID_OPTION` naming `key`: anything
 * but an object with `anyOf` and/or `allOf` (a list such as `['chat.use']`, a typo such as
 * `anyof`, a string), a list that is not an array of non-empty strings, an empty list
 * (`anyOf: []` reads both as "no requirement" and as "nobody"), and a rule with no list at
 * all. Before this check, each of those let a user with no permissions through.
 *
 * @example
 * ```ts
 * compilePermissionRule({ anyOf: ['chat.use'] }, 'permissions') // { anyOf: ['chat.use'] } (frozen)
 * compilePermissionRule({ anyof: ['chat.use'] }, 'permissions') // throws: unknown `permissions.anyof`
 * compilePermissionRule(undefined, 'permissions')               // undefined
 * ```
 */
export function compilePermissionRule(value: unknown, key: string): PermissionRule | undefined {
  if (value === undefined) return undefined
  if (Array.isArray(value)) {
    invalidOption(key, 'an object { anyOf?: [...], allOf?: [...] }, not a list', value)
  }
  const o = readOptions(key, value, ['anyOf', 'allOf'])
  const rule: { anyOf?: readonly string[]; allOf?: readonly string[] } = {}
  for (const list of ['anyOf', 'allOf'] as const) {
    if (o[list] === undefined) continue
    const names = stringArrayOption(`${key}.${list}`, o[list], undefined, PERMISSION_NAME)!
    if (names.length === 0) {
      invalidOption(`${key}.${list}`, 'a non-empty list (omit it for no requirement)')
    }
    rule[list] = names
  }
  if (rule.anyOf === undefined && rule.allOf === undefined) {
    invalidOption(key, 'a rule with `anyOf` or `allOf` (omit `permissions` for no requirement)')
  }
  return Object.freeze(rule)
}
