import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isHandlerName } from '../../../src/app/checks/handler-name.ts'

test('handler name: names of the registry pattern pass', () => {
  for (const name of ['send_message', 'change_channel', 'default', 'a', `a${'b'.repeat(63)}`]) {
    assert.equal(isHandlerName(name), true, name)
  }
})

test('handler name: hostile and type-confused values fail', () => {
  for (const value of [
    '__proto__',
    '__defineGetter__',
    '_private',
    '1abc',
    'send_message ',
    'send-message',
    'send_message\n',
    `a${'b'.repeat(64)}`,
    '',
    ['send_message'],
    { toString: () => 'send_message' },
    123,
    null,
    undefined,
  ]) {
    assert.equal(isHandlerName(value), false, JSON.stringify(value))
  }
})

test('handler name: property — accepts iff a string matching the pattern', () => {
  const reference = /^[A-Za-z][A-Za-z0-9_]{0,63}$/
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 70 }), fc.anything()), (v) => {
      return isHandlerName(v) === (typeof v === 'string' && reference.test(v))
    }),
    { numRuns: 2000 },
  )
})
