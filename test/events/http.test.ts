import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { manualClock } from '../../src/clock.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { decodeHttpEvent, encodeHttpResponse, routeKeyFromPath } from '../../src/events/http.ts'
import { hashSignedHeaders } from '../../src/events/signing.ts'
import { T0 } from './fixtures.ts'

const BASE = 'http://app.test:8000/ws'
const CONN = 'R1kmxc2VNjMCFIA='

function request(
  path: string,
  headers: Array<[string, string]>,
  body?: BodyInit,
  init: RequestInit = {},
): Request {
  return new Request(`${BASE}/${path}`, {
    method: 'POST',
    headers,
    ...(body === undefined ? {} : { body }),
    ...init,
  } as RequestInit)
}

const gatewayHeaders = (extra: Array<[string, string]> = []): Array<[string, string]> => [
  ['connectionId', CONN],
  ['X-Forwarded-For', '203.0.113.7'],
  ['X-Amzn-Apigateway-Api-Id', 'abc123'],
  ...extra,
]

const invalidEvent = (err: unknown) => isGatehouseError(err, 'ERR_INVALID_EVENT')
const clock = manualClock(T0)

describe('decodeHttpEvent', () => {
  it('reads the route from the last path segment as upstream provisions it', async () => {
    const cases: Array<[string, string, string]> = [
      ['connect', '$connect', 'CONNECT'],
      ['disconnect', '$disconnect', 'DISCONNECT'],
      ['default', '$default', 'MESSAGE'],
      ['sendmessage', 'sendmessage', 'MESSAGE'],
      ['sendmessage/', 'sendmessage', 'MESSAGE'],
      ['%24connect', '$connect', 'CONNECT'],
      ['chat%2Fjoin', 'chat/join', 'MESSAGE'],
    ]
    for (const [path, routeKey, eventType] of cases) {
      const event = await decodeHttpEvent(request(path, gatewayHeaders(), '{}'), { clock })
      assert.equal(event.routeKey, routeKey, path)
      assert.equal(event.eventType, eventType, path)
    }
  })

  it('takes the route from options when given', async () => {
    const event = await decodeHttpEvent(request('anything', gatewayHeaders(), 'x'), {
      routeKey: '$default',
    })
    assert.equal(event.routeKey, '$default')
    assert.equal(event.body, 'x')
  })

  it('rejects a URL that names no valid route', () => {
    for (const path of [
      '/',
      '',
      '/ws/%24other',
      '/ws/%E0%A4%A',
      '/ws/a%20b',
      `/ws/${'a'.repeat(129)}`,
    ]) {
      assert.throws(() => routeKeyFromPath(path), invalidEvent, path)
    }
  })

  it('reads connectionId in any case and rejects a missing, repeated or malformed one', async () => {
    for (const name of ['connectionId', 'connectionid', 'CONNECTIONID', 'Connectionid']) {
      const headers = gatewayHeaders().filter(([n]) => n !== 'connectionId')
      const event = await decodeHttpEvent(request('default', [[name, CONN], ...headers], '{}'))
      assert.equal(event.connectionId, CONN)
    }
    const without = gatewayHeaders().filter(([n]) => n !== 'connectionId')
    for (const route of ['connect', 'disconnect', 'default', 'custom']) {
      await assert.rejects(decodeHttpEvent(request(route, without, '{}')), invalidEvent)
    }
    const twice = [...gatewayHeaders(), ['connectionId', 'OTHERxc2VNjMCFI='] as [string, string]]
    await assert.rejects(decodeHttpEvent(request('default', twice, '{}')), invalidEvent)
    const bad = [['connectionId', 'a b'], ...without] as Array<[string, string]>
    await assert.rejects(decodeHttpEvent(request('default', bad, '{}')), invalidEvent)
  })

  it('lower-cases header names and joins duplicates with ", "', async () => {
    const event = await decodeHttpEvent(
      request(
        'connect',
        gatewayHeaders([
          ['Origin', 'https://a.test'],
          ['X-Custom', 'one'],
          ['x-custom', 'two'],
        ]),
      ),
    )
    assert.equal(event.headers.origin, 'https://a.test')
    assert.equal(event.headers['x-custom'], 'one, two')
    assert.equal(event.headers.Origin, undefined)
  })

  it('keeps the query only on $connect, last value winning, prototype keys as own keys', async () => {
    const url = 'connect?ws_token=t1&channel=a&channel=b&__proto__=x&constructor=y'
    const event = await decodeHttpEvent(request(url, gatewayHeaders()))
    assert.equal(event.rawQuery, 'ws_token=t1&channel=a&channel=b&__proto__=x&constructor=y')
    assert.deepEqual(
      { ...event.query },
      {
        ws_token: 't1',
        channel: 'b',
        ['__proto__']: 'x',
        constructor: 'y',
      },
    )
    assert.equal(Object.hasOwn(event.query, '__proto__'), true)
    assert.equal(({} as Record<string, unknown>).x, undefined)
    const message = await decodeHttpEvent(request('default?ws_token=t1', gatewayHeaders(), '{}'))
    assert.deepEqual({ ...message.query }, {})
    assert.equal(message.rawQuery, '')
  })

  it('reads the raw body on message routes only', async () => {
    const text = '\uFEFF{"action":"ping","emoji":"😀"}'
    const message = await decodeHttpEvent(request('default', gatewayHeaders(), text))
    assert.equal(message.body, text)
    const empty = await decodeHttpEvent(request('default', gatewayHeaders()))
    assert.equal(empty.body, '')
    const connect = await decodeHttpEvent(request('connect', gatewayHeaders(), 'ignored'))
    assert.equal(connect.body, undefined)
    const disconnect = await decodeHttpEvent(request('disconnect', gatewayHeaders(), 'ignored'))
    assert.equal(disconnect.body, undefined)
  })

  it('rejects a body over maxBodyBytes by its Content-Length, unread', async () => {
    let pulled = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1
        controller.enqueue(new Uint8Array(1024))
        if (pulled >= 64) controller.close()
      },
    })
    const req = request('default', gatewayHeaders([['Content-Length', '65536']]), stream, {
      duplex: 'half',
    } as RequestInit)
    await assert.rejects(decodeHttpEvent(req, { maxBodyBytes: 4096 }), invalidEvent)
    assert.ok(pulled <= 2, `pulled ${pulled} chunks`)
  })

  it('stops reading a streamed body as soon as it passes maxBodyBytes', async () => {
    let pulled = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1
        controller.enqueue(new Uint8Array(1024))
        if (pulled >= 1024) controller.close()
      },
    })
    const req = request('default', gatewayHeaders(), stream, { duplex: 'half' } as RequestInit)
    await assert.rejects(decodeHttpEvent(req, { maxBodyBytes: 4096 }), invalidEvent)
    assert.ok(pulled < 16, `pulled ${pulled} chunks`)
  })

  it('accepts a body of exactly maxBodyBytes and defaults to 131072', async () => {
    const exact = 'a'.repeat(131_072)
    assert.equal((await decodeHttpEvent(request('default', gatewayHeaders(), exact))).body, exact)
    await assert.rejects(
      decodeHttpEvent(request('default', gatewayHeaders(), `${exact}a`)),
      invalidEvent,
    )
  })

  it('rejects a body that is not UTF-8', async () => {
    const bytes = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])
    await assert.rejects(decodeHttpEvent(request('default', gatewayHeaders(), bytes)), invalidEvent)
  })

  it('takes the client IP from the LAST X-Forwarded-For entry', async () => {
    const headers = gatewayHeaders().filter(([n]) => n !== 'X-Forwarded-For')
    const spoofed = [...headers, ['X-Forwarded-For', '6.6.6.6, 203.0.113.9'] as [string, string]]
    assert.equal((await decodeHttpEvent(request('connect', spoofed))).sourceIp, '203.0.113.9')
    const v6 = [...headers, ['X-Forwarded-For', '2001:db8::1'] as [string, string]]
    assert.equal((await decodeHttpEvent(request('connect', v6))).sourceIp, '2001:db8::1')
    const realIp = [...headers, ['X-Real-Ip', '198.51.100.4'] as [string, string]]
    const event = await decodeHttpEvent(request('connect', realIp), { sourceIpHeader: 'X-Real-Ip' })
    assert.equal(event.sourceIp, '198.51.100.4')
  })

  it('rejects $connect without a valid client IP; other routes get ""', async () => {
    const headers = gatewayHeaders().filter(([n]) => n !== 'X-Forwarded-For')
    await assert.rejects(decodeHttpEvent(request('connect', headers)), invalidEvent)
    const junk = [...headers, ['X-Forwarded-For', '1.2.3.4, not-an-ip'] as [string, string]]
    await assert.rejects(decodeHttpEvent(request('connect', junk)), invalidEvent)
    assert.equal((await decodeHttpEvent(request('default', headers, '{}'))).sourceIp, '')
  })

  it('reads apiId, user agent, request id and context headers', async () => {
    const connect = await decodeHttpEvent(
      request(
        'connect',
        gatewayHeaders([
          ['User-Agent', 'Mozilla/5.0'],
          ['x-gatehouse-request-id', 'R1knPH17NjMFftw='],
          ['x-gatehouse-connected-at', '1'],
          ['x-gatehouse-stage', 'prod'],
          ['x-gatehouse-domain-name', 'gw.example.test'],
        ]),
      ),
      { clock },
    )
    assert.equal(connect.apiId, 'abc123')
    assert.equal(connect.userAgent, 'Mozilla/5.0')
    assert.equal(connect.requestId, 'R1knPH17NjMFftw=')
    assert.equal(connect.stage, 'prod')
    assert.equal(connect.domainName, 'gw.example.test')
    // On $connect the header could come from the client (AWS forwards handshake headers).
    assert.equal(connect.connectedAt, T0)
    assert.equal(connect.requestTimeEpoch, T0)

    const message = await decodeHttpEvent(
      request(
        'default',
        gatewayHeaders([
          ['User-Agent', 'AmazonAPIGateway_abc123'],
          ['x-gatehouse-user-agent', 'Mozilla/5.0'],
          ['x-gatehouse-message-id', 'R1knPc2ntjMCFIA='],
          ['x-gatehouse-connected-at', String(T0 - 5000)],
        ]),
        '{}',
      ),
      { clock, stage: 'override', domainName: 'ws.example.test' },
    )
    assert.equal(message.userAgent, 'Mozilla/5.0')
    assert.equal(message.messageId, 'R1knPc2ntjMCFIA=')
    assert.equal(message.connectedAt, T0 - 5000)
    assert.equal(message.stage, 'override')
    assert.equal(message.domainName, 'ws.example.test')
  })

  it('generates a request id when the header is missing or malformed', async () => {
    for (const extra of [[], [['x-gatehouse-request-id', 'has space']]] as Array<
      Array<[string, string]>
    >) {
      const event = await decodeHttpEvent(request('default', gatewayHeaders(extra), '{}'))
      assert.match(event.requestId, /^[A-Za-z0-9_-]{15}=$/)
    }
  })

  it('reads the disconnect status code and URI-encoded reason', async () => {
    const event = await decodeHttpEvent(
      request(
        'disconnect',
        gatewayHeaders([
          ['x-gatehouse-disconnect-status-code', '1000'],
          ['x-gatehouse-disconnect-reason', 'Connection%20Closed%20Normally'],
        ]),
      ),
    )
    assert.equal(event.disconnectStatusCode, 1000)
    assert.equal(event.disconnectReason, 'Connection Closed Normally')
  })

  it('moves the signature and secret headers into the transport, out of headers', async () => {
    const event = await decodeHttpEvent(
      request(
        'default',
        gatewayHeaders([
          ['X-Gatehouse-Signature', 'abc'],
          ['x-gatehouse-timestamp', '123'],
          ['x-gatehouse-secret', 's3cret'],
        ]),
        '{}',
      ),
    )
    const signedHeaders = gatewayHeaders([
      ['x-gatehouse-secret', 's3cret'],
      ['Content-Type', 'text/plain;charset=UTF-8'],
    ])
    assert.deepEqual(event.transport, {
      via: 'http',
      signature: 'abc',
      timestamp: '123',
      staticSecret: 's3cret',
      // What the signature covers of the request itself, read because it is signed.
      request: {
        method: 'POST',
        path: '/ws/default',
        rawQuery: '',
        headersHash: hashSignedHeaders(signedHeaders),
      },
    })
    assert.equal(
      Object.keys(event.headers).some((k) => k.startsWith('x-gatehouse-')),
      false,
    )
    const unsigned = await decodeHttpEvent(request('default', gatewayHeaders(), '{}'))
    assert.deepEqual(unsigned.transport, { via: 'http' })
  })

  it('reads the method, path and query of a signed call on every route', async () => {
    const event = await decodeHttpEvent(
      request('default?stage=x&a=%20b', gatewayHeaders([['x-gatehouse-signature', 'abc']]), '{}', {
        method: 'PUT',
      }),
    )
    assert.equal(event.transport.via, 'http')
    const signed = event.transport.via === 'http' ? event.transport.request : undefined
    assert.equal(signed?.method, 'PUT')
    assert.equal(signed?.path, '/ws/default')
    assert.equal(signed?.rawQuery, 'stage=x&a=%20b')
    // The event's own query stays $connect-only.
    assert.deepEqual({ ...event.query }, {})
  })

  it('leaves the hop-by-hop headers of the call itself out of the event', async () => {
    const event = await decodeHttpEvent(
      request(
        'connect',
        gatewayHeaders([
          ['Connection', 'keep-alive'],
          ['Keep-Alive', 'timeout=5'],
          ['Cookie', 'a=1'],
        ]),
      ),
    )
    assert.equal(event.headers.connection, undefined)
    assert.equal(event.headers['keep-alive'], undefined)
    assert.equal(event.headers.cookie, 'a=1')
  })
})

