import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DEFAULTS } from '../../src/defaults.ts'
import { ID_PATTERN, newId } from '../../src/gateway/connection-id.ts'

test('ids look like AWS ids: 16 URL-safe base64 characters ending in =', () => {
  for (let i = 0; i < 1_000; i++) {
    const id = newId()
    assert.equal(id.length, 16)
    assert.match(id, ID_PATTERN)
    assert.match(id, DEFAULTS.connectionIdPattern)
    // 11 bytes: the last data character carries 4 bits, so it is one of 16 values.
    assert.equal(Buffer.from(id.slice(0, 15), 'base64url').length, 11)
  }
})

test('ids are unique across pool refills', () => {
  const seen = new Set<string>()
  for (let i = 0; i < 20_000; i++) seen.add(newId())
  assert.equal(seen.size, 20_000)
})

test('ids are not sequential: consecutive ids share no long prefix', () => {
  let shared = 0
  let previous = newId()
  for (let i = 0; i < 2_000; i++) {
    const id = newId()
    if (id.slice(0, 4) === previous.slice(0, 4)) shared++
    previous = id
  }
  // Random 24-bit prefixes collide with probability 2^-24 per pair.
  assert.ok(shared <= 1)
})
