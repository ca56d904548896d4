import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isGatehouseError } from '../../src/errors.ts'
import type { GatewayEvent } from '../../src/events/event.ts'
import {
  fromLambdaEvent,
  fromLambdaResult,
  type LambdaWebSocketEvent,
  toLambdaEvent,
  toLambdaResult,
} from '../../src/events/lambda.ts'
import { CONNECT_RAW_HEADERS, connectEvent, disconnectEvent, messageEvent, T0 } from './fixtures.ts'

const PROTO = '__proto__'

/** JSON round trip: what the function really receives. */
const wire = (e: LambdaWebSocketEvent) => JSON.parse(JSON.stringify(e)) as LambdaWebSocketEvent

describe('toLambdaEvent (§7 items 29–31)', () => {
  it('builds CONNECT with the client headers in their casing, query and no body', () => {
    const event = wire(
      toLambdaEvent(connectEvent(), {
        rawHeaders: [...CONNECT_RAW_HEADERS, 'X-Forwarded-For', '6.6.6.6', 'Cookie', 'second=1'],
      }),
    )
    const headers = event.headers ?? {}
    assert.equal(headers.Host, 'gw.example.test:8080')
    assert.equal(headers.Origin, 'https://app.example.test')
    assert.equal(headers['Sec-WebSocket-Key'], 'dGhlIHNhbXBsZSBub25jZQ==')
    assert.equal(headers['User-Agent'], 'Mozilla/5.0 Test')
    assert.equal(headers.Connection, undefined)
    assert.equal(headers.Upgrade, undefined)
    assert.equal(headers['X-Forwarded-For'], '203.0.113.7')
    assert.equal(headers['X-Forwarded-Proto'], 'https')
    assert.equal(headers['X-Forwarded-Port'], '443')
    assert.match(headers['X-Amzn-Trace-Id'] ?? '', /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/)
    assert.equal(headers.cookie, undefined)
    assert.equal(headers.Cookie, 'second=1') // last value wins in `headers`
    assert.deepEqual(event.multiValueHeaders?.Cookie, ['sessionid=abc; csrftoken=def', 'second=1'])
    assert.deepEqual(event.multiValueHeaders?.['X-Forwarded-For'], ['203.0.113.7'])
    assert.deepEqual(event.queryStringParameters, { ws_token: 'tok', channel: 'room1' })
    assert.deepEqual(event.multiValueQueryStringParameters, {
      ws_token: ['tok'],
      channel: ['room1'],
    })
    assert.equal('body' in event, false)
    assert.equal(event.isBase64Encoded, false)
    assert.equal('stageVariables' in event, false)
  })

  it('fills the CONNECT request context as AWS does', () => {
    const ctx = wire(toLambdaEvent(connectEvent())).requestContext
    assert.deepEqual(ctx, {
      routeKey: '$connect',
      eventType: 'CONNECT',
      extendedRequestId: 'R1knPH17NjMFftw=',
      requestTime: '20/Jan/2024:11:55:00 +0000',
      messageDirection: 'IN',
      stage: 'prod',
      connectedAt: T0,
      requestTimeEpoch: T0,
      identity: { sourceIp: '203.0.113.7', userAgent: 'Mozilla/5.0 Test' },
      requestId: 'R1knPH17NjMFftw=',
      domainName: 'gw.example.test',
      connectionId: 'R1kmxc2VNjMCFIA=',
      apiId: 'abc123',
    })
  })

  it('omits the query when the handshake had none', () => {
    const event = toLambdaEvent(connectEvent({ rawQuery: '', query: {} }))
    assert.equal('queryStringParameters' in event, false)
    assert.equal('multiValueQueryStringParameters' in event, false)
  })

  it('builds MESSAGE with the body and message id, without headers or query', () => {
    const event = wire(toLambdaEvent(messageEvent({ rawQuery: 'a=1' })))
    assert.equal(event.body, '{"action":"ping","n":1}')
    assert.equal('headers' in event, false)
    assert.equal('multiValueHeaders' in event, false)
    assert.equal('queryStringParameters' in event, false)
    assert.equal(event.requestContext.messageId, 'R1knPc2ntjMCFIA=')
    assert.equal(event.requestContext.eventType, 'MESSAGE')
    assert.equal(event.requestContext.routeKey, '$default')
    assert.equal(event.requestContext.connectedAt, T0)
    assert.equal(event.requestContext.requestTime, '20/Jan/2024:11:55:03 +0000')
    assert.equal('disconnectStatusCode' in event.requestContext, false)
  })

  it('builds DISCONNECT with the header stub and the close code and reason', () => {
    const event = wire(toLambdaEvent(disconnectEvent()))
    assert.deepEqual(event.headers, {
      Host: 'gw.example.test',
      'x-api-key': '',
      'X-Forwarded-For': '',
      'x-restapi': '',
    })
    assert.deepEqual(event.multiValueHeaders, {
      Host: ['gw.example.test'],
      'x-api-key': [''],
      'X-Forwarded-For': [''],
      'x-restapi': [''],
    })
    assert.equal(event.requestContext.disconnectStatusCode, 1001)
    assert.equal(event.requestContext.disconnectReason, 'going away')
    assert.equal('messageId' in event.requestContext, false)
    assert.equal('body' in event, false)
    assert.deepEqual(event.requestContext.identity, {
      sourceIp: '203.0.113.7',
      userAgent: 'Mozilla/5.0 Test',
    })
  })

  it('passes stage variables on every event', () => {
    for (const e of [connectEvent(), messageEvent(), disconnectEvent()]) {
      assert.deepEqual(toLambdaEvent(e, { stageVariables: { env: 'prod' } }).stageVariables, {
        env: 'prod',
      })
    }
  })

  it('keeps hostile header and query names as plain own keys', () => {
    const event = toLambdaEvent(connectEvent({ rawQuery: '__proto__=x&constructor=y' }), {
      rawHeaders: ['__proto__', 'v', 'constructor', 'w'],
    })
    assert.equal(Object.getPrototypeOf(event.headers), Object.prototype)
    assert.equal(Object.hasOwn(event.headers ?? {}, '__proto__'), true)
    assert.deepEqual(event.multiValueHeaders?.[PROTO], ['v'])
    assert.equal(event.queryStringParameters?.[PROTO], 'x')
    assert.equal(({} as Record<string, unknown>).v, undefined)
  })
})

