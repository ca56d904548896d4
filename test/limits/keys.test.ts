import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { DEFAULTS } from '../../src/defaults.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { connectIpKey, connectUserKey, encodeKeyPart, tokenUserKey } from '../../src/limits/keys.ts'

test('builders: namespaced keys with the defaults', () => {
  assert.deepEqual(connectIpKey('203.0.113.9'), {
    key: 'connect:ip:203.0.113.9',
    limit: DEFAULTS.connectLimitPerIp,
    windowMs: DEFAULTS.connectWindowMs,
  })
  assert.deepEqual(connectUserKey('alice'), {
    key: 'connect:user:alice',
    limit: DEFAULTS.connectLimitPerUser,
    windowMs: DEFAULTS.connectWindowMs,
  })
  assert.deepEqual(tokenUserKey('alice'), {
    key: 'token:user:alice',
    limit: DEFAULTS.tokenIssueLimit,
    windowMs: DEFAULTS.tokenIssueWindowMs,
  })
})

test('builders: overrides, IPv6 by /64, mapped IPv4', () => {
  assert.deepEqual(connectIpKey('2001:db8:1:2::9', { limit: 5, windowMs: 1000 }), {
    key: 'connect:ip:2001:db8:1:2::/64',
    limit: 5,
    windowMs: 1000,
  })
  assert.equal(connectIpKey('::ffff:127.0.0.1').key, 'connect:ip:127.0.0.1')
})

test('builders: bad limits throw ERR_INVALID_OPTION (never a silent allow)', () => {
  const invalid = (e: unknown) => isGatehouseError(e, 'ERR_INVALID_OPTION')
  for (const limit of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => tokenUserKey('a', { limit }), invalid)
    assert.throws(() => connectUserKey('a', { windowMs: limit }), invalid)
  }
})

test('encodeKeyPart: plain ids verbatim; others hashed; no two ids share a part', () => {
  assert.equal(encodeKeyPart('alice@example.com'), 'alice@example.com')
  assert.match(encodeKeyPart('a:b'), /^sha256:[0-9a-f]{64}$/)
  assert.match(encodeKeyPart(''), /^sha256:/)
  assert.match(encodeKeyPart('x'.repeat(129)), /^sha256:/)
  assert.match(encodeKeyPart('room*\n'), /^sha256:/)
  fc.assert(
    fc.property(fc.string(), fc.string(), (a, b) => {
      fc.pre(a !== b)
      return encodeKeyPart(a) !== encodeKeyPart(b)
    }),
    { numRuns: 2000 },
  )
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (id) =>
      /^[A-Za-z0-9._@+:-]{1,135}$/.test(encodeKeyPart(id)),
    ),
    { numRuns: 2000 },
  )
})
