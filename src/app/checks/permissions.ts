/**
 * @module app/checks/permissions
 * Permission rules with both lists enforced together (upstream's `if … elif` ignored the
 * any-of list whenever an all-of list was set; research/security.md §1).
 */
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
