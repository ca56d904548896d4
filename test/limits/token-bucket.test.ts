import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { createTokenBucket, takeToken } from '../../src/limits/token-bucket.ts'

test('a burst is allowed, then one message per refill interval', () => {
  const bucket = createTokenBucket(3, 10, 0)
  assert.deepEqual(
    [1, 2, 3, 4].map(() => bucket.take(0)),
    [true, true, true, false],
  )
  assert.equal(bucket.take(99), false)
  assert.equal(bucket.take(100), true)
  assert.equal(bucket.take(100), false)
  // Refill never exceeds the burst.
  assert.deepEqual(
    [1, 2, 3, 4].map(() => bucket.take(1_000_000)),
    [true, true, true, false],
  )
})

test('a clock that steps back refills nothing', () => {
  const bucket = createTokenBucket(1, 1, 10_000)
  assert.equal(bucket.take(10_000), true)
  assert.equal(bucket.take(0), false)
  assert.equal(bucket.take(10_500), false)
})

test('property: never more than burst + rate × elapsed messages', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: 1, max: 100 }),
      fc.array(fc.integer({ min: 0, max: 2_000 }), { maxLength: 300 }),
      (burst, perSecond, gaps) => {
        const bucket = createTokenBucket(burst, perSecond, 0)
        let now = 0
        let allowed = 0
        for (const gap of gaps) {
          now += gap
          if (bucket.take(now)) allowed++
        }
        assert.ok(allowed <= burst + Math.floor((now * perSecond) / 1000))
      },
    ),
  )
})

test('takeToken spends and refills the two fields of any record, as the bucket does', () => {
  const record = { id: 'c1', tokens: 2, tokensAt: 0 }
  assert.deepEqual(
    [0, 0, 0].map((at) => takeToken(record, 2, 10, at)),
    [true, true, false],
  )
  assert.equal(takeToken(record, 2, 10, 100), true)
  assert.deepEqual(record, { id: 'c1', tokens: 0, tokensAt: 100 })
  // Never above the burst, however long the pause.
  assert.equal(takeToken(record, 2, 10, 1_000_000), true)
  assert.equal(record.tokens, 1)
})
