import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createRequiredHeadersCheck } from '../../../src/app/checks/headers.ts'
import { isGatehouseError } from '../../../src/errors.ts'

test('headers: reports the first missing header', () => {
  const missing = createRequiredHeadersCheck(['User-Agent', 'x-app-version'])
  assert.equal(missing({}), 'user-agent')
  assert.equal(missing({ 'user-agent': 'ua' }), 'x-app-version')
  assert.equal(missing({ 'user-agent': 'ua', 'x-app-version': '1' }), null)
  assert.equal(missing({ 'user-agent': '', 'x-app-version': '1' }), 'user-agent')
})

test('headers: inherited properties never satisfy a requirement', () => {
  const missing = createRequiredHeadersCheck(['constructor', 'tostring', '__proto__'])
  assert.equal(missing({}), 'constructor')
  const poisoned = Object.create({ constructor: 'x' }) as Record<string, string>
  assert.equal(missing(poisoned), 'constructor')
})

test('headers: no requirement passes everything', () => {
  assert.equal(createRequiredHeadersCheck([])({}), null)
})

test('headers: invalid names throw ERR_INVALID_OPTION', () => {
  const invalid = (e: unknown) => isGatehouseError(e, 'ERR_INVALID_OPTION')
  for (const name of ['', 'a b', 'x:y', 'a\n']) {
    assert.throws(() => createRequiredHeadersCheck([name]), invalid, JSON.stringify(name))
  }
})
