import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  generateToken,
  hashSessionId,
  hashToken,
  isWellFormedToken,
  TOKEN_LENGTH,
} from '../../src/tokens/token.ts'

test('generateToken: 43 base64url characters carrying 32 bytes, all distinct', () => {
  const seen = new Set<string>()
  for (let i = 0; i < 200; i++) {
    const token = generateToken()
    assert.equal(token.length, TOKEN_LENGTH)
    assert.match(token, /^[A-Za-z0-9_-]{43}$/)
    assert.equal(Buffer.from(token, 'base64url').length, 32)
    assert.ok(isWellFormedToken(token))
    seen.add(token)
  }
  assert.equal(seen.size, 200)
})

test('hashToken: hex SHA-256 of the token', () => {
  const token = generateToken()
  const expected = createHash('sha256').update(token).digest('hex')
  assert.equal(hashToken(token), expected)
  assert.match(hashToken(token), /^[0-9a-f]{64}$/)
})

test('hashSessionId: 64 hex, stable, and never equal to a token hash of the same text', () => {
  assert.match(hashSessionId('abc'), /^[0-9a-f]{64}$/)
  assert.equal(hashSessionId('abc'), hashSessionId('abc'))
  assert.notEqual(hashSessionId('abc'), hashSessionId('abd'))
  const token = generateToken()
  assert.notEqual(hashSessionId(token), hashToken(token))
  fc.assert(
    fc.property(fc.string(), (s) => hashSessionId(s) !== hashToken(s)),
    { numRuns: 500 },
  )
})

test('isWellFormedToken: rejects everything but 43 base64url characters', () => {
  const good = 'A'.repeat(43)
  assert.ok(isWellFormedToken(good))
  const bad: unknown[] = [
    '',
    'A'.repeat(42),
    'A'.repeat(44),
    'x'.repeat(10_240),
    `%00${'A'.repeat(40)}`,
    `${'A'.repeat(42)}=`,
    `${'A'.repeat(42)}+`,
    `${'A'.repeat(42)}/`,
    `${'A'.repeat(42)}\n`,
    `${'A'.repeat(42)}\u0000`,
    `${'A'.repeat(42)}а`, // Cyrillic a
    undefined,
    null,
    43,
    ['A'.repeat(43)],
    { toString: () => good },
    new String(good),
  ]
  for (const value of bad) assert.equal(isWellFormedToken(value), false, String(value))
})

test('isWellFormedToken: property — accepts iff string of 43 base64url chars', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.anything()), (value) => {
      const expected = typeof value === 'string' && /^[A-Za-z0-9_-]{43}$/.test(value)
      return isWellFormedToken(value) === expected
    }),
    { numRuns: 2000 },
  )
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom(...'abcXYZ019_-'), minLength: 43, maxLength: 43 }),
      (value) => isWellFormedToken(value),
    ),
  )
})
