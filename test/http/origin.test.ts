import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isGatehouseError } from '../../src/errors.ts'
import { createOriginCheck } from '../../src/http/origin.ts'

const ALLOWED = ['https://app.example.com', 'http://127.0.0.1:3000', 'http://[::1]:3000']

test('origin: allowed origins pass, exactly', () => {
  const check = createOriginCheck(ALLOWED)
  assert.equal(check('https://app.example.com'), 'ok')
  assert.equal(check('http://127.0.0.1:3000'), 'ok')
  assert.equal(check('http://[::1]:3000'), 'ok')
  // Same origin written non-canonically still names that origin.
  assert.equal(check('https://APP.example.com'), 'ok')
  assert.equal(check('https://app.example.com:443'), 'ok')
})

test('origin: look-alikes, other schemes/ports, null, joined duplicates, paths, userinfo are forbidden', () => {
  const check = createOriginCheck(ALLOWED)
  const hostile = [
    'https://app.example.com.evil.test',
    'https://evil.test',
    'https://evilapp.example.com',
    'https://sub.app.example.com',
    'http://app.example.com',
    'https://app.example.com:8443',
    'https://app.example.com.',
    'http://127.0.0.1:3001',
    'http://127.0.0.1',
    'http://localhost:3000',
    'null',
    'NULL',
    '',
    ' https://app.example.com',
    'https://app.example.com ',
    'https://app.example.com\t',
    'https://app.example.com, https://evil.test',
    'https://evil.test, https://app.example.com',
    'https://app.example.com,https://app.example.com',
    'https://app.example.com/',
    'https://app.example.com/path',
    'https://app.example.com?x=1',
    'https://app.example.com#x',
    'https://user@app.example.com',
    'https://user:pw@app.example.com',
    'https://evil.test@app.example.com',
    'https:\\\\app.example.com',
    'https:app.example.com',
    '//app.example.com',
    'app.example.com',
    'ws://app.example.com',
    'file:///etc/passwd',
    'chrome-extension://abcdef',
    'https://аpp.example.com', // Cyrillic а
    `https://${'a'.repeat(3000)}.com`,
  ]
  for (const origin of hostile) assert.equal(check(origin), 'forbidden', JSON.stringify(origin))
})

test('origin: missing header is missing-ok, or missing (refused) with requireOrigin', () => {
  assert.equal(createOriginCheck(ALLOWED)(undefined), 'missing-ok')
  assert.equal(createOriginCheck(ALLOWED)(null), 'missing-ok')
  assert.equal(createOriginCheck(ALLOWED, { requireOrigin: true })(undefined), 'missing')
  assert.equal(createOriginCheck(ALLOWED, { requireOrigin: true })(null), 'missing')
  assert.equal(createOriginCheck(ALLOWED, { requireOrigin: true })(ALLOWED[0]), 'ok')
})

test('origin: an empty allowlist forbids every browser', () => {
  const check = createOriginCheck([])
  assert.equal(check('https://app.example.com'), 'forbidden')
  assert.equal(check(undefined), 'missing-ok')
})

test('origin: allowlist entries are normalised at construction', () => {
  const check = createOriginCheck(['HTTPS://App.Example.COM:443', 'http://Example.org:80'])
  assert.equal(check('https://app.example.com'), 'ok')
  assert.equal(check('http://example.org'), 'ok')
})

test('origin: invalid allowlist entries throw ERR_INVALID_OPTION', () => {
  const invalid = (e: unknown) => isGatehouseError(e, 'ERR_INVALID_OPTION')
  for (const entry of [
    '*',
    'null',
    '',
    'app.example.com',
    'https://*.example.com',
    'https://app.example.com/',
    'https://app.example.com/path',
    'https://u@app.example.com',
    'https://app.example.com?x',
    'ftp://app.example.com',
    ' https://app.example.com',
    'https://a.com, https://b.com',
    42,
  ]) {
    assert.throws(() => createOriginCheck([entry as string]), invalid, JSON.stringify(entry))
  }
  assert.throws(() => createOriginCheck('https://a.com' as unknown as string[]), invalid)
})

/** A string is acceptable only if it is a plain origin whose serialization is in the set. */
function acceptable(value: string, allowed: ReadonlySet<string>): boolean {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return false
  }
  return (
    allowed.has(url.origin) &&
    url.username === '' &&
    url.password === '' &&
    !/[\s,/?#@\\]/.test(value.replace(/^[a-z]+:\/\//i, ''))
  )
}

test('origin: property — never accepts a string whose parsed origin is not in the set', () => {
  const check = createOriginCheck(ALLOWED)
  const set = new Set(ALLOWED)
  const affixes = fc.string({ unit: fc.constantFrom(...' ,./:@?#\\\t\nAa0-[]%'), maxLength: 6 })
  const candidates = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.webUrl(),
    fc.webUrl({ withQueryParameters: true, withFragments: true }),
    fc.tuple(affixes, fc.constantFrom(...ALLOWED), affixes).map(([a, o, b]) => `${a}${o}${b}`),
    fc.tuple(fc.constantFrom(...ALLOWED), fc.domain()).map(([o, d]) => `${o}.${d}`),
  )
  fc.assert(
    fc.property(candidates, (value) => {
      const verdict = check(value)
      assert.notEqual(verdict, 'missing-ok')
      assert.notEqual(verdict, 'missing')
      if (verdict === 'ok') assert.ok(acceptable(value, set), value)
    }),
    { numRuns: 5000 },
  )
})
