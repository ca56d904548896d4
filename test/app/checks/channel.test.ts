import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isValidChannel, MAX_CHANNEL_LENGTH } from '../../../src/app/checks/channel.ts'
import { DEFAULTS } from '../../../src/defaults.ts'
import { isGatehouseError } from '../../../src/errors.ts'

test('channel: ordinary names pass', () => {
  for (const name of ['lobby', 'room-1', 'A_b-9', 'x', 'a'.repeat(128)]) {
    assert.equal(isValidChannel(name), true, name)
  }
})

test('channel: hostile names fail', () => {
  const hostile: unknown[] = [
    'room\n',
    'room%0A',
    'room\r\n',
    'a*',
    'a?',
    'a:b',
    '../x',
    'a/b',
    'room ',
    ' room',
    'rооm', // Cyrillic о
    'a'.repeat(129),
    '',
    'room\u0000',
    'ｒｏｏｍ',
    ['lobby'],
    42,
    null,
    undefined,
    { toString: () => 'lobby' },
  ]
  for (const value of hostile) assert.equal(isValidChannel(value), false, JSON.stringify(value))
})

test('channel: __proto__ and constructor are plain names (never used as object keys)', () => {
  assert.equal(isValidChannel('__proto__'), true)
  assert.equal(isValidChannel('constructor'), true)
})

test('channel: custom patterns, capped at 128 characters; m/g/y and unanchored patterns throw', () => {
  assert.equal(isValidChannel('ab', /^[a-z]{2}$/), true)
  assert.equal(isValidChannel('a'.repeat(200), /^a+$/), false)
  const invalid = (e: unknown) => isGatehouseError(e, 'ERR_INVALID_OPTION')
  assert.throws(() => isValidChannel('room', /^[a-z]+$/m), invalid)
  assert.throws(() => isValidChannel('room', /^[a-z]+$/g), invalid)
  assert.throws(() => isValidChannel('room', /[a-z]+/), invalid)
})

test('channel: property — accepts iff typeof string and the pattern matches', () => {
  const pattern = DEFAULTS.channelPattern
  const reference = new RegExp(pattern.source) // a separate object: no shared lastIndex
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 140 }),
        fc.string({ unit: fc.constantFrom(...'abZ09_-\n./ о'), maxLength: 140 }),
        fc.anything(),
      ),
      (value) => {
        const expected =
          typeof value === 'string' && value.length <= MAX_CHANNEL_LENGTH && reference.test(value)
        return isValidChannel(value) === expected
      },
    ),
    { numRuns: 3000 },
  )
})
