import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isGatehouseError } from '../../../src/errors.ts'
import type { IntegrationRequest } from '../../../src/events/integration-request.ts'
import { connectEvent, type Handshake, messageEvent } from '../../../src/gateway/handshake.ts'
import {
  compileRequestParameters,
  mapperFor,
} from '../../../src/gateway/integrations/request-parameters.ts'

const handshake: Handshake = {
  connectionId: 'R1kmxc2VNjMCFIA=',
  connectedAt: 1_700_000_000_000,
  headers: { 'x-a': '1, 2', cookie: 'c' },
  rawHeaders: ['X-A', '1', 'x-a', '2', 'Cookie', 'c'],
  query: { q: 'z' },
  rawQuery: 'q=y&q=z',
  sourceIp: '127.0.0.1',
  userAgent: 'UA',
  domainName: 'd',
  localPort: 1,
}
const api = { apiId: 'abc', stage: 'dev' }
const base: IntegrationRequest = {
  method: 'POST',
  url: 'http://b/x',
  headers: [
    ['Host', 'b'],
    ['connectionId', 'old'],
    ['Content-Length', '0'],
  ],
  body: '',
}

test('sources resolve; Content-Length stays last; a mapped header replaces the same name', () => {
  const map = compileRequestParameters(
    {
      'integration.request.header.connectionId': 'context.connectionId',
      'integration.request.header.X-Multi': 'route.request.multivalueheader.x-a',
      'integration.request.header.X-Time': 'context.requestTime',
      'integration.request.querystring.q': 'route.request.querystring.q',
      'integration.request.querystring.all': 'route.request.multivaluequerystring.q',
      'integration.request.header.X-Missing': 'route.request.header.absent',
    },
    'routes.$connect',
  )
  const out = map(base, connectEvent(handshake, api, 1_700_000_000_000), handshake)
  assert.deepEqual(out.headers.at(-1), ['Content-Length', '0'])
  assert.deepEqual(
    out.headers.filter(([n]) => n.toLowerCase() === 'connectionid'),
    [['connectionId', 'R1kmxc2VNjMCFIA=']],
  )
  assert.deepEqual(
    out.headers.find(([n]) => n === 'X-Multi'),
    ['X-Multi', '1,2'],
  )
  assert.deepEqual(
    out.headers.find(([n]) => n === 'X-Time'),
    ['X-Time', '14/Nov/2023:22:13:20 +0000'],
  )
  assert.equal(
    out.headers.find(([n]) => n === 'X-Missing'),
    undefined,
  )
  assert.equal(out.url, 'http://b/x?q=z&all=y%2Cz')
})

test('route.request.* is $connect only; body paths are messages only; hostile values are dropped', () => {
  const map = compileRequestParameters(
    {
      'integration.request.header.X-Q': 'route.request.querystring.q',
      'integration.request.header.X-Body': 'route.request.body.meta.kind',
      'integration.request.header.X-Proto': 'route.request.body.__proto__',
    },
    'routes.$default',
  )
  const ok = map(
    base,
    messageEvent(handshake, api, '$default', '{"meta":{"kind":"k"}}', 0),
    handshake,
  )
  assert.equal(
    ok.headers.find(([n]) => n === 'X-Q'),
    undefined,
  )
  assert.deepEqual(
    ok.headers.find(([n]) => n === 'X-Body'),
    ['X-Body', 'k'],
  )
  assert.equal(
    ok.headers.find(([n]) => n === 'X-Proto'),
    undefined,
  )
  const injected = map(
    base,
    messageEvent(handshake, api, '$default', '{"meta":{"kind":"a\\r\\nSet-Cookie: x=1"}}', 0),
    handshake,
  )
  assert.equal(
    injected.headers.find(([n]) => n === 'X-Body'),
    undefined,
  )
})

test('bad mappings fail at compile time', () => {
  const bad = [
    { 'integration.request.path.x': 'context.stage' },
    { 'integration.request.header.bad name': 'context.stage' },
    { 'integration.request.header.Content-Length': "'1'" },
    { 'integration.request.header.x-gatehouse-signature': "'1'" },
    { 'integration.request.header.x': 'context.authorizer.principalId' },
    { 'integration.request.header.x': 'stageVariables.v' },
    { 'integration.request.header.x': 'context.constructor' },
  ]
  for (const params of bad) {
    assert.throws(
      () => compileRequestParameters(params, 'r'),
      (err) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
      JSON.stringify(params),
    )
  }
  assert.throws(
    () => mapperFor({ requestParameters: [] as never }, 'r'),
    (err) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
  )
  const integration = { requestParameters: {} }
  assert.equal(mapperFor(integration, 'r'), mapperFor(integration, 'r'))
})
