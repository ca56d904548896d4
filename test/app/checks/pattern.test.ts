import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertSafePattern, matchesBounded } from '../../../src/app/checks/pattern.ts'
import { isGatehouseError } from '../../../src/errors.ts'

test('assertSafePattern: anchored patterns without m/g/y pass; others throw', () => {
  assertSafePattern(/^[a-z]+$/)
  assertSafePattern(/^[a-z]+$/i)
  const invalid = (e: unknown) => isGatehouseError(e, 'ERR_INVALID_OPTION')
  for (const p of [/^[a-z]+$/m, /^[a-z]+$/g, /^[a-z]+$/y, /[a-z]+/, /^[a-z]+/, /[a-z]+$/, /^a\$/]) {
    assert.throws(() => assertSafePattern(p), invalid, String(p))
  }
  assert.throws(() => assertSafePattern('^a$' as unknown as RegExp), invalid)
})

test('matchesBounded: length first, then the regex; non-strings never match', () => {
  assert.equal(matchesBounded('abc', /^[a-z]+$/, 3), true)
  assert.equal(matchesBounded('abcd', /^[a-z]+$/, 3), false)
  assert.equal(matchesBounded(['abc'], /^[a-z]+$/, 3), false)
  assert.equal(matchesBounded(new String('abc'), /^[a-z]+$/, 3), false)
})
