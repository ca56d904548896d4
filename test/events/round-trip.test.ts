/**
 * Gateway builds the integration request → it crosses a real loopback HTTP hop → the app
 * decodes it: the event that arrives is the event that left, and its signature verifies.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, describe, it } from 'node:test'
import { manualClock } from '../../src/clock.ts'
import type { GatewayEvent } from '../../src/events/event.ts'
import { decodeHttpEvent, encodeHttpResponse } from '../../src/events/http.ts'
import {
  type IntegrationRequest,
  integrationUrlFor,
  toIntegrationRequest,
} from '../../src/events/integration-request.ts'
import { sendIntegrationRequest } from '../../src/events/integration-send.ts'
import { createSignatureVerifier } from '../../src/events/signing.ts'
import {
  CONNECT_RAW_HEADERS,
  connectEvent,
  disconnectEvent,
  messageEvent,
  SECRET,
  T0,
  toFetchRequest,
} from './fixtures.ts'

const agent = new http.Agent({ keepAlive: true })
after(() => agent.destroy())

/** The fields that must survive the hop unchanged. */
function essentials(e: GatewayEvent) {
  return {
    eventType: e.eventType,
    routeKey: e.routeKey,
    connectionId: e.connectionId,
    query: { ...e.query },
    rawQuery: e.rawQuery,
    body: e.body,
    sourceIp: e.sourceIp,
    userAgent: e.userAgent,
    apiId: e.apiId,
    stage: e.stage,
    domainName: e.domainName,
    requestId: e.requestId,
    messageId: e.messageId,
    disconnectStatusCode: e.disconnectStatusCode,
    disconnectReason: e.disconnectReason,
  }
}

