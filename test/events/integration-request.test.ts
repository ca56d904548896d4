import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { manualClock } from '../../src/clock.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { isHeaderName, isHeaderValue } from '../../src/events/headers.ts'
import {
  type IntegrationRequest,
  type IntegrationTarget,
  integrationHeadersAreSafe,
  integrationUrlFor,
  signIntegrationRequest,
  toIntegrationRequest,
} from '../../src/events/integration-request.ts'
import {
  CONNECT_RAW_HEADERS,
  connectEvent,
  disconnectEvent,
  messageEvent,
  SECRET,
  T0,
} from './fixtures.ts'

const target: IntegrationTarget = {
  url: 'http://app.test:8000/ws/connect',
  apiId: 'abc123',
  clock: manualClock(T0),
}

function values(req: IntegrationRequest, name: string): string[] {
  return req.headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v)
}
function one(req: IntegrationRequest, name: string): string | undefined {
  const found = values(req, name)
  assert.ok(found.length <= 1, `${name} sent ${found.length} times`)
  return found[0]
}

const OWNED_CLIENT_HEADERS: readonly string[] = [
  'X-Forwarded-For',
  '9.9.9.9',
  'x-forwarded-proto',
  'gopher',
  'X-Forwarded-Port',
  '1',
  'X-Forwarded-Host',
  'evil.test',
  'Forwarded',
  'for=9.9.9.9',
  'X-Real-Ip',
  '9.9.9.9',
  'ConnectionId',
  'VICTIMc2VNjMCFI=',
  'X-Amzn-Apigateway-Api-Id',
  'other',
  'X-Amzn-Trace-Id',
  'Root=1-00000000-000000000000000000000000',
  'x-gatehouse-signature',
  'f'.repeat(64),
  'X-Gatehouse-Timestamp',
  '1',
  'x-gatehouse-secret',
  'guess',
  'x-gatehouse-request-id',
  'spoofed',
  'Content-Length',
  '999',
  'Transfer-Encoding',
  'chunked',
  'Keep-Alive',
  'timeout=5',
]

