import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { GatewayEvent } from '../../src/events/event.ts'
import {
  connectClient,
  recorder,
  sleep,
  startGateway,
} from '../conformance/gateway/support/harness.ts'
import { rawUpgrade } from '../conformance/gateway/support/raw-socket.ts'

async function status(
  port: number,
  options: Parameters<typeof rawUpgrade>[1],
): Promise<{ status: number; headers: Record<string, string> }> {
  const c = await rawUpgrade(port, options)
  c.destroy()
  return { status: c.answer.status, headers: c.answer.headers }
}

test('malformed handshakes are refused before $connect runs', async (t) => {
  const app = recorder()
  const g = await startGateway({
    routes: { $connect: { type: 'in-process', handler: app } },
    maxUrlLength: 200,
  })
  t.after(() => g.close())
  assert.equal((await status(g.port, { headers: { 'Sec-WebSocket-Key': 'short' } })).status, 400)
  const v = await status(g.port, { headers: { 'Sec-WebSocket-Version': '12' } })
  assert.equal(v.status, 400)
  assert.equal(v.headers['sec-websocket-version'], '13, 8')
  assert.equal((await status(g.port, { headers: { Upgrade: 'h2c' } })).status, 400)
  assert.equal(
    (await status(g.port, { headers: { 'Sec-WebSocket-Protocol': 'a, b c' } })).status,
    400,
  )
  assert.equal(
    (await status(g.port, { headers: { 'Sec-WebSocket-Protocol': 'a, a' } })).status,
    400,
  )
  assert.equal((await status(g.port, { path: `/?${'x'.repeat(300)}` })).status, 414)
  const wrong = await rawUpgrade(g.port, { path: '/nope' })
  assert.equal(wrong.answer.status, 403)
  assert.equal((await wrong.nextFrame(500).catch(() => null)) ?? null, null)
  assert.equal(app.events.length, 0, 'no integration call for any of them')
})

