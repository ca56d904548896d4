import assert from 'node:assert/strict'
import http from 'node:http'
import { after, describe, it } from 'node:test'
import { manualClock } from '../../src/clock.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { toIntegrationRequest } from '../../src/events/integration-request.ts'
import { sendIntegrationRequest } from '../../src/events/integration-send.ts'
import {
  CONNECT_RAW_HEADERS,
  connectEvent,
  messageEvent,
  pairs,
  startServer,
  T0,
} from './fixtures.ts'

const agent = new http.Agent({ keepAlive: true })
after(() => agent.destroy())

describe('sendIntegrationRequest', () => {
  it('delivers the exact headers, casing and order, with Content-Length', async (t) => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Sec-WebSocket-Protocol': 'gatehouse.v1', 'X-Multi': ['a', 'b'] })
      res.end('{"ok":true}')
    })
    t.after(() => server.close())
    const request = toIntegrationRequest(
      connectEvent(),
      { url: `${server.url}/ws/connect`, apiId: 'abc123', clock: manualClock(T0) },
      CONNECT_RAW_HEADERS,
    )
    const response = await sendIntegrationRequest(request, { agent })
    assert.equal(response.status, 200)
    assert.equal(response.body, '{"ok":true}')
    assert.equal(response.headers['sec-websocket-protocol'], 'gatehouse.v1')
    assert.equal(response.headers['x-multi'], 'a, b')

    const [got] = server.received
    assert.ok(got)
    assert.equal(got.method, 'POST')
    assert.equal(got.url, '/ws/connect?ws_token=tok&channel=room1')
    // Node adds `Connection: keep-alive` for the agent; everything else arrives as built.
    const arrived = pairs(got.rawHeaders).filter(([n]) => n !== 'Connection')
    assert.deepEqual(
      arrived,
      request.headers.map(([n, v]) => [n, v]),
    )
    assert.equal(arrived[0]?.[0], 'Host')
    assert.ok(arrived.some(([n, v]) => n === 'Content-Length' && v === '0'))
    assert.ok(arrived.some(([n]) => n === 'connectionId'))
    assert.ok(arrived.some(([n]) => n === 'X-Amzn-Apigateway-Api-Id'))
  })

  it('sends the message body with its byte length', async (t) => {
    const server = await startServer((_req, res) => res.end())
    t.after(() => server.close())
    const body = '{"text":"héllo 😀"}'
    const request = toIntegrationRequest(messageEvent({ body }), {
      url: `${server.url}/ws/default`,
      apiId: 'abc123',
    })
    const response = await sendIntegrationRequest(request, { agent })
    assert.equal(response.status, 200)
    const [got] = server.received
    assert.equal(got?.body, body)
    const length = pairs(got?.rawHeaders ?? []).find(([n]) => n === 'Content-Length')
    assert.equal(length?.[1], String(Buffer.byteLength(body)))
    assert.ok(!pairs(got?.rawHeaders ?? []).some(([n]) => n.toLowerCase() === 'transfer-encoding'))
  })

  it('fails with ERR_INTEGRATION_TIMEOUT when the app never answers', async (t) => {
    const server = await startServer(() => {
      // Never answers.
    })
    t.after(() => server.close())
    const request = toIntegrationRequest(messageEvent(), {
      url: `${server.url}/ws/default`,
      apiId: 'abc123',
    })
    await assert.rejects(
      sendIntegrationRequest(request, { timeoutMs: 100, agent }),
      (err: unknown) => {
        assert.ok(isGatehouseError(err, 'ERR_INTEGRATION_TIMEOUT'))
        assert.match((err as Error).message, /timed out after 100 ms/)
        return true
      },
    )
  })

  it('times out cleanly when the answer starts but never finishes', async (t) => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': '100' })
      res.write('partial')
    })
    t.after(() => server.close())
    const request = toIntegrationRequest(messageEvent(), {
      url: `${server.url}/ws/default`,
      apiId: 'abc123',
    })
    await assert.rejects(
      sendIntegrationRequest(request, { timeoutMs: 100, agent }),
      (err: unknown) => isGatehouseError(err, 'ERR_INTEGRATION_TIMEOUT'),
    )
  })

  it('fails with ERR_INTEGRATION_FAILED on an oversized answer', async (t) => {
    const server = await startServer((_req, res) => res.end('x'.repeat(10_000)))
    t.after(() => server.close())
    const request = toIntegrationRequest(messageEvent(), {
      url: `${server.url}/ws/default`,
      apiId: 'abc123',
    })
    await assert.rejects(
      sendIntegrationRequest(request, { maxResponseBytes: 1000, agent }),
      (err: unknown) => isGatehouseError(err, 'ERR_INTEGRATION_FAILED'),
    )
    const ok = await sendIntegrationRequest(request, { maxResponseBytes: 10_000, agent })
    assert.equal(ok.body.length, 10_000)
  })

  it('fails with ERR_INTEGRATION_FAILED when the app is unreachable or the call is aborted', async (t) => {
    const server = await startServer(() => {})
    const { url } = server
    await server.close()
    const request = toIntegrationRequest(messageEvent(), {
      url: `${url}/ws/default`,
      apiId: 'abc123',
    })
    await assert.rejects(sendIntegrationRequest(request, { agent }), (err: unknown) =>
      isGatehouseError(err, 'ERR_INTEGRATION_FAILED'),
    )

    const silent = await startServer(() => {})
    t.after(() => silent.close())
    const controller = new AbortController()
    const pending = sendIntegrationRequest(
      toIntegrationRequest(messageEvent(), { url: `${silent.url}/ws/default`, apiId: 'abc123' }),
      { signal: controller.signal, agent },
    )
    controller.abort()
    await assert.rejects(pending, (err: unknown) => isGatehouseError(err, 'ERR_INTEGRATION_FAILED'))
    controller.abort()
    await assert.rejects(
      sendIntegrationRequest(request, { signal: controller.signal, agent }),
      (err: unknown) => isGatehouseError(err, 'ERR_INTEGRATION_FAILED'),
    )
  })

  it('rejects a descriptor with an injectable header instead of sending it', async () => {
    await assert.rejects(
      sendIntegrationRequest(
        {
          method: 'POST',
          url: 'http://127.0.0.1:9/x',
          headers: [['X-A', 'a\r\nX-B: b']],
          body: '',
        },
        { agent },
      ),
      (err: unknown) => isGatehouseError(err, 'ERR_INTEGRATION_FAILED'),
    )
  })
})
