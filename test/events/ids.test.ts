import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { syncBuiltinESMExports } from 'node:module'
import { test } from 'node:test'
import { randomRequestId, traceId } from '../../src/events/ids.ts'
import { newId } from '../../src/gateway/connection-id.ts'

const ID = /^[A-Za-z0-9_-]{15}=$/

test('request ids keep the AWS shape and are unique', () => {
  const seen = new Set<string>()
  for (let i = 0; i < 5_000; i++) {
    const id = randomRequestId()
    assert.match(id, ID)
    seen.add(id)
  }
  assert.equal(seen.size, 5_000)
  assert.match(traceId(Date.UTC(2024, 0, 20)), /^Root=1-65ab0d00-[0-9a-f]{24}$/)
})

test('ids draw from one pooled randomBytes call, not one call per id', (t) => {
  const original = crypto.randomBytes
  let calls = 0
  crypto.randomBytes = ((size: number) => {
    calls++
    return original(size)
  }) as typeof crypto.randomBytes
  syncBuiltinESMExports()
  t.after(() => {
    crypto.randomBytes = original
    syncBuiltinESMExports()
  })
  const seen = new Set<string>()
  // Per message the gateway mints a request id and a message id (and a trace id over HTTP).
  for (let i = 0; i < 1_000; i++) {
    seen.add(randomRequestId())
    seen.add(randomRequestId())
    seen.add(newId())
    traceId(0)
  }
  assert.equal(seen.size, 3_000)
  // 3 000 ids × 11 bytes + 1 000 trace ids × 12 bytes = 45 000 bytes: 15 pools of 2 816.
  assert.ok(calls > 0 && calls <= 20, `randomBytes called ${calls} times`)
})
