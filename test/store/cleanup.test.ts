import assert from 'node:assert/strict'
import { test } from 'node:test'
import { manualClock } from '../../src/clock.ts'
import { DEFAULTS } from '../../src/defaults.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { CLEANUP_DEFAULTS, cleanupStore } from '../../src/store/cleanup.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { CleanupCutoffs, Store } from '../../src/store/store.ts'
import { claim } from '../support/claim.ts'

// A store that only records the cut-offs it was given.
function spyStore(): { store: Store; calls: CleanupCutoffs[] } {
  const calls: CleanupCutoffs[] = []
  const store = {
    ...createMemoryStore(),
    cleanup: async (c: CleanupCutoffs) => {
      calls.push(c)
      return { tokens: 1, rateLimits: 2, sessions: 3, nonces: 4 }
    },
  }
  return { store, calls }
}

test('cleanupStore turns ages into cut-offs relative to the clock', async () => {
  const clock = manualClock(1_700_000_000_000)
  const { store, calls } = spyStore()
  const result = await cleanupStore(
    store,
    { tokenAgeSec: 300, rateLimitAgeDays: 7, sessionAgeSec: 86_400 },
    clock,
  )
  assert.deepEqual(result, { tokens: 1, rateLimits: 2, sessions: 3, nonces: 4 })
  assert.deepEqual(calls, [
    {
      tokensCreatedBefore: 1_700_000_000_000 - 300_000,
      rateLimitsBefore: 1_700_000_000_000 - 7 * 86_400_000,
      sessionsDisconnectedBefore: 1_700_000_000_000 - 86_400_000,
      noncesExpiredBefore: 1_700_000_000_000,
    },
  ])
})

test('cleanupStore removes old rows of a real store and keeps young ones', async () => {
  const clock = manualClock(1_700_000_000_000)
  const store = createMemoryStore()
  const t = clock.now()
  await store.insertToken({
    hash: 'old',
    userId: 'u',
    sessionHash: 's',
    appId: DEFAULTS.appId,
    createdAt: t - 301_000,
    expiresAt: t - 241_000,
  })
  await store.insertToken({
    hash: 'new',
    userId: 'u',
    sessionHash: 's',
    appId: DEFAULTS.appId,
    createdAt: t - 1_000,
    expiresAt: t + 59_000,
  })
  await store.createSession({
    connectionId: 'gone',
    userId: 'u',
    sessionHash: 's',
    channel: null,
    connectedAt: t - 200_000_000,
  })
  await store.markDisconnected(['gone'], t - 100_000_000)
  const result = await cleanupStore(store, CLEANUP_DEFAULTS, clock)
  assert.deepEqual(result, { tokens: 1, rateLimits: 0, sessions: 1, nonces: 0 })
  assert.notEqual(await store.consumeToken(claim('new', 's'), t), null)
})

test('cleanupStore rejects negative or non-numeric ages', async () => {
  const { store, calls } = spyStore()
  const clock = manualClock()
  for (const bad of [
    { ...CLEANUP_DEFAULTS, tokenAgeSec: -1 },
    { ...CLEANUP_DEFAULTS, rateLimitAgeDays: Number.NaN },
    { ...CLEANUP_DEFAULTS, sessionAgeSec: Number.POSITIVE_INFINITY },
  ]) {
    await assert.rejects(cleanupStore(store, bad, clock), (e) =>
      isGatehouseError(e, 'ERR_INVALID_OPTION'),
    )
  }
  assert.equal(calls.length, 0)
})

test('cleanupStore without a clock measures ages from the system clock', async () => {
  const { store, calls } = spyStore()
  const before = Date.now()
  await cleanupStore(store, { tokenAgeSec: 300, rateLimitAgeDays: 7, sessionAgeSec: 86_400 })
  const after = Date.now()
  const cut = calls[0]?.tokensCreatedBefore ?? 0
  assert.ok(cut >= before - 300_000 && cut <= after - 300_000, String(cut))
  await assert.rejects(cleanupStore(store, CLEANUP_DEFAULTS, {} as never), (e) =>
    isGatehouseError(e, 'ERR_INVALID_OPTION'),
  )
})
