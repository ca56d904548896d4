import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DEFAULTS } from '../../src/defaults.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { createGateway } from '../../src/gateway/gateway.ts'
import {
  type GatewayOptions,
  randomApiId,
  resolveGatewayOptions,
} from '../../src/gateway/options.ts'
import { connectClient } from '../conformance/gateway/support/harness.ts'

const handler = { handle: async () => ({ status: 200 }) }

function rejects(options: unknown, code: 'ERR_INVALID_OPTION' | 'ERR_OPTION_CONFLICT'): void {
  assert.throws(
    () => resolveGatewayOptions(options as GatewayOptions),
    (err) => isGatehouseError(err, code),
  )
}

test('defaults come from the shared table (AWS quotas) and the gateway table', () => {
  const o = resolveGatewayOptions()
  assert.equal(o.maxMessageBytes, DEFAULTS.maxMessageBytes)
  assert.equal(o.maxFrameBytes, DEFAULTS.maxFrameBytes)
  assert.equal(o.idleTimeoutMs, DEFAULTS.idleTimeoutMs)
  assert.equal(o.maxConnectionMs, DEFAULTS.maxConnectionMs)
  assert.equal(o.integrationTimeoutMs, 29_000)
  assert.equal(o.maxBufferedBytes, DEFAULTS.maxBufferedBytes)
  assert.equal(o.messageBurst, DEFAULTS.messageBurst)
  assert.equal(o.maxFragments, DEFAULTS.maxFragments)
  assert.equal(o.maxInFlightPerConnection, 1)
  assert.equal(o.stage, 'production')
  assert.equal(o.host, '127.0.0.1')
  assert.equal(o.routeSelectionExpression, '$request.body.action')
  assert.match(o.apiId, /^[a-z0-9]{10}$/)
  assert.notEqual(randomApiId(), randomApiId())
  assert.ok(Object.isFrozen(o))
})

test('overrides are applied', () => {
  const o = resolveGatewayOptions({
    idleTimeoutMs: 200,
    stage: 'dev',
    apiId: 'abc',
    routes: { $default: { type: 'in-process', handler } },
  })
  assert.equal(o.idleTimeoutMs, 200)
  assert.equal(o.stage, 'dev')
  assert.equal(o.routes.get('$default')?.type, 'in-process')
})

test('invalid values and unknown keys are ERR_INVALID_OPTION', () => {
  rejects({ idleTimeout: 5 }, 'ERR_INVALID_OPTION')
  rejects({ idleTimeoutMs: 0 }, 'ERR_INVALID_OPTION')
  rejects({ maxMessageBytes: 1.5 }, 'ERR_INVALID_OPTION')
  rejects({ maxMessageBytes: '1' }, 'ERR_INVALID_OPTION')
  rejects({ port: 70_000 }, 'ERR_INVALID_OPTION')
  rejects({ stage: 'a/b' }, 'ERR_INVALID_OPTION')
  rejects({ apiId: 'x y' }, 'ERR_INVALID_OPTION')
  rejects({ integrationTimeoutMs: 10 }, 'ERR_INVALID_OPTION')
  rejects({ trustedProxies: ['not an ip'] }, 'ERR_INVALID_OPTION')
  rejects({ clock: {} }, 'ERR_INVALID_OPTION')
  rejects({ logger: { info() {} } }, 'ERR_INVALID_OPTION')
})

test('routes are checked: reserved keys, integration shapes, URLs, secrets', () => {
  rejects({ routes: { $custom: { type: 'in-process', handler } } }, 'ERR_INVALID_OPTION')
  rejects({ routes: { $default: { type: 'queue' } } }, 'ERR_INVALID_OPTION')
  rejects({ routes: { $default: { type: 'in-process', handler: () => {} } } }, 'ERR_INVALID_OPTION')
  rejects({ routes: { $default: { type: 'lambda', handler: {} } } }, 'ERR_INVALID_OPTION')
  rejects({ routes: { $default: { type: 'http', url: 'ftp://x/' } } }, 'ERR_INVALID_OPTION')
  rejects({ routes: { $default: { type: 'http', url: 'http://u:p@x/' } } }, 'ERR_INVALID_OPTION')
  rejects(
    { routes: { $default: { type: 'http', url: 'http://x/', secret: 'short' } } },
    'ERR_INVALID_OPTION',
  )
  rejects(
    { routes: { $default: { type: 'http', url: 'http://x/', method: 'get' } } },
    'ERR_INVALID_OPTION',
  )
  rejects(
    { routes: { $default: { type: 'http', url: 'http://x/', extra: 1 } } },
    'ERR_INVALID_OPTION',
  )
  rejects(
    { routes: { $default: { type: 'http', url: 'http://x/', timeoutMs: 40_000 } } },
    'ERR_INVALID_OPTION',
  )
  rejects(
    {
      routes: {
        $default: {
          type: 'http',
          url: 'http://x/',
          requestParameters: { 'integration.request.header.x': 'context.nope' },
        },
      },
    },
    'ERR_INVALID_OPTION',
  )
  const ok = resolveGatewayOptions({
    routes: {
      'chat/join': { type: 'http', url: 'https://app.example/ws/', secret: 'x'.repeat(32) },
    },
  })
  assert.equal(ok.routes.size, 1)
})

test('contradicting options are ERR_OPTION_CONFLICT', () => {
  rejects({ maxFrameBytes: 200_000 }, 'ERR_OPTION_CONFLICT')
  rejects({ maxConnections: 10, maxConnectionsPerIp: 11 }, 'ERR_OPTION_CONFLICT')
  rejects({ maxPendingHandshakes: 2, maxPendingHandshakesPerIp: 3 }, 'ERR_OPTION_CONFLICT')
  rejects({ headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 }, 'ERR_OPTION_CONFLICT')
  rejects({ maxInFlightPerConnection: 30 }, 'ERR_OPTION_CONFLICT')
  rejects(
    { routes: { $connect: { type: 'in-process', handler, twoWay: true } } },
    'ERR_OPTION_CONFLICT',
  )
  rejects(
    { routes: { $disconnect: { type: 'in-process', handler, twoWay: true } } },
    'ERR_OPTION_CONFLICT',
  )
})

test('routes are copied at construction: changing the caller’s integration later changes nothing', async (t) => {
  const refuse = { handle: async () => ({ status: 403 }) }
  const accept = { handle: async () => ({ status: 200 }) }
  const routes: Record<string, { type: 'in-process'; handler: typeof refuse; twoWay?: boolean }> = {
    $connect: { type: 'in-process', handler: refuse },
  }
  const gateway = createGateway({ port: 0, routes })
  t.after(() => gateway.close({ drainMs: 0 }))
  const { url } = await gateway.listen()
  // Swapping the handler, or the whole route, on the caller's objects must not open the door.
  routes.$connect!.handler = accept
  routes.$connect = { type: 'in-process', handler: accept }
  await assert.rejects(connectClient(url), { status: 403 })
})
