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
import { integrationUrlFor, toIntegrationRequest } from '../../src/events/integration-request.ts'
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
    assert.equal(event.headers.connection, 'keep-alive') // the gateway's hop, not the client's Upgrade
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
