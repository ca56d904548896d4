/**
 * API Gateway compatibility checklist, items 33–46 (research/apigw-ws-spec.md §7): the
 * `@connections` management API of the bundled gateway, driven against a real gateway with
 * real WebSocket clients and, where the item says so, the real AWS SDK client with SigV4 on.
 * Items 44 and 45 are documented in docs/gateway.md (checked below).
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi'
import WebSocket from 'ws'
import { manualClock } from '../../../src/clock.ts'
import type { GatewayEvent, GatewayResponse } from '../../../src/events/event.ts'
import { createGateway, type Gateway } from '../../../src/gateway/gateway.ts'
import {
  createManagementServer,
  type ManagementServerOptions,
} from '../../../src/gateway/management/server.ts'
import type { GatewayOptions } from '../../../src/gateway/options.ts'
import { send, signedHeaders } from '../../gateway/management/helpers.ts'

const CREDS = { accessKeyId: 'AKIDCONFORMANCE', secretAccessKey: 'dummy-secret-key' }
const REGION = 'us-east-1'

interface Harness {
  gateway: Gateway
  wsUrl: string
  managementUrl: string
  managementPort: number
  events: GatewayEvent[]
  sdk: ApiGatewayManagementApiClient
  close(): Promise<void>
}

/** A real gateway whose routes record events, plus its management API (SigV4 on). */
async function harness(
  options: {
    gateway?: GatewayOptions
    management?: Partial<ManagementServerOptions>
    onConnect?: (e: GatewayEvent) => Promise<GatewayResponse> | GatewayResponse
  } = {},
): Promise<Harness> {
  const events: GatewayEvent[] = []
  const record = {
    handle: async (e: GatewayEvent): Promise<GatewayResponse> => {
      events.push(e)
      if (e.eventType === 'CONNECT' && options.onConnect) return options.onConnect(e)
      return { status: 200 }
    },
  }
  const gateway = createGateway({
    stage: 'production',
    routes: {
      $connect: { type: 'in-process', handler: record },
      $disconnect: { type: 'in-process', handler: record },
    },
    ...options.gateway,
  })
  const management = createManagementServer({
    connections: gateway.connections,
    stage: gateway.stage,
    credentials: [CREDS],
    region: REGION,
    ...options.management,
  })
  const { url: wsUrl } = await gateway.listen()
  const { url: managementUrl, port: managementPort } = await management.listen()
  const sdk = new ApiGatewayManagementApiClient({
    endpoint: managementUrl,
    region: REGION,
    credentials: CREDS,
    maxAttempts: 1,
  })
  return {
    gateway,
    wsUrl,
    managementUrl,
    managementPort,
    events,
    sdk,
    async close() {
      sdk.destroy()
      await gateway.close({ drainMs: 1_000 })
      await management.close()
    },
  }
}

interface Client {
  ws: WebSocket
  id: string
  messages: Array<{ data: string; isBinary: boolean }>
  next(): Promise<{ data: string; isBinary: boolean }>
  closed: Promise<{ code: number; reason: string }>
}

