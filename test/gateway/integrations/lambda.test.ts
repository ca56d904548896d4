import assert from 'node:assert/strict'
import { test } from 'node:test'
import { manualClock } from '../../../src/clock.ts'
import type { Handshake } from '../../../src/gateway/handshake.ts'
import { connectEvent } from '../../../src/gateway/handshake.ts'
import { invokeLambda, lambdaContext } from '../../../src/gateway/integrations/lambda.ts'

const handshake: Handshake = {
  connectionId: 'R1kmxc2VNjMCFIA=',
  connectedAt: 1_000,
  headers: { 'user-agent': 'UA', 'sec-websocket-protocol': 'a, b' },
  rawHeaders: ['User-Agent', 'UA', 'Sec-WebSocket-Protocol', 'a, b'],
  query: {},
  rawQuery: '',
  sourceIp: '127.0.0.1',
  userAgent: 'UA',
  domainName: '127.0.0.1:3001',
  localPort: 3001,
}

test('the context counts down to the integration timeout', () => {
  const clock = manualClock(0)
  const context = lambdaContext('req', 29_000, clock)
  assert.equal(context.awsRequestId, 'req')
  assert.equal(context.getRemainingTimeInMillis(), 29_000)
  clock.advance(30_000)
  assert.equal(context.getRemainingTimeInMillis(), 0)
})

test('only Sec-WebSocket-Protocol survives among returned headers; junk results are errors', async () => {
  const clock = manualClock(0)
  const event = connectEvent(handshake, { apiId: 'a', stage: 's' }, 0)
  const ok = await invokeLambda(
    {
      type: 'lambda',
      handler: async () => ({
        statusCode: 200,
        headers: { 'Sec-WebSocket-Protocol': 'b', 'Set-Cookie': 'x' },
      }),
    },
    event,
    handshake,
    { clock, timeoutMs: 1_000 },
  )
  assert.deepEqual(ok, {
    kind: 'response',
    response: { status: 200, headers: { 'sec-websocket-protocol': 'b' } },
  })
  const junk = await invokeLambda(
    { type: 'lambda', handler: async () => 'nope' },
    event,
    handshake,
    { clock, timeoutMs: 1_000 },
  )
  assert.equal(junk.kind, 'error')
  const thrown = await invokeLambda(
    {
      type: 'lambda',
      handler: async () => {
        throw new Error('x')
      },
    },
    event,
    handshake,
    { clock, timeoutMs: 1_000 },
  )
  assert.equal(thrown.kind, 'error')
  const slow = await invokeLambda(
    { type: 'lambda', handler: () => new Promise(() => {}) },
    event,
    handshake,
    { clock, timeoutMs: 20 },
  )
  assert.equal(slow.kind, 'timeout')
})
