import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { GatewayResponse } from '../../../src/events/event.ts'
import { checkResponse, withTimeout } from '../../../src/gateway/integrations/outcome.ts'

test('a well-formed response passes with lower-cased header names', () => {
  assert.deepEqual(
    checkResponse({ status: 200, body: 'x', headers: { 'Sec-WebSocket-Protocol': 'p', n: 1 } }),
    {
      kind: 'response',
      response: { status: 200, body: 'x', headers: { 'sec-websocket-protocol': 'p' } },
    },
  )
})

test('junk from an integration is an error outcome, never a throw', () => {
  for (const value of [
    null,
    undefined,
    'ok',
    { status: '200' },
    { status: 99 },
    { status: 600 },
    { status: 200.5 },
    { status: 200, body: 1 },
    { status: 200, headers: 'x' },
  ]) {
    assert.equal(checkResponse(value).kind, 'error', JSON.stringify(value))
  }
})

test('withTimeout: a response, a rejection, a synchronous throw, a timeout', async () => {
  assert.equal((await withTimeout(async () => ({ status: 200 }), 1_000)).kind, 'response')
  assert.equal((await withTimeout(async () => Promise.reject(new Error('x')), 1_000)).kind, 'error')
  const sync = (() => {
    throw new Error('sync')
  }) as unknown as () => Promise<GatewayResponse>
  assert.equal((await withTimeout(sync, 1_000)).kind, 'error')
  const never = () => new Promise<GatewayResponse>(() => {})
  assert.deepEqual(await withTimeout(never, 20), { kind: 'timeout' })
})
