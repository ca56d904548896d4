import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isValidConnectionId } from '../../../src/app/checks/connection-id.ts'

test('connection id: AWS-shaped ids pass, others fail', () => {
  assert.equal(isValidConnectionId('R1kmxc2VNjMCFIA='), true)
  assert.equal(isValidConnectionId('abc_-='), true)
  for (const value of ['abc=\n', '', 'a'.repeat(129), 'a b', 'a/b', 'a+b', ['abc'], 1, null]) {
    assert.equal(isValidConnectionId(value), false, JSON.stringify(value))
  }
})

test('connection id: property — accepts iff string matching the pattern', () => {
  const reference = /^[A-Za-z0-9_=-]{1,128}$/
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ maxLength: 140 }), fc.base64String({ maxLength: 140 }), fc.anything()),
      (v) => {
        return isValidConnectionId(v) === (typeof v === 'string' && reference.test(v))
      },
    ),
    { numRuns: 2000 },
  )
})
