import assert from 'node:assert/strict'
import { once } from 'node:events'
import { type AddressInfo, connect, createServer, type Socket } from 'node:net'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  connectEvent,
  disconnectEvent,
  type Handshake,
  identityOf,
  lowerCaseHeaders,
  messageEvent,
  parseQuery,
} from '../../src/gateway/handshake.ts'

const handshake: Handshake = {
  connectionId: 'R1kmxc2VNjMCFIA=',
  connectedAt: 1_000,
  headers: { 'user-agent': 'UA', cookie: 'a=b' },
  rawHeaders: ['User-Agent', 'UA', 'Cookie', 'a=b'],
  query: { channel: 'x' },
  rawQuery: 'channel=x',
  sourceIp: '127.0.0.1',
  userAgent: 'UA',
  domainName: '127.0.0.1:3001',
  localPort: 3001,
}
const api = { apiId: 'abc', stage: 'dev' }

test('headers are lower-cased; duplicates are joined, never lost', () => {
  assert.deepEqual(lowerCaseHeaders(['Host', 'h', 'X-A', '1', 'x-a', '2', 'Cookie', 'c']), {
    host: 'h',
    'x-a': '1, 2',
    cookie: 'c',
  })
})

test('a header named __proto__ is an own key and leaves the prototype alone', () => {
  const headers = lowerCaseHeaders(['__proto__', 'polluted', 'constructor', 'x'])
  assert.equal(Object.getPrototypeOf(headers), Object.prototype)
  assert.equal(Object.hasOwn(headers, '__proto__'), true)
  assert.equal(({} as Record<string, unknown>).polluted, undefined)
})

test('the query keeps the last value of a repeated key', () => {
  assert.deepEqual(parseQuery('ws_token=a&channel=x&channel=y&e=%ZZ'), {
    ws_token: 'a',
    channel: 'y',
    e: '%ZZ',
  })
  assert.equal(Object.getPrototypeOf(parseQuery('__proto__=1')), Object.prototype)
})

test('only $connect carries headers and query; every event has the identity and connectedAt', () => {
  const c = connectEvent(handshake, api, 2_000)
  const m = messageEvent(handshake, api, '$default', 'hi', 3_000)
  const d = disconnectEvent(handshake, api, 1001, 'Going away', 4_000)
  assert.equal(c.headers.cookie, 'a=b')
  assert.equal(c.query.channel, 'x')
  for (const e of [m, d]) {
    assert.deepEqual(e.headers, {})
    assert.deepEqual(e.query, {})
    assert.equal(e.rawQuery, '')
  }
  for (const e of [c, m, d]) {
    assert.equal(e.connectedAt, 1_000)
    assert.equal(e.sourceIp, '127.0.0.1')
    assert.equal(e.userAgent, 'UA')
    assert.deepEqual(e.transport, { via: 'in-process' })
  }
  assert.equal(c.messageId, undefined)
  assert.match(m.messageId ?? '', /^[A-Za-z0-9_-]{15}=$/)
  assert.equal(m.body, 'hi')
  assert.equal(d.disconnectStatusCode, 1001)
  assert.equal(d.disconnectReason, 'Going away')
  assert.equal(new Set([c.requestId, m.requestId, d.requestId]).size, 3)
  assert.equal(m.requestTimeEpoch, 3_000)
})

test('event headers drop what the gateway owns and carry the resolved client address', async () => {
  const { eventHeaders } = await import('../../src/gateway/handshake.ts')
  const headers = eventHeaders(
    {
      host: 'h',
      cookie: 'c',
      'x-forwarded-for': '6.6.6.6',
      'x-real-ip': '6.6.6.6',
      connectionid: 'forged',
      'x-amzn-apigateway-api-id': 'forged',
      'x-gatehouse-signature': 'forged',
      forwarded: 'for=6.6.6.6',
    },
    '127.0.0.1',
  )
  assert.deepEqual(headers, { host: 'h', cookie: 'c', 'x-forwarded-for': '127.0.0.1' })
})

test('identityOf keeps exactly the six facts every later event needs, nothing of the handshake', () => {
  const identity = identityOf(handshake)
  assert.deepEqual(Object.keys(identity).sort(), [
    'connectedAt',
    'connectionId',
    'domainName',
    'localPort',
    'sourceIp',
    'userAgent',
  ])
  assert.deepEqual(identity, {
    connectionId: 'R1kmxc2VNjMCFIA=',
    connectedAt: 1_000,
    sourceIp: '127.0.0.1',
    userAgent: 'UA',
    domainName: '127.0.0.1:3001',
    localPort: 3001,
  })
  const m = messageEvent(identity, api, '$default', 'x', 2_000)
  assert.equal(m.userAgent, 'UA')
  assert.deepEqual(m.headers, {})
})

test('localEndpoint: one shared endpoint per listening server, recomputed when it listens again', async () => {
  const { localEndpoint } = await import('../../src/gateway/handshake.ts')
  const accepted: Socket[] = []
  const server = createServer((socket) => accepted.push(socket))
  const listen = () =>
    new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
    )
  const connectTwice = async (port: number) => {
    const clients = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')]
    await Promise.all(clients.map((c) => once(c, 'connect')))
    for (let i = 0; i < 50 && accepted.length < 2; i++) await new Promise((r) => setTimeout(r, 5))
    const sockets = accepted.splice(0)
    const endpoints = sockets.map((s) => localEndpoint(s))
    for (const c of clients) c.destroy()
    for (const s of sockets) s.destroy()
    return { endpoints, clients }
  }
  try {
    const port = await listen()
    const first = await connectTwice(port)
    assert.deepEqual(first.endpoints[0], { domainName: `127.0.0.1:${port}`, localPort: port })
    assert.equal(first.endpoints[0], first.endpoints[1])
    // A socket no server accepted (the client side) is asked itself.
    const client = connect(port, '127.0.0.1')
    await once(client, 'connect')
    assert.equal(localEndpoint(client).localPort, client.localPort)
    client.destroy()
    await new Promise((resolve) => server.close(resolve))
    const again = await listen()
    const second = await connectTwice(again)
    assert.deepEqual(second.endpoints[0], { domainName: `127.0.0.1:${again}`, localPort: again })
  } finally {
    server.close()
  }
})

test('property: handshakeHeaders is eventHeaders(lowerCaseHeaders(raw)) in one pass, order included', async () => {
  const { eventHeaders, handshakeHeaders } = await import('../../src/gateway/handshake.ts')
  const name = fc.oneof(
    fc.constantFrom(
      'Host',
      'Cookie',
      'cookie',
      'X-Forwarded-For',
      'X-Real-Ip',
      'X-Amzn-Trace-Id',
      'x-gatehouse-sig',
      'connectionId',
      'Forwarded',
      'Via',
      '__proto__',
      '123',
      'User-Agent',
    ),
    fc.stringMatching(/^[A-Za-z0-9-]{1,12}$/),
  )
  fc.assert(
    fc.property(
      fc.array(fc.tuple(name, fc.string({ maxLength: 8 })), { maxLength: 20 }),
      (pairs) => {
        const raw = pairs.flat()
        const expected = eventHeaders(lowerCaseHeaders(raw), '127.0.0.1')
        const actual = handshakeHeaders(raw, '127.0.0.1')
        assert.deepEqual(actual, expected)
        assert.deepEqual(Object.keys(actual), Object.keys(expected))
      },
    ),
    { numRuns: 300 },
  )
})
