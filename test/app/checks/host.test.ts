import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { createHostCheck } from '../../../src/app/checks/host.ts'
import { isGatehouseError } from '../../../src/errors.ts'

test('host: exact match, host case-insensitive, port significant', () => {
  const check = createHostCheck(['app.example.com', '127.0.0.1:3001', '[::1]:3001'])
  assert.equal(check('app.example.com'), true)
  assert.equal(check('APP.Example.com'), true)
  assert.equal(check('127.0.0.1:3001'), true)
  assert.equal(check('[::1]:3001'), true)
  for (const host of [
    'app.example.com:443',
    'app.example.com.',
    'app.example.com.evil.test',
    'evil.app.example.com',
    'xapp.example.com',
    '127.0.0.1',
    '127.0.0.1:3002',
    ' app.example.com',
    'app.example.com, evil.test',
    '',
    undefined,
    null,
  ]) {
    assert.equal(check(host), false, String(host))
  }
})

test('host: empty list allows nothing; invalid entries throw', () => {
  assert.equal(createHostCheck([])('app.example.com'), false)
  const invalid = (e: unknown) => isGatehouseError(e, 'ERR_INVALID_OPTION')
  for (const entry of ['https://a.com', 'a.com/x', '*.a.com', 'a b', '', 'a.com:port']) {
    assert.throws(() => createHostCheck([entry]), invalid, entry)
  }
})

test('host: property — accepts iff the lower-cased value is an allowed entry', () => {
  const allowed = ['app.example.com', 'localhost:3000']
  const check = createHostCheck(allowed)
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 30 }),
        fc.constantFrom(...allowed).map((h) => h.toUpperCase()),
        fc.domain(),
      ),
      (value) => check(value) === allowed.includes(value.toLowerCase()),
    ),
    { numRuns: 2000 },
  )
})