test('per-address connection cap: 429 with Retry-After; another address still connects', async (t) => {
  const g = await startGateway({ maxConnectionsPerIp: 3, retryAfterSeconds: 7 })
  t.after(() => g.close())
  const results = await Promise.allSettled(
    Array.from({ length: 8 }, () => connectClient(g.url, { localAddress: '127.0.0.2' })),
  )
  const opened = results.filter((r) => r.status === 'fulfilled')
  const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[]
  assert.equal(opened.length, 3)
  for (const r of refused) {
    assert.equal(r.reason.status, 429)
    assert.equal(r.reason.headers['retry-after'], '7')
  }
  const other = await connectClient(g.url, { localAddress: '127.0.0.3' })
  other.ws.close()
  // A closed connection frees its slot.
  const first = (opened[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof connectClient>>>)
    .value
  first.ws.close()
  await first.closed
  await sleep(50)
  const again = await connectClient(g.url, { localAddress: '127.0.0.2' })
  again.ws.close()
  for (const r of opened)
    (r as PromiseFulfilledResult<Awaited<ReturnType<typeof connectClient>>>).value.ws.close()
})

test('global connection cap: 503', async (t) => {
  const g = await startGateway({ maxConnections: 2, maxConnectionsPerIp: 2 })
  t.after(() => g.close())
  const a = await connectClient(g.url, { localAddress: '127.0.0.4' })
  const b = await connectClient(g.url, { localAddress: '127.0.0.5' })
  await assert.rejects(
    connectClient(g.url, { localAddress: '127.0.0.6' }),
    (err: { status?: number }) => err.status === 503,
  )
  a.ws.close()
  b.ws.close()
})

test('pending handshakes are capped while $connect is in flight (503), per address and globally', async (t) => {
  let release: () => void = () => {}
  const gate = new Promise<void>((r) => {
    release = r
  })
  const app = recorder(async () => {
    await gate
    return { status: 200 }
  })
  const g = await startGateway({
    routes: { $connect: { type: 'in-process', handler: app } },
    maxPendingHandshakes: 3,
    maxPendingHandshakesPerIp: 2,
  })
  t.after(() => g.close())
  const held = [
    connectClient(g.url, { localAddress: '127.0.0.8' }),
    connectClient(g.url, { localAddress: '127.0.0.8' }),
  ]
  for (let i = 0; i < 50 && g.gateway.stats().pendingHandshakes < 2; i++) await sleep(10)
  await assert.rejects(
    connectClient(g.url, { localAddress: '127.0.0.8' }),
    (err: { status?: number }) => err.status === 503,
  )
  const third = connectClient(g.url, { localAddress: '127.0.0.9' })
  for (let i = 0; i < 50 && g.gateway.stats().pendingHandshakes < 3; i++) await sleep(10)
  await assert.rejects(
    connectClient(g.url, { localAddress: '127.0.0.10' }),
    (err: { status?: number }) => err.status === 503,
  )
  release()
  for (const c of await Promise.all([...held, third])) c.ws.close()
  assert.equal(g.gateway.stats().pendingHandshakes, 0)
})

test('a slow header sender (slowloris) is cut off by the header timeout', async (t) => {
  const g = await startGateway({
    headersTimeoutMs: 300,
    requestTimeoutMs: 400,
    connectionsCheckingIntervalMs: 100,
  })
  t.after(() => g.close())
  const { connect } = await import('node:net')
  const socket = connect({ port: g.port, host: '127.0.0.1' })
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n')
  const timer = setInterval(() => socket.write('X-Slow: 1\r\n'), 50)
  const answer = await new Promise<string>((resolve) => {
    let data = ''
    socket.on('data', (c) => {
      data += c.toString()
    })
    socket.on('close', () => resolve(data))
    socket.on('error', () => {})
  })
  clearInterval(timer)
  assert.match(answer, /^HTTP\/1\.1 408/)
})

test('X-Forwarded-For counts only from a trusted proxy', async (t) => {
  const app = recorder()
  const trusting = await startGateway({
    routes: { $connect: { type: 'in-process', handler: app } },
    trustedProxies: ['127.0.0.1'],
  })
  t.after(() => trusting.close())
  const a = await connectClient(trusting.url, {
    headers: { 'X-Forwarded-For': '198.51.100.1, 203.0.113.9' },
  })
  assert.equal(app.events[0]?.sourceIp, '203.0.113.9')
  a.ws.close()
  const plain = await startGateway({ routes: { $connect: { type: 'in-process', handler: app } } })
  t.after(() => plain.close())
  const b = await connectClient(plain.url, { headers: { 'X-Forwarded-For': '203.0.113.9' } })
  assert.equal(app.events[1]?.sourceIp, '127.0.0.1')
  assert.equal(
    app.events[1]?.headers['x-forwarded-for'],
    '127.0.0.1',
    'the client value is replaced',
  )
  assert.equal(app.events[0]?.headers['x-forwarded-for'], '203.0.113.9')
  b.ws.close()
})

test('the app accepted but the client left during $connect: the app still hears $disconnect (1006)', async (t) => {
  let release: () => void = () => {}
  const gate = new Promise<void>((r) => {
    release = r
  })
  const app = recorder(async (e) => {
    if (e.eventType === 'CONNECT') await gate
    return { status: 200 }
  })
  const g = await startGateway({
    routes: {
      $connect: { type: 'in-process', handler: app },
      $disconnect: { type: 'in-process', handler: app },
    },
  })
  t.after(() => g.close())
  const { connect } = await import('node:net')
  const socket = connect({ port: g.port, host: '127.0.0.1' })
  socket.on('error', () => {})
  socket.write(
    'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  )
  const connectEvent = await app.waitFor((e) => e.eventType === 'CONNECT')
  assert.equal(g.gateway.stats().pendingHandshakes, 1)
  socket.destroy()
  await sleep(50)
  release()
  const d = await app.waitFor((e) => e.eventType === 'DISCONNECT')
  assert.equal(d.connectionId, connectEvent.connectionId)
  assert.equal(d.disconnectStatusCode, 1006)
  assert.equal(g.gateway.stats().openConnections, 0)
  assert.equal(g.gateway.stats().pendingHandshakes, 0)
})

/** A promise and the function that resolves it. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open: (value: T) => void = () => {}
  const promise = new Promise<T>((r) => {
    open = r
  })
  return { promise, open }
}

test('a $connect that times out (504) but is accepted later is released with $disconnect 1006', async (t) => {
  const answer = gate<number>()
  const app = recorder(async (e) => {
    if (e.eventType === 'CONNECT') return { status: await answer.promise }
    return { status: 200 }
  })
  const g = await startGateway({
    routes: {
      $connect: { type: 'in-process', handler: app },
      $disconnect: { type: 'in-process', handler: app },
    },
    integrationTimeoutMs: 50,
  })
  t.after(() => g.close())
  assert.equal((await status(g.port, {})).status, 504)
  const connect = await app.waitFor((e) => e.eventType === 'CONNECT')
  assert.equal(app.events.filter((e) => e.eventType === 'DISCONNECT').length, 0)
  // The app accepts after the client was told 504: its session must be released.
  answer.open(200)
  const d = await app.waitFor((e) => e.eventType === 'DISCONNECT')
  assert.equal(d.connectionId, connect.connectionId)
  assert.equal(d.disconnectStatusCode, 1006)
  assert.equal(d.disconnectReason, 'Connect timed out')
  assert.equal(g.gateway.stats().openConnections, 0)
})

test('a timed-out $connect that is refused later fires no $disconnect', async () => {
  const answer = gate<number>()
  const app = recorder(async (e) => {
    if (e.eventType === 'CONNECT') return { status: await answer.promise }
    return { status: 200 }
  })
  const g = await startGateway({
    routes: {
      $connect: { type: 'in-process', handler: app },
      $disconnect: { type: 'in-process', handler: app },
    },
    integrationTimeoutMs: 50,
  })
  assert.equal((await status(g.port, {})).status, 504)
  answer.open(403)
  // close() waits for the late answer (a background task) before it resolves.
  await g.gateway.close({ drainMs: 2_000 })
  assert.equal(g.gateway.stats().backgroundTasks, 0)
  assert.equal(app.events.filter((e) => e.eventType === 'DISCONNECT').length, 0)
})

test('an HTTP $connect that times out but is accepted later is released with $disconnect 1006', async (t) => {
  const { createServer } = await import('node:http')
  const answer = gate()
  const seen: Array<{ url: string; headers: Record<string, unknown> }> = []
  const connectSeen = gate()
  const disconnectSeen = gate()
  const backend = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers })
    req.resume()
    req.on('end', async () => {
      if ((req.url ?? '').endsWith('/connect')) {
        connectSeen.open()
        await answer.promise
      }
      if ((req.url ?? '').endsWith('/disconnect')) disconnectSeen.open()
      res.writeHead(200)
      res.end()
    })
  })
  backend.listen(0, '127.0.0.1')
  await new Promise((r) => backend.once('listening', r))
  const port = (backend.address() as { port: number }).port
  t.after(() => {
    backend.closeAllConnections()
    backend.close()
  })
  const base = `http://127.0.0.1:${port}/ws`
  const g = await startGateway({
    routes: {
      $connect: { type: 'http', url: `${base}/connect` },
      $disconnect: { type: 'http', url: `${base}/disconnect` },
    },
    integrationTimeoutMs: 100,
  })
  t.after(() => g.close())
  const refused = status(g.port, {})
  await connectSeen.promise
  assert.equal((await refused).status, 504)
  answer.open()
  await Promise.race([
    disconnectSeen.promise,
    sleep(3_000).then(() => assert.fail('no $disconnect reached the backend')),
  ])
  const connect = seen.find((r) => r.url.endsWith('/connect'))
  const disconnect = seen.find((r) => r.url.endsWith('/disconnect'))
  assert.equal(disconnect?.headers.connectionid, connect?.headers.connectionid)
  assert.equal(disconnect?.headers['x-gatehouse-disconnect-status-code'], '1006')
})

test('a 1xx from $connect is never written raw: 502', async (t) => {
  const app = recorder(() => ({ status: 101 }))
  const g = await startGateway({ routes: { $connect: { type: 'in-process', handler: app } } })
  t.after(() => g.close())
  assert.equal((await status(g.port, {})).status, 502)
})

test('a malformed route selection expression fails at construction', async () => {
  const { createGateway } = await import('../../src/gateway/gateway.ts')
  const { isGatehouseError } = await import('../../src/errors.ts')
  assert.throws(
    () => createGateway({ routeSelectionExpression: '$request.body.' }),
    (err) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
  )
})

test('permessage-deflate is never negotiated', async (t) => {
  const g = await startGateway()
  t.after(() => g.close())
  const answer = await status(g.port, {
    headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' },
  })
  assert.equal(answer.status, 101)
  assert.equal(answer.headers['sec-websocket-extensions'], undefined)
})

/** A `gc()` for this test file (the flag must be set before the context is created). */
function collector(): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

test('an open connection keeps no handshake headers or query once $connect has run', async (t) => {
  const gc = collector()
  const refs: Array<WeakRef<object>> = []
  const seen: GatewayEvent[] = []
  const g = await startGateway({
    routes: {
      $connect: {
        type: 'in-process',
        handler: {
          async handle(event) {
            // Keep only weak references: only the gateway could keep these objects alive.
            refs.push(new WeakRef(event.headers), new WeakRef(event.query))
            return { status: 200 }
          },
        },
      },
      $default: {
        type: 'in-process',
        handler: {
          async handle(event) {
            seen.push(event)
            return { status: 200, body: 'ok' }
          },
        },
        twoWay: true,
      },
    },
  })
  t.after(() => g.close())
  const big = 'x'.repeat(8_000)
  const c = await connectClient(`${g.url}?channel=${'c'.repeat(4_000)}`, {
    headers: { 'X-Big': big, 'User-Agent': 'probe/1' },
  })
  assert.equal(refs.length, 2)
  let alive = refs.length
  for (let round = 0; round < 20 && alive > 0; round++) {
    await new Promise((resolve) => setImmediate(resolve))
    gc()
    alive = refs.filter((r) => r.deref() !== undefined).length
  }
  assert.equal(alive, 0, 'the handshake headers and query are still reachable')
  // The connection still has what every later event needs.
  c.ws.send('hi')
  assert.equal(await c.next(), 'ok')
  const message = seen[0]
  assert.equal(message?.userAgent, 'probe/1')
  assert.equal(message?.sourceIp, '127.0.0.1')
  assert.equal(Object.keys(message?.headers ?? {}).length, 0)
  assert.equal(g.gateway.stats().openConnections, 1)
  c.ws.close()
})
