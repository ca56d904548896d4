import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createSessionCache } from '../../src/app/session-cache.ts'
import type { SessionRecord } from '../../src/store/store.ts'

const T0 = 1_700_000_000_000

function session(connectionId: string, userId = 'alice', sessionHash = 'h-alice'): SessionRecord {
  return {
    connectionId,
    userId,
    sessionHash,
    channel: 'lobby',
    connected: true,
    requestCount: 0,
    connectedAt: T0,
    lastSeenAt: T0,
    disconnectedAt: null,
  }
}

test('an entry lives ttlMs, then is gone', () => {
  const cache = createSessionCache({ ttlMs: 1_000, maxEntries: 10 })
  assert.equal(cache.fill(session('a'), null, cache.epoch, T0), true)
  assert.equal(cache.get('a', T0 + 999)?.session.connectionId, 'a')
  assert.equal(cache.get('a', T0 + 1_000), undefined)
  assert.equal(cache.size, 0)
})

test('a fill that saw an older epoch is refused and keeps nothing', () => {
  const cache = createSessionCache({ ttlMs: 1_000, maxEntries: 10 })
  const seen = cache.epoch
  cache.forget(['unrelated'])
  assert.equal(cache.fill(session('a'), null, seen, T0), false)
  assert.equal(cache.get('a', T0), undefined)
})

test('forgetWhere drops a user, or an HTTP session, and nothing else', () => {
  const cache = createSessionCache({ ttlMs: 1_000, maxEntries: 10 })
  cache.fill(session('a1', 'alice', 'h1'), null, cache.epoch, T0)
  cache.fill(session('a2', 'alice', 'h2'), null, cache.epoch, T0)
  cache.fill(session('b1', 'bob', 'h3'), null, cache.epoch, T0)
  cache.forgetWhere({ sessionHash: 'h2' })
  assert.equal(cache.get('a2', T0), undefined)
  assert.ok(cache.get('a1', T0))
  cache.forgetWhere({ userId: 'alice' })
  assert.equal(cache.get('a1', T0), undefined)
  assert.ok(cache.get('b1', T0))
})

test('the size is bounded: past maxEntries the oldest entry goes', () => {
  const cache = createSessionCache({ ttlMs: 1_000, maxEntries: 3 })
  for (const id of ['a', 'b', 'c', 'd']) cache.fill(session(id), null, cache.epoch, T0)
  assert.equal(cache.size, 3)
  assert.equal(cache.get('a', T0), undefined)
  assert.ok(cache.get('d', T0))
})

test('setChannel updates a kept entry; ttlMs 0 keeps nothing', () => {
  const cache = createSessionCache({ ttlMs: 1_000, maxEntries: 3 })
  cache.fill(session('a'), null, cache.epoch, T0)
  cache.setChannel('a', 'staff')
  assert.equal(cache.get('a', T0)?.session.channel, 'staff')
  const none = createSessionCache({ ttlMs: 0, maxEntries: 3 })
  assert.equal(none.fill(session('a'), null, none.epoch, T0), true)
  assert.equal(none.size, 0)
})

test('a fill drops the entries that expired before it (idle connections keep nothing)', () => {
  const cache = createSessionCache({ ttlMs: 1_000, maxEntries: 10 })
  cache.fill(session('a'), null, cache.epoch, T0)
  cache.fill(session('b'), null, cache.epoch, T0 + 500)
  cache.fill(session('c'), null, cache.epoch, T0 + 1_200)
  // 'a' expired at T0 + 1000 and went with the fill of 'c'; 'b' is still live.
  assert.equal(cache.size, 2)
  assert.ok(cache.get('b', T0 + 1_200))
})

test('after the last fill, one sweep timer drops the expired tail by itself', async () => {
  let now = T0
  const cache = createSessionCache({ ttlMs: 20, maxEntries: 10, now: () => now })
  for (const id of ['a', 'b', 'c']) cache.fill(session(id), null, cache.epoch, now)
  assert.equal(cache.size, 3)
  now = T0 + 20
  await new Promise((resolve) => setTimeout(resolve, 60))
  assert.equal(cache.size, 0)
})