describe('toIntegrationRequest', () => {
  it('uses POST and the exact URI; $connect appends the raw query string (§7 item 9)', () => {
    const connect = toIntegrationRequest(connectEvent(), target)
    assert.equal(connect.method, 'POST')
    assert.equal(connect.url, 'http://app.test:8000/ws/connect?ws_token=tok&channel=room1')
    const withQuery = toIntegrationRequest(connectEvent(), {
      ...target,
      url: 'http://app.test/ws/connect?v=1',
    })
    assert.equal(withQuery.url, 'http://app.test/ws/connect?v=1&ws_token=tok&channel=room1')
    const noQuery = toIntegrationRequest(connectEvent({ rawQuery: '', query: {} }), target)
    assert.equal(noQuery.url, 'http://app.test:8000/ws/connect')
    const message = toIntegrationRequest(messageEvent({ rawQuery: 'a=1' }), {
      ...target,
      method: 'PUT',
    })
    assert.equal(message.method, 'PUT')
    assert.equal(message.url, 'http://app.test:8000/ws/connect')
  })

  it('sends Host = the integration host[:port], never the gateway host (§7 item 10)', () => {
    assert.equal(
      toIntegrationRequest(connectEvent(), target).headers[0]?.join(': '),
      'Host: app.test:8000',
    )
    const defaultPort = toIntegrationRequest(connectEvent(), {
      ...target,
      url: 'https://app.test:443/x',
    })
    assert.equal(one(defaultPort, 'host'), 'app.test')
    const v6 = toIntegrationRequest(messageEvent(), { ...target, url: 'http://[::1]:9000/x' })
    assert.equal(one(v6, 'host'), '[::1]:9000')
  })

  it('forwards $connect handshake headers with their casing, minus Connection/Upgrade (§7 item 11)', () => {
    const req = toIntegrationRequest(connectEvent(), target, CONNECT_RAW_HEADERS)
    const names = req.headers.map(([n]) => n)
    for (const name of [
      'Cookie',
      'Origin',
      'User-Agent',
      'Sec-WebSocket-Key',
      'Sec-WebSocket-Version',
      'Sec-WebSocket-Extensions',
      'Sec-WebSocket-Protocol',
      'X-Custom-Thing',
    ]) {
      assert.ok(names.includes(name), `${name} missing`)
    }
    assert.equal(one(req, 'cookie'), 'sessionid=abc; csrftoken=def')
    assert.equal(one(req, 'connection'), undefined)
    assert.equal(one(req, 'upgrade'), undefined)
    assert.equal(one(req, 'host'), 'app.test:8000')
  })

  it('falls back to the event headers when no raw headers are given', () => {
    const req = toIntegrationRequest(connectEvent(), target)
    assert.equal(one(req, 'cookie'), 'sessionid=abc; csrftoken=def')
    assert.equal(one(req, 'origin'), 'https://app.example.test')
  })

  it('drops client copies of gateway-owned headers and writes its own (§7 items 11, 14)', () => {
    const raw = [...CONNECT_RAW_HEADERS, ...OWNED_CLIENT_HEADERS, 'Connection', 'X-Custom-Thing']
    const req = toIntegrationRequest(
      connectEvent(),
      { ...target, secret: SECRET, realIpHeader: true },
      raw,
    )
    assert.equal(one(req, 'x-forwarded-for'), '203.0.113.7')
    assert.equal(one(req, 'x-forwarded-proto'), 'https')
    assert.equal(one(req, 'x-forwarded-port'), '443')
    assert.equal(one(req, 'x-forwarded-host'), undefined)
    assert.equal(one(req, 'forwarded'), undefined)
    assert.equal(one(req, 'x-real-ip'), '203.0.113.7')
    assert.equal(one(req, 'connectionid'), 'R1kmxc2VNjMCFIA=')
    assert.equal(one(req, 'x-amzn-apigateway-api-id'), 'abc123')
    assert.match(one(req, 'x-amzn-trace-id') ?? '', /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/)
    assert.notEqual(one(req, 'x-gatehouse-signature'), 'f'.repeat(64))
    assert.equal(one(req, 'x-gatehouse-timestamp'), String(T0))
    assert.equal(one(req, 'x-gatehouse-secret'), undefined)
    assert.equal(one(req, 'x-gatehouse-request-id'), 'R1knPH17NjMFftw=')
    assert.equal(one(req, 'content-length'), '0')
    assert.equal(one(req, 'transfer-encoding'), undefined)
    assert.equal(one(req, 'keep-alive'), undefined)
    // Named by the client's Connection header: hop-by-hop by nomination.
    assert.equal(one(req, 'x-custom-thing'), undefined)
  })

  it('sends AmazonAPIGateway_<apiId> and no client headers after $connect (§7 item 13)', () => {
    const dirty = { headers: { cookie: 'sessionid=abc', origin: 'https://a.test' } }
    for (const event of [messageEvent(dirty), disconnectEvent(dirty)]) {
      const req = toIntegrationRequest(event, target, CONNECT_RAW_HEADERS)
      assert.equal(one(req, 'user-agent'), 'AmazonAPIGateway_abc123')
      assert.equal(one(req, 'cookie'), undefined)
      assert.equal(one(req, 'origin'), undefined)
      assert.equal(one(req, 'sec-websocket-key'), undefined)
      assert.equal(one(req, 'x-gatehouse-user-agent'), 'Mozilla/5.0 Test')
    }
  })

  it('carries the API id and a trace id on every route (§7 item 12)', () => {
    for (const event of [connectEvent(), messageEvent(), disconnectEvent()]) {
      const req = toIntegrationRequest(event, target)
      assert.equal(one(req, 'x-amzn-apigateway-api-id'), 'abc123')
      const trace = one(req, 'x-amzn-trace-id') ?? ''
      assert.match(trace, /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/)
      assert.equal(trace.slice(7, 15), Math.floor(T0 / 1000).toString(16))
    }
  })

  it('sends X-Forwarded-For/-Proto/-Port as configured, X-Real-Ip only when asked (§7 item 14)', () => {
    const req = toIntegrationRequest(messageEvent(), {
      ...target,
      forwardedProto: 'http',
      forwardedPort: 8080,
    })
    assert.equal(one(req, 'x-forwarded-for'), '203.0.113.7')
    assert.equal(one(req, 'x-forwarded-proto'), 'http')
    assert.equal(one(req, 'x-forwarded-port'), '8080')
    assert.equal(one(req, 'x-real-ip'), undefined)
    const plainHttp = toIntegrationRequest(messageEvent(), { ...target, forwardedProto: 'http' })
    assert.equal(one(plainHttp, 'x-forwarded-port'), '80')
  })

  it('always sends Content-Length; the message body is the raw frame text (§7 item 16)', () => {
    const body = '{"action":"say","text":"héllo 😀"}'
    const message = toIntegrationRequest(messageEvent({ body }), target)
    assert.equal(message.body, body)
    assert.equal(one(message, 'content-length'), String(Buffer.byteLength(body)))
    assert.equal(message.headers.at(-1)?.[0], 'Content-Length')
    for (const event of [connectEvent({ body: 'x' }), disconnectEvent({ body: 'x' })]) {
      const req = toIntegrationRequest(event, target)
      assert.equal(req.body, '')
      assert.equal(one(req, 'content-length'), '0')
    }
  })

  it('sends the context headers the app needs to rebuild the event', () => {
    const message = toIntegrationRequest(messageEvent(), target)
    assert.equal(one(message, 'x-gatehouse-message-id'), 'R1knPc2ntjMCFIA=')
    assert.equal(one(message, 'x-gatehouse-connected-at'), String(T0))
    assert.equal(one(message, 'x-gatehouse-stage'), 'prod')
    assert.equal(one(message, 'x-gatehouse-domain-name'), 'gw.example.test')
    const gone = toIntegrationRequest(
      disconnectEvent({ disconnectReason: 'bye\r\nX-Evil: 1 ☃' }),
      target,
    )
    assert.equal(one(gone, 'x-gatehouse-disconnect-status-code'), '1001')
    assert.equal(one(gone, 'x-gatehouse-disconnect-reason'), 'bye%0D%0AX-Evil%3A%201%20%E2%98%83')
    assert.equal(one(gone, 'x-evil'), undefined)
  })

  it('folds a repeated client header into one line, as Fetch would show it', () => {
    const raw = [...CONNECT_RAW_HEADERS, 'cookie', 'extra=1', 'X-Custom-Thing', 'Second Value']
    const req = toIntegrationRequest(connectEvent(), target, raw)
    assert.deepEqual(values(req, 'cookie'), ['sessionid=abc; csrftoken=def; extra=1'])
    assert.deepEqual(values(req, 'x-custom-thing'), ['Custom Value, Second Value'])
    // At the first one's place, in its casing.
    assert.ok(req.headers.some(([n]) => n === 'Cookie'))
  })

  it('signs last: the signature headers close the list, and re-signing replaces them', () => {
    const signed = toIntegrationRequest(
      connectEvent(),
      { ...target, secret: SECRET },
      CONNECT_RAW_HEADERS,
    )
    const names = signed.headers.map(([n]) => n.toLowerCase())
    assert.deepEqual(names.slice(-2), ['x-gatehouse-timestamp', 'x-gatehouse-signature'])
    const again = signIntegrationRequest(signed, connectEvent(), SECRET, T0 + 1)
    assert.equal(values(again, 'x-gatehouse-signature').length, 1)
    assert.equal(one(again, 'x-gatehouse-timestamp'), String(T0 + 1))
    assert.notEqual(one(again, 'x-gatehouse-signature'), one(signed, 'x-gatehouse-signature'))
  })

  it('signs only when a secret is given', () => {
    assert.equal(
      one(toIntegrationRequest(messageEvent(), target), 'x-gatehouse-signature'),
      undefined,
    )
    const signed = toIntegrationRequest(messageEvent(), { ...target, secret: SECRET })
    assert.match(one(signed, 'x-gatehouse-signature') ?? '', /^[0-9a-f]{64}$/)
  })

  it('never forwards an injectable or gateway-owned client header (property)', () => {
    const owned = fc.constantFrom(
      'x-forwarded-for',
      'X-Forwarded-For',
      'X-FORWARDED-PROTO',
      'connectionid',
      'ConnectionId',
      'x-amzn-trace-id',
      'X-Amzn-Apigateway-Api-Id',
      'x-gatehouse-signature',
      'X-Gatehouse-Secret',
      'x-real-ip',
      'Host',
      'content-length',
      'Transfer-Encoding',
      'Forwarded',
    )
    const name = fc.oneof(owned, fc.string({ minLength: 1, maxLength: 20 }))
    const value = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom('a\r\nX-Injected: 1', 'a\nb', 'a\rb', '\u0000', 'ok'),
    )
    const raw = fc.array(fc.tuple(name, value), { maxLength: 30 }).map((pairs) => pairs.flat())
    fc.assert(
      fc.property(raw, fc.string({ maxLength: 60 }), (rawHeaders, rawQuery) => {
        const req = toIntegrationRequest(
          connectEvent({ rawQuery }),
          { ...target, secret: SECRET },
          rawHeaders,
        )
        assert.ok(integrationHeadersAreSafe(req))
        for (const [n, v] of req.headers) {
          assert.ok(isHeaderName(n) && isHeaderValue(v), `${n}: ${v}`)
          assert.ok(!/[\r\n]/.test(v))
        }
        assert.equal(values(req, 'x-forwarded-for').join('|'), '203.0.113.7')
        assert.equal(values(req, 'connectionid').join('|'), 'R1kmxc2VNjMCFIA=')
        assert.equal(values(req, 'x-amzn-apigateway-api-id').join('|'), 'abc123')
        assert.equal(values(req, 'host').join('|'), 'app.test:8000')
        assert.equal(values(req, 'content-length').join('|'), '0')
        assert.equal(values(req, 'x-gatehouse-signature').length, 1)
        assert.equal(values(req, 'x-gatehouse-secret').length, 0)
        assert.equal(values(req, 'x-injected').length, 0)
        assert.equal(values(req, 'transfer-encoding').length, 0)
        // The request line stays one line of visible ASCII.
        assert.match(req.url, /^[\x21-\x7e]+$/)
        assert.ok(!req.url.includes('#'))
      }),
      { numRuns: 500 },
    )
  })

  it('rejects bad targets and events the gateway should never build', () => {
    const option = (fn: () => unknown) =>
      assert.throws(fn, (err: unknown) => isGatehouseError(err, 'ERR_INVALID_OPTION'))
    option(() => toIntegrationRequest(messageEvent(), { ...target, url: 'ftp://app.test/' }))
    option(() => toIntegrationRequest(messageEvent(), { ...target, url: '/relative' }))
    option(() => toIntegrationRequest(messageEvent(), { ...target, url: 'http://a.test/#x' }))
    option(() => toIntegrationRequest(messageEvent(), { ...target, method: 'PO ST' }))
    option(() => toIntegrationRequest(messageEvent(), { ...target, apiId: 'a\r\nb' }))
    const event = (fn: () => unknown) =>
      assert.throws(fn, (err: unknown) => isGatehouseError(err, 'ERR_INVALID_EVENT'))
    event(() => toIntegrationRequest(messageEvent({ connectionId: 'a\r\nb' }), target))
    event(() => toIntegrationRequest(messageEvent({ requestId: 'a b' }), target))
  })
})

describe('integrationUrlFor', () => {
  it('strips the $ of reserved routes and encodes custom ones', () => {
    assert.equal(integrationUrlFor('http://a.test/ws/', '$connect'), 'http://a.test/ws/connect')
    assert.equal(
      integrationUrlFor('http://a.test/ws/', '$disconnect'),
      'http://a.test/ws/disconnect',
    )
    assert.equal(integrationUrlFor('http://a.test/ws/', '$default'), 'http://a.test/ws/default')
    assert.equal(
      integrationUrlFor('http://a.test/ws/', 'chat/join'),
      'http://a.test/ws/chat%2Fjoin',
    )
  })
})
