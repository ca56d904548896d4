import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { DEFAULTS } from '../../../src/defaults.ts'
import {
  CLUSTER_ID_PATTERN,
  clusterConnectionId,
  MAX_SLOTS,
  SLOT_ALPHABET,
  slotOf,
} from '../../../src/gateway/cluster/ids.ts'
import { ID_PATTERN, newId } from '../../../src/gateway/connection-id.ts'
import { parseManagementPath } from '../../../src/gateway/management/route.ts'

test('a cluster id is 16 URL-safe characters naming its slot, and every validator accepts it', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: MAX_SLOTS - 1 }), (slot) => {
      const id = clusterConnectionId(slot)
      assert.equal(id.length, 16)
      assert.match(id, CLUSTER_ID_PATTERN)
      assert.match(id, ID_PATTERN)
      assert.match(id, DEFAULTS.connectionIdPattern)
      assert.equal(slotOf(id), slot)
      const route = parseManagementPath(`/production/@connections/${id}`, 'production')
      assert.deepEqual(route, { kind: 'connection', id, idValid: true })
    }),
  )
})

test('the 15 characters after the slot are random: 90 bits, no repeats', () => {
  const seen = new Set<string>()
  const counts = new Map<string, number>()
  for (let i = 0; i < 20_000; i++) {
    const id = clusterConnectionId(5)
    seen.add(id)
    // Every position, the last one too, takes all 64 values (no padding bits).
    const last = id[15] as string
    counts.set(last, (counts.get(last) ?? 0) + 1)
  }
  assert.equal(seen.size, 20_000)
  assert.equal(counts.size, 64)
})

test('an AWS-shaped id (a single gateway) has no slot; both shapes pass ID_PATTERN', () => {
  const id = newId()
  assert.equal(slotOf(id), -1)
  assert.match(id, ID_PATTERN)
  assert.equal(slotOf('short'), -1)
  assert.equal(slotOf('AAAAAAAAAAAAAAA!'), -1)
  assert.equal(SLOT_ALPHABET.length, MAX_SLOTS)
  assert.throws(() => clusterConnectionId(64), RangeError)
  assert.throws(() => clusterConnectionId(-1), RangeError)
})