async function connectClient(h: Harness, protocols?: string[]): Promise<Client> {
  const before = h.events.filter((e) => e.eventType === 'CONNECT').length
  const ws = new WebSocket(h.wsUrl, protocols)
  const messages: Array<{ data: string; isBinary: boolean }> = []
  const waiting: Array<(m: { data: string; isBinary: boolean }) => void> = []
  ws.on('message', (data, isBinary) => {
    const m = { data: String(data), isBinary }
    const w = waiting.shift()
    if (w) w(m)
    else messages.push(m)
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  )
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const connects = h.events.filter((e) => e.eventType === 'CONNECT')
  assert.equal(connects.length, before + 1)
  return {
    ws,
    id: (connects.at(-1) as GatewayEvent).connectionId,
    messages,
    next: () => {
      const m = messages.shift()
      return m ? Promise.resolve(m) : new Promise((resolve) => waiting.push(resolve))
    },
    closed,
  }
}

async function signedSend(
  h: Harness,
  method: string,
  path: string,
  body?: string,
): Promise<Awaited<ReturnType<typeof send>>> {
  const headers = await signedHeaders({
    method,
    port: h.managementPort,
    path,
    body,
    date: new Date(),
    accessKeyId: CREDS.accessKeyId,
    secretAccessKey: CREDS.secretAccessKey,
    region: REGION,
  })
  return send(h.managementPort, method, path, headers, body)
}

const data = (text: string) => new TextEncoder().encode(text)

describe('gateway conformance, items 33–46', () => {
  let h: Harness
  before(async () => {
    h = await harness()
  })
  after(() => h.close())

  it('33 @connections is served at /{stage}/@connections/{id}, %40 and %3D accepted', async () => {
    const client = await connectClient(h)
    const encodedId = encodeURIComponent(client.id)
    assert.match(encodedId, /%3D$/)
    for (const path of [
      `/production/@connections/${encodedId}`,
      `/production/%40connections/${encodedId}`,
      `/production/%40connections/${client.id}`,
    ]) {
      const r = await signedSend(h, 'POST', path, path)
      assert.equal(r.status, 200, path)
      assert.equal((await client.next()).data, path)
    }
    client.ws.close()
  })

  it('34 POST 200, GET JSON, DELETE 204', async () => {
    const client = await connectClient(h)
    const path = `/production/@connections/${encodeURIComponent(client.id)}`
    const post = await signedSend(h, 'POST', path, 'hi')
    assert.equal(post.status, 200)
    assert.equal(post.body, '')
    const get = await signedSend(h, 'GET', path)
    assert.equal(get.status, 200)
    const info = JSON.parse(get.body)
    assert.match(info.connectedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.match(info.lastActiveAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.equal(info.identity.sourceIp, '127.0.0.1')
    assert.equal(typeof info.identity.userAgent, 'string')
    const del = await signedSend(h, 'DELETE', path)
    assert.equal(del.status, 204)
    assert.equal(del.body, '')
    await client.closed
  })

  it('35 unknown or closed connection: 410 GoneException, empty body, err.name in the SDK', async () => {
    const client = await connectClient(h)
    client.ws.close()
    await client.closed
    await h.gateway.connections.get(client.id) // settle: the gateway has seen the close
    for (const id of [client.id, 'unknownXXXXXXXX=']) {
      const r = await signedSend(
        h,
        'POST',
        `/production/@connections/${encodeURIComponent(id)}`,
        'x',
      )
      assert.equal(r.status, 410)
      assert.equal(r.headers['x-amzn-errortype'], 'GoneException')
      assert.equal(r.body, '')
      await assert.rejects(
        h.sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: data('x') })),
        (err: Error & { $metadata?: { httpStatusCode?: number } }) =>
          err.name === 'GoneException' && err.$metadata?.httpStatusCode === 410,
      )
    }
  })

  it('36 POST body over 131072 bytes: 413 PayloadTooLargeException with a JSON message', async () => {
    const client = await connectClient(h)
    const path = `/production/@connections/${encodeURIComponent(client.id)}`
    const r = await signedSend(h, 'POST', path, 'x'.repeat(131_073))
    assert.equal(r.status, 413)
    assert.equal(r.headers['x-amzn-errortype'], 'PayloadTooLargeException')
    assert.equal(typeof JSON.parse(r.body).message, 'string')
    await assert.rejects(
      h.sdk.send(
        new PostToConnectionCommand({ ConnectionId: client.id, Data: data('y'.repeat(131_073)) }),
      ),
      { name: 'PayloadTooLargeException' },
    )
    const ok = await signedSend(h, 'POST', path, 'z'.repeat(131_072))
    assert.equal(ok.status, 200)
    assert.equal((await client.next()).data.length, 131_072)
    client.ws.close()
  })

  it('37 missing or invalid SigV4, or a wrong stage: 403 ForbiddenException {"message":"Forbidden"}', async () => {
    const client = await connectClient(h)
    const id = encodeURIComponent(client.id)
    const unsigned = await send(h.managementPort, 'POST', `/production/@connections/${id}`, {}, 'x')
    const wrongKey = await send(
      h.managementPort,
      'POST',
      `/production/@connections/${id}`,
      await signedHeaders({
        method: 'POST',
        port: h.managementPort,
        path: `/production/@connections/${id}`,
        body: 'x',
        date: new Date(),
        accessKeyId: CREDS.accessKeyId,
        secretAccessKey: 'not-the-secret',
      }),
      'x',
    )
    const wrongStage = await signedSend(h, 'POST', `/dev/@connections/${id}`, 'x')
    for (const r of [unsigned, wrongKey, wrongStage]) {
      assert.equal(r.status, 403)
      assert.equal(r.headers['x-amzn-errortype'], 'ForbiddenException')
      assert.deepEqual(JSON.parse(r.body), { message: 'Forbidden' })
    }
    const bad = new ApiGatewayManagementApiClient({
      endpoint: h.managementUrl,
      region: REGION,
      credentials: { accessKeyId: CREDS.accessKeyId, secretAccessKey: 'wrong' },
      maxAttempts: 1,
    })
    await assert.rejects(
      bad.send(new PostToConnectionCommand({ ConnectionId: client.id, Data: data('x') })),
      { name: 'ForbiddenException' },
    )
    bad.destroy()
    assert.equal(client.messages.length, 0, 'nothing was delivered')
    client.ws.close()
  })

  it('38 optional throttling: 429 LimitExceededException', async () => {
    const clock = manualClock(Date.now())
    const t = await harness({
      management: { clock, rateLimit: { requestsPerSecond: 1, burst: 1 } },
    })
    try {
      const client = await connectClient(t)
      const path = `/production/@connections/${encodeURIComponent(client.id)}`
      // Unsigned calls are refused before the throttle and spend nothing.
      for (let i = 0; i < 3; i++) {
        assert.equal((await send(t.managementPort, 'GET', path)).status, 403, 'auth first')
      }
      assert.equal((await signedSend(t, 'GET', path)).status, 200)
      const limited = await signedSend(t, 'GET', path)
      assert.equal(limited.status, 429)
      assert.equal(limited.headers['x-amzn-errortype'], 'LimitExceededException')
      clock.advance(1_000)
      assert.equal((await signedSend(t, 'GET', path)).status, 200)
      client.ws.close()
    } finally {
      await t.close()
    }
  })

  it('39 POST sends exactly one text message with the raw bytes and counts as activity', async () => {
    const clock = manualClock(Date.now())
    const idle = 60_000
    const t = await harness({
      gateway: { clock, idleTimeoutMs: idle, pingIntervalMs: 3_600_000, sweepIntervalMs: 5 },
    })
    try {
      const client = await connectClient(t)
      const witness = await connectClient(t)
      const payload = 'line one\nnaïve ✓ {"json":true}'
      clock.advance(idle - 1_000)
      const r = await t.sdk.send(
        new PostToConnectionCommand({ ConnectionId: client.id, Data: data(payload) }),
      )
      assert.equal(r.$metadata.httpStatusCode, 200)
      const m = await client.next()
      assert.deepEqual(m, { data: payload, isBinary: false })
      // Past the idle limit counted from connect, within it counted from the POST.
      clock.advance(2_000)
      const closedWitness = await witness.closed // the sweep ran: the idle witness is gone
      assert.equal(closedWitness.code, 1001)
      const again = await signedSend(
        t,
        'POST',
        `/production/@connections/${encodeURIComponent(client.id)}`,
        'still here',
      )
      assert.equal(again.status, 200, 'the POST kept the connection active')
      assert.equal((await client.next()).data, 'still here')
      assert.equal(client.messages.length, 0, 'exactly one message per POST')
      client.ws.close()
    } finally {
      await t.close()
    }
  })

  it('40 DELETE closes with 1000 and $disconnect carries 1000 "Connection Closed Normally"', async () => {
    const client = await connectClient(h)
    await h.sdk.send(new DeleteConnectionCommand({ ConnectionId: client.id }))
    const closed = await client.closed
    assert.equal(closed.code, 1000)
    while (!h.events.some((e) => e.eventType === 'DISCONNECT' && e.connectionId === client.id)) {
      await new Promise((r) => setImmediate(r))
    }
    const disconnect = h.events.find(
      (e) => e.eventType === 'DISCONNECT' && e.connectionId === client.id,
    )
    assert.equal(disconnect?.disconnectStatusCode, 1000)
    assert.equal(disconnect?.disconnectReason, 'Connection Closed Normally')
  })

  it('41 management calls work from the moment $connect returns 2xx (410 while it runs)', async () => {
    const duringConnect: number[] = []
    const afterConnect: Promise<number>[] = []
    let managementUrl = ''
    const t = await harness({
      onConnect: async (e) => {
        const url = `${managementUrl}/@connections/${encodeURIComponent(e.connectionId)}`
        // Still inside $connect: not yet a connection.
        duringConnect.push((await signedFetch(url, 'early')).status)
        // Right after the handler returns, before the client has seen 'open'.
        afterConnect.push(
          new Promise((r) => setImmediate(r)).then(
            async () => (await signedFetch(url, 'first')).status,
          ),
        )
        return { status: 200 }
      },
    })
    managementUrl = t.managementUrl
    async function signedFetch(url: string, body: string) {
      const u = new URL(url)
      const headers = await signedHeaders({
        method: 'POST',
        port: Number(u.port),
        path: u.pathname,
        body,
        date: new Date(),
        accessKeyId: CREDS.accessKeyId,
        secretAccessKey: CREDS.secretAccessKey,
      })
      return send(Number(u.port), 'POST', u.pathname, headers, body)
    }
    try {
      const client = await connectClient(t)
      assert.deepEqual(duringConnect, [410])
      assert.deepEqual(await Promise.all(afterConnect), [200])
      assert.equal((await client.next()).data, 'first')
      client.ws.close()
    } finally {
      await t.close()
    }
  })

  it('42 a Lambda $connect result: Sec-WebSocket-Protocol honoured, other headers dropped', async () => {
    const t = await harness({
      gateway: {
        routes: {
          $connect: {
            type: 'lambda',
            handler: async () => ({
              statusCode: 200,
              headers: {
                'Sec-WebSocket-Protocol': 'chosen.v1',
                'Set-Cookie': 'sid=leak',
                'X-Extra': '1',
              },
            }),
          },
        },
      },
    })
    try {
      const ws = new WebSocket(t.wsUrl, ['other.v1', 'chosen.v1'])
      const opened = new Promise((r) => ws.once('open', r))
      const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
        ws.once('upgrade', (res) => resolve(res.headers))
        ws.once('error', reject)
      })
      await opened
      assert.equal(ws.protocol, 'chosen.v1')
      assert.equal(headers['sec-websocket-protocol'], 'chosen.v1')
      assert.equal(headers['set-cookie'], undefined)
      assert.equal(headers['x-extra'], undefined)
      ws.close()
    } finally {
      await t.close()
    }
  })

  it('43 the real @aws-sdk/client-apigatewaymanagementapi works unmodified (SigV4, dummy credentials)', async () => {
    const client = await connectClient(h)
    const post = await h.sdk.send(
      new PostToConnectionCommand({ ConnectionId: client.id, Data: data('{"via":"sdk"}') }),
    )
    assert.equal(post.$metadata.httpStatusCode, 200)
    assert.equal((await client.next()).data, '{"via":"sdk"}')
    const info = await h.sdk.send(new GetConnectionCommand({ ConnectionId: client.id }))
    assert.ok(info.ConnectedAt instanceof Date)
    assert.ok(info.LastActiveAt instanceof Date)
    assert.equal(info.Identity?.SourceIp, '127.0.0.1')
    const del = await h.sdk.send(new DeleteConnectionCommand({ ConnectionId: client.id }))
    assert.equal(del.$metadata.httpStatusCode, 204)
    assert.equal((await client.closed).code, 1000)
    await assert.rejects(h.sdk.send(new GetConnectionCommand({ ConnectionId: client.id })), {
      name: 'GoneException',
    })
    await assert.rejects(
      h.sdk.send(new GetConnectionCommand({ ConnectionId: 'neverExisted000=' })),
      {
        name: 'GoneException',
      },
    )
  })

  it('44 and 45 are documented in docs/gateway.md', () => {
    const doc = readFileSync(new URL('../../../docs/gateway.md', import.meta.url), 'utf8')
    assert.match(doc, /item 44/i)
    assert.match(doc, /execute-api\.\{region\}\.amazonaws\.com/)
    assert.match(doc, /item 45/i)
    assert.match(doc, /ALLOWED_HOSTS/)
  })

  it('46 two APIs side by side: distinct apiIds and stages, each its own @connections', async () => {
    const seen: Array<{ path: string; apiId: string | undefined }> = []
    const backend: Server = createServer((req, res) => {
      seen.push({ path: req.url ?? '', apiId: req.headers['x-amzn-apigateway-api-id'] as string })
      req.resume()
      req.on('end', () => res.end('{}'))
    })
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r))
    const port = (backend.address() as AddressInfo).port
    const api = (apiId: string, stage: string) =>
      harness({
        gateway: {
          apiId,
          stage,
          routes: {
            $connect: { type: 'http', url: `http://127.0.0.1:${port}/${apiId}/connect` },
            $default: { type: 'http', url: `http://127.0.0.1:${port}/${apiId}/default` },
          },
        },
      })
    const a = await api('apione0001', 'alpha')
    const b = await api('apitwo0002', 'beta')
    try {
      assert.match(a.wsUrl, /\/alpha$/)
      assert.match(b.wsUrl, /\/beta$/)
      const wsA = new WebSocket(a.wsUrl)
      const wsB = new WebSocket(b.wsUrl)
      await Promise.all([
        new Promise((r) => wsA.once('open', r)),
        new Promise((r) => wsB.once('open', r)),
      ])
      assert.deepEqual(seen.map((s) => `${s.path} ${s.apiId}`).sort(), [
        '/apione0001/connect apione0001',
        '/apitwo0002/connect apitwo0002',
      ])
      // Each management API answers for its own stage only.
      const crossed = await signedSend(a, 'GET', '/beta/@connections/abc%3D')
      assert.equal(crossed.status, 403)
      const own = await signedSend(b, 'GET', '/beta/@connections/abc%3D')
      assert.equal(own.status, 410)
      assert.equal(a.gateway.stats().openConnections, 1)
      assert.equal(b.gateway.stats().openConnections, 1)
      wsA.close()
      wsB.close()
    } finally {
      await a.close()
      await b.close()
      await new Promise<void>((r) => backend.close(() => r()))
    }
  })
})