async function roundTrip(sent: GatewayEvent, rawHeaders?: readonly string[]) {
  const clock = manualClock(T0 + 20_000)
  const verifier = createSignatureVerifier({ secret: SECRET, clock })
  const decoded: GatewayEvent[] = []
  const server = http.createServer(async (req, res) => {
    const event = await decodeHttpEvent(toFetchRequest(req), { clock })
    decoded.push(event)
    const response = encodeHttpResponse({ status: 200, body: verifier.verify(event) })
    res.writeHead(response.status, Object.fromEntries(response.headers))
    res.end(await response.text())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const { port } = server.address() as { port: number }
    const request = toIntegrationRequest(
      sent,
      {
        url: integrationUrlFor(`http://127.0.0.1:${port}/ws/`, sent.routeKey),
        apiId: sent.apiId,
        secret: SECRET,
        clock,
      },
      rawHeaders,
    )
    const response = await sendIntegrationRequest(request, { agent })
    const [event] = decoded
    assert.ok(event)
    return { event, verdict: response.body, response }
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

describe('HTTP integration round trip', () => {
  it('$connect arrives with its fields, headers and query, and verifies', async () => {
    const sent = connectEvent()
    const { event, verdict, response } = await roundTrip(sent, CONNECT_RAW_HEADERS)
    assert.equal(verdict, 'ok')
    assert.equal(response.headers['cache-control'], 'no-store')
    assert.deepEqual(essentials(event), { ...essentials(sent), userAgent: 'Mozilla/5.0 Test' })
    assert.equal(event.headers.cookie, 'sessionid=abc; csrftoken=def')
    assert.equal(event.headers.origin, 'https://app.example.test')
    assert.equal(event.headers['sec-websocket-protocol'], 'gatehouse.v1')
    // Neither the client's Connection: Upgrade nor the gateway hop's own keep-alive.
    assert.equal(event.headers.connection, undefined)
    assert.equal(event.headers.upgrade, undefined)
    assert.equal(event.transport.via, 'http')
  })

  it('a message arrives with its raw body, message id and connect time, and verifies', async () => {
    const sent = messageEvent({
      routeKey: 'sendmessage',
      body: '{"action":"sendmessage","t":"ü 😀"}',
    })
    const { event, verdict } = await roundTrip(sent)
    assert.equal(verdict, 'ok')
    assert.deepEqual(essentials(event), essentials(sent))
    assert.equal(event.connectedAt, sent.connectedAt)
    assert.equal(event.headers['user-agent'], 'AmazonAPIGateway_abc123')
  })

  it('$disconnect arrives with its close code and reason, and verifies', async () => {
    const sent = disconnectEvent({
      disconnectStatusCode: 1000,
      disconnectReason: 'Connection Closed Normally',
    })
    const { event, verdict } = await roundTrip(sent)
    assert.equal(verdict, 'ok')
    assert.deepEqual(essentials(event), essentials(sent))
  })

  it('a client who forges gateway headers on $connect gets none of them through', async () => {
    const forged = [
      ...CONNECT_RAW_HEADERS,
      'X-Forwarded-For',
      '6.6.6.6',
      'connectionId',
      'VICTIMc2VNjMCFI=',
      'x-gatehouse-request-id',
      'forged',
      'x-gatehouse-stage',
      'evil',
    ]
    const { event, verdict } = await roundTrip(connectEvent(), forged)
    assert.equal(verdict, 'ok')
    assert.equal(event.sourceIp, '203.0.113.7')
    assert.equal(event.headers['x-forwarded-for'], '203.0.113.7')
    assert.equal(event.connectionId, 'R1kmxc2VNjMCFIA=')
    assert.equal(event.requestId, 'R1knPH17NjMFftw=')
    assert.equal(event.stage, 'prod')
  })
})

/**
 * A captured signed call, replayed within the window to another app process (a fresh
 * verifier, so the per-process replay cache cannot be what stops it) with one thing changed.
 */
describe('a signed call replayed with anything rewritten is refused', () => {
  const clock = manualClock(T0 + 1_000)
  let port = 0
  const server = http.createServer(async (req, res) => {
    let verdict: string
    try {
      const event = await decodeHttpEvent(toFetchRequest(req), { clock })
      // Another process: its own, empty replay cache.
      verdict = createSignatureVerifier({ secret: SECRET, clock }).verify(event)
    } catch {
      verdict = 'undecodable'
    }
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end(verdict)
  })
  const ready = new Promise<void>((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      port = (server.address() as { port: number }).port
      resolve()
    }),
  )
  after(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  async function capture(sent: GatewayEvent, raw?: readonly string[]): Promise<IntegrationRequest> {
    await ready
    return toIntegrationRequest(
      sent,
      {
        url: integrationUrlFor(`http://127.0.0.1:${port}/ws/`, sent.routeKey),
        apiId: sent.apiId,
        secret: SECRET,
        clock: manualClock(T0),
      },
      raw,
    )
  }

  async function replay(request: IntegrationRequest): Promise<string> {
    return (await sendIntegrationRequest(request, { agent })).body
  }

  function withHeaders(
    request: IntegrationRequest,
    edit: (headers: Array<[string, string]>) => Array<[string, string]>,
  ): IntegrationRequest {
    return { ...request, headers: edit(request.headers.map(([n, v]) => [n, v])) }
  }

  /** A different but still well-formed value for a header. */
  function rewritten(name: string, value: string): string {
    switch (name.toLowerCase()) {
      case 'host':
        return 'evil.example.test:8000'
      case 'x-forwarded-for':
        return '198.51.100.9'
      case 'x-forwarded-port':
        return '8443'
      case 'connectionid':
        return 'R1kmxc2VNjMCFIB='
      case 'x-gatehouse-request-id':
        return 'R1knPH17NjMFftX='
      case 'x-gatehouse-connected-at':
        return String(T0 - 1)
      default:
        return `${value}x`
    }
  }

  /** Headers whose change the hop itself forbids or that the body hash binds. */
  const FRAMING = new Set(['content-length', 'x-gatehouse-signature', 'x-gatehouse-timestamp'])

  it('$connect: any header value, an added or removed header, the query, path or method', async () => {
    const signed = await capture(connectEvent(), CONNECT_RAW_HEADERS)
    // As captured, it verifies in another process: the per-process cache cannot stop that.
    assert.equal(await replay(signed), 'ok')

    const variants = new Map<string, IntegrationRequest>()
    for (const [name] of signed.headers) {
      if (FRAMING.has(name.toLowerCase())) continue
      variants.set(
        `header ${name}`,
        withHeaders(signed, (h) => h.map(([n, v]) => (n === name ? [n, rewritten(n, v)] : [n, v]))),
      )
    }
    for (const name of ['Cookie', 'Origin', 'Sec-WebSocket-Protocol', 'User-Agent']) {
      variants.set(
        `without ${name}`,
        withHeaders(signed, (h) => h.filter(([n]) => n !== name)),
      )
    }
    for (const [name, value] of [
      ['Sec-WebSocket-Protocol', 'other.v1'],
      ['Origin', 'https://evil.example.test'],
      ['Cookie', 'sessionid=victim'],
      ['X-Extra', '1'],
    ] as const) {
      variants.set(
        `added ${name}`,
        withHeaders(signed, (h) => [...h.slice(0, 2), [name, value], ...h.slice(2)]),
      )
    }
    const url = signed.url
    assert.match(url, /\/ws\/connect\?ws_token=tok&channel=room1$/)
    variants.set('ws_token', { ...signed, url: url.replace('ws_token=tok', 'ws_token=stolen') })
    variants.set('channel', { ...signed, url: url.replace('channel=room1', 'channel=admin') })
    variants.set('query added', { ...signed, url: `${url}&channel=admin` })
    variants.set('query removed', { ...signed, url: url.slice(0, url.indexOf('?')) })
    variants.set('path', { ...signed, url: url.replace('/ws/connect', '/other/connect') })
    variants.set('method', { ...signed, method: 'PUT' })

    assert.ok(variants.size >= 30, `only ${variants.size} variants`)
    for (const [what, variant] of variants) {
      assert.equal(await replay(variant), 'bad', what)
    }
  })

  it('a message: its body, route path or client IP', async () => {
    const signed = await capture(messageEvent({ routeKey: 'sendmessage', body: '{"a":1}' }))
    assert.equal(await replay(signed), 'ok')
    const body = '{"a":2}'
    const variants: Array<[string, IntegrationRequest]> = [
      [
        'body',
        {
          ...withHeaders(signed, (h) =>
            h.map(([n, v]) => (n === 'Content-Length' ? [n, String(body.length)] : [n, v])),
          ),
          body,
        },
      ],
      ['route', { ...signed, url: signed.url.replace('/ws/sendmessage', '/ws/default') }],
      [
        'client IP',
        withHeaders(signed, (h) =>
          h.map(([n, v]) => (n === 'X-Forwarded-For' ? [n, '198.51.100.9'] : [n, v])),
        ),
      ],
    ]
    for (const [what, variant] of variants) assert.equal(await replay(variant), 'bad', what)
  })
})
