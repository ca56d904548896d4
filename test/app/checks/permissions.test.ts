import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { hasPermissions } from '../../../src/app/checks/permissions.ts'
import type { PermissionRule } from '../../../src/app/types.ts'

test('permissions: no rule allows; anyOf needs one; allOf needs all', () => {
  assert.equal(hasPermissions([], undefined), true)
  assert.equal(hasPermissions([], {}), true)
  assert.equal(hasPermissions(['a'], { anyOf: ['a', 'b'] }), true)
  assert.equal(hasPermissions(['c'], { anyOf: ['a', 'b'] }), false)
  assert.equal(hasPermissions(['a', 'b'], { allOf: ['a', 'b'] }), true)
  assert.equal(hasPermissions(['a'], { allOf: ['a', 'b'] }), false)
  assert.equal(hasPermissions(new Set(['a', 'b']), { allOf: ['a', 'b'] }), true)
})

test('permissions: both lists are enforced when both are set', () => {
  assert.equal(hasPermissions(['x', 'a'], { anyOf: ['x', 'y'], allOf: ['a'] }), true)
  // upstream ignored anyOf when allOf was set: this must be false
  assert.equal(hasPermissions(['a'], { anyOf: ['x', 'y'], allOf: ['a'] }), false)
  assert.equal(hasPermissions(['x'], { anyOf: ['x', 'y'], allOf: ['a'] }), false)
})

test('permissions: an empty anyOf list is no requirement', () => {
  assert.equal(hasPermissions([], { anyOf: [] }), true)
  assert.equal(hasPermissions([], { anyOf: [], allOf: ['a'] }), false)
})

test('permissions: malformed inputs fail closed', () => {
  assert.equal(hasPermissions('chat.use' as unknown as string[], { anyOf: ['chat.use'] }), false)
  assert.equal(
    hasPermissions(['chat.use'], { anyOf: 'chat.use' } as unknown as PermissionRule),
    false,
  )
  assert.equal(hasPermissions(['chat.use'], { allOf: 'x' } as unknown as PermissionRule), false)
  assert.equal(hasPermissions(['toString'], { anyOf: ['constructor'] }), false)
  assert.equal(hasPermissions([], { anyOf: ['hasOwnProperty'] }), false)
})

test('permissions: property — matches a reference model', () => {
  const perm = fc.constantFrom('a', 'b', 'c', 'd', 'constructor', '__proto__')
  const list = fc.array(perm, { maxLength: 4 })
  const rule = fc.option(fc.record({ anyOf: list, allOf: list }, { requiredKeys: [] }), {
    nil: undefined,
  })
  fc.assert(
    fc.property(list, fc.boolean(), rule, (user, asSet, r) => {
      const model =
        r === undefined ||
        ((r.anyOf === undefined || r.anyOf.length === 0 || r.anyOf.some((p) => user.includes(p))) &&
          (r.allOf === undefined || r.allOf.every((p) => user.includes(p))))
      return hasPermissions(asSet ? new Set(user) : user, r) === model
    }),
    { numRuns: 3000 },
  )
})
