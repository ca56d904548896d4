import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { GatewayResponse } from '../../../src/events/event.ts'
import {
  checkResponse,
  withDeadline,
  withTimeout,
} from '../../../src/gateway/integrations/outcome.ts'

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
  const timedOut = await withTimeout(never, 20)
  assert.equal(timedOut.kind, 'timeout')
})

test('withTimeout: past the deadline, late gives what the call finally returned', async () => {
  let finish: (r: GatewayResponse) => void = () => {}
  const slow = () =>
    new Promise<GatewayResponse>((r) => {
      finish = r
    })
  const outcome = await withTimeout(slow, 20)
  assert.equal(outcome.kind, 'timeout')
  assert.ok(outcome.kind === 'timeout' && outcome.late)
  finish({ status: 201 })
  assert.deepEqual(await outcome.late, { kind: 'response', response: { status: 201 } })

  let fail: (e: Error) => void = () => {}
  const failing = () =>
    new Promise<GatewayResponse>((_, reject) => {
      fail = reject
    })
  const second = await withTimeout(failing, 20)
  assert.ok(second.kind === 'timeout' && second.late)
  fail(new Error('late'))
  assert.equal((await second.late).kind, 'error')
})

test('withDeadline: an outcome in time passes as is', async () => {
  const outcome = { kind: 'response', response: { status: 200 } } as const
  assert.deepEqual(await withDeadline(Promise.resolve(outcome), 1_000), outcome)
})