describe('encodeHttpResponse', () => {
  it('sends status, body, headers and cache-control: no-store', async () => {
    const res = encodeHttpResponse({
      status: 429,
      body: 'Too Many Requests',
      headers: { 'retry-after': '12', 'cache-control': 'public' },
    })
    assert.equal(res.status, 429)
    assert.equal(res.headers.get('retry-after'), '12')
    assert.equal(res.headers.get('cache-control'), 'no-store')
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8')
    assert.equal(await res.text(), 'Too Many Requests')
  })

  it('types JSON bodies as JSON', async () => {
    const res = encodeHttpResponse({ status: 200, body: ' {"ok":true}' })
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8')
    const notJson = encodeHttpResponse({ status: 200, body: '{not json' })
    assert.equal(notJson.headers.get('content-type'), 'text/plain; charset=utf-8')
    const noBody = encodeHttpResponse({ status: 200 })
    assert.equal(noBody.headers.get('content-type'), null)
    assert.equal(await noBody.text(), '')
  })

  it('fails closed on an impossible status and drops unsafe headers', async () => {
    for (const status of [101, 0, 600, 200.5, Number.NaN]) {
      const res = encodeHttpResponse({
        status,
        body: 'x',
        headers: { 'sec-websocket-protocol': 'p' },
      })
      assert.equal(res.status, 500)
      assert.equal(res.headers.get('sec-websocket-protocol'), null)
    }
    const res = encodeHttpResponse({
      status: 200,
      headers: { 'x-bad': 'a\r\nSet-Cookie: x=1', 'bad name': 'v', 'x-ok': 'v' },
    })
    assert.equal(res.headers.get('x-bad'), null)
    assert.equal(res.headers.get('set-cookie'), null)
    assert.equal(res.headers.get('x-ok'), 'v')
    assert.equal(encodeHttpResponse({ status: 204, body: 'dropped' }).status, 204)
  })
})