describe('fromLambdaEvent', () => {
  const strip = (e: GatewayEvent) => ({ ...e, headers: { ...e.headers }, query: { ...e.query } })

  it('reads back what toLambdaEvent wrote (transport lambda)', () => {
    const message = messageEvent()
    assert.deepEqual(strip(fromLambdaEvent(wire(toLambdaEvent(message)))), {
      ...message,
      query: {},
      transport: { via: 'lambda' },
    })
    const gone = disconnectEvent()
    assert.deepEqual(strip(fromLambdaEvent(wire(toLambdaEvent(gone)))), {
      ...gone,
      transport: { via: 'lambda' },
    })
    const connect = fromLambdaEvent(
      wire(toLambdaEvent(connectEvent(), { rawHeaders: CONNECT_RAW_HEADERS })),
    )
    assert.equal(connect.rawQuery, 'ws_token=tok&channel=room1')
    assert.deepEqual({ ...connect.query }, { ws_token: 'tok', channel: 'room1' })
    assert.equal(connect.headers.cookie, 'sessionid=abc; csrftoken=def')
    assert.equal(connect.headers.origin, 'https://app.example.test')
    assert.equal(connect.headers['x-forwarded-for'], '203.0.113.7')
    assert.equal(connect.headers.Origin, undefined)
    assert.equal(connect.userAgent, 'Mozilla/5.0 Test')
  })

  it('reads an AWS-shaped event (nulls, multi-value headers, repeated query keys)', () => {
    const aws = {
      headers: { Host: 'x.execute-api.test', Cookie: 'b=2' },
      multiValueHeaders: { Host: ['x.execute-api.test'], Cookie: ['a=1', 'b=2'] },
      queryStringParameters: { channel: 'two' },
      multiValueQueryStringParameters: { channel: ['one', 'two'] },
      requestContext: {
        routeKey: '$connect',
        messageId: null,
        eventType: 'CONNECT',
        extendedRequestId: 'TWegAcC4EowCHnA=',
        requestTime: '07/Jan/2019:09:20:57 +0000',
        messageDirection: 'IN',
        stage: 'prod',
        connectedAt: 1547230720092,
        requestTimeEpoch: 1547230720092,
        identity: { sourceIp: '192.0.2.1', userAgent: null },
        requestId: 'TWegAcC4EowCHnA=',
        domainName: 'x.execute-api.test',
        connectionId: 'TWegAcC4EowCHnA=',
        apiId: 'x',
      },
      isBase64Encoded: false,
    } as unknown as LambdaWebSocketEvent
    const event = fromLambdaEvent(aws)
    assert.equal(event.eventType, 'CONNECT')
    assert.equal(event.headers.cookie, 'a=1, b=2')
    assert.equal(event.query.channel, 'two')
    assert.equal(event.rawQuery, 'channel=one&channel=two')
    assert.equal(event.userAgent, undefined)
    assert.equal(event.messageId, undefined)
    assert.equal(event.sourceIp, '192.0.2.1')
  })

  it('decodes a base64 body', () => {
    const raw = wire(toLambdaEvent(messageEvent()))
    const event = fromLambdaEvent({
      ...raw,
      body: Buffer.from('{"a":1}').toString('base64'),
      isBase64Encoded: true,
    })
    assert.equal(event.body, '{"a":1}')
  })

  it('rejects events that are not WebSocket proxy events', () => {
    const good = wire(toLambdaEvent(messageEvent()))
    const bad: unknown[] = [
      null,
      'x',
      {},
      { requestContext: null },
      { ...good, requestContext: { ...good.requestContext, connectionId: 'a b' } },
      { ...good, requestContext: { ...good.requestContext, connectionId: undefined } },
      { ...good, requestContext: { ...good.requestContext, routeKey: '' } },
      { ...good, requestContext: { ...good.requestContext, eventType: 'CONNECT' } },
      { ...good, body: undefined },
      { ...good, body: 42 },
    ]
    for (const event of bad) {
      assert.throws(
        () => fromLambdaEvent(event as LambdaWebSocketEvent),
        (err: unknown) => isGatehouseError(err, 'ERR_INVALID_EVENT'),
      )
    }
  })
})

