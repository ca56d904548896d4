import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isGatehouseError } from '../../src/errors.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import { runRevocationConformance } from '../conformance/app-revocation.ts'
import { runStoreConformance } from '../conformance/store.ts'
import { claim } from '../support/claim.ts'

runStoreConformance('memory', async () => createMemoryStore())
runRevocationConformance('memory', async () => createMemoryStore())

test('memory store: calls after close() fail as unavailable', async () => {
  const store = createMemoryStore()
  await store.close()
  await assert.rejects(store.consumeToken(claim('h', 's'), 0), (e) =>
    isGatehouseError(e, 'ERR_STORE_UNAVAILABLE'),
  )
  await assert.rejects(store.hit([{ key: 'k', limit: 1, windowMs: 1000 }], 0), (e) =>
    isGatehouseError(e, 'ERR_STORE_UNAVAILABLE'),
  )
})