describe('toLambdaResult / fromLambdaResult (§7 item 42)', () => {
  it('writes the protocol header as Sec-WebSocket-Protocol', () => {
    assert.deepEqual(
      toLambdaResult({ status: 200, headers: { 'sec-websocket-protocol': 'gatehouse.v1' } }),
      {
        statusCode: 200,
        headers: { 'Sec-WebSocket-Protocol': 'gatehouse.v1' },
      },
    )
    assert.deepEqual(toLambdaResult({ status: 401, body: 'Unauthorized' }), {
      statusCode: 401,
      body: 'Unauthorized',
    })
  })

  it('keeps a numeric Retry-After (like the HTTP integration) and drops a malformed one', () => {
    assert.deepEqual(
      fromLambdaResult({ statusCode: 429, headers: { 'Retry-After': '12' } }).headers,
      {
        'retry-after': '12',
      },
    )
    assert.equal(
      fromLambdaResult({ statusCode: 429, headers: { 'Retry-After': '1\r\nX: y' } }).headers,
      undefined,
    )
  })

  it('honours only Sec-WebSocket-Protocol among returned headers', () => {
    const response = fromLambdaResult({
      statusCode: 200,
      headers: { 'Sec-WebSocket-Protocol': 'gatehouse.v1', 'Set-Cookie': 'a=1', 'X-Other': 'b' },
      body: 'ok',
    })
    assert.deepEqual(response, {
      status: 200,
      body: 'ok',
      headers: { 'sec-websocket-protocol': 'gatehouse.v1' },
    })
    assert.deepEqual(fromLambdaResult({ statusCode: 403, headers: { 'set-cookie': 'a=1' } }), {
      status: 403,
    })
    assert.deepEqual(fromLambdaResult({ statusCode: 200, body: null }), { status: 200 })
  })

  it('reads back what toLambdaResult wrote', () => {
    const original = { status: 200, body: '{}', headers: { 'sec-websocket-protocol': 'p1' } }
    assert.deepEqual(
      fromLambdaResult(JSON.parse(JSON.stringify(toLambdaResult(original)))),
      original,
    )
  })

  it('rejects malformed results with ERR_INTEGRATION_FAILED', () => {
    const bad: unknown[] = [
      undefined,
      null,
      'ok',
      [],
      {},
      { statusCode: '200' },
      { statusCode: 200.5 },
      { statusCode: 99 },
      { statusCode: 600 },
      { statusCode: 200, body: { a: 1 } },
      { statusCode: 200, headers: { 'Sec-WebSocket-Protocol': 'a\r\nSet-Cookie: x=1' } },
      { statusCode: 200, headers: { 'sec-websocket-protocol': 5 } },
    ]
    for (const result of bad) {
      assert.throws(
        () => fromLambdaResult(result),
        (err: unknown) => isGatehouseError(err, 'ERR_INTEGRATION_FAILED'),
        JSON.stringify(result) ?? String(result),
      )
    }
  })

  it('never throws anything but ERR_INTEGRATION_FAILED, never passes other headers (property)', () => {
    fc.assert(
      fc.property(fc.anything(), (result) => {
        try {
          const response = fromLambdaResult(result)
          for (const name of Object.keys(response.headers ?? {})) {
            assert.equal(name, 'sec-websocket-protocol')
          }
        } catch (err) {
          assert.ok(isGatehouseError(err, 'ERR_INTEGRATION_FAILED'))
        }
      }),
    )
  })
})
