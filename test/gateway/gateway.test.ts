import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { isGatehouseError } from '../../src/errors.ts'
import { createGateway } from '../../src/gateway/gateway.ts'
import {
  connectClient,
  recorder,
  sleep,
  startGateway,
} from '../conformance/gateway/support/harness.ts'
import { rawUpgrade } from '../conformance/gateway/support/raw-socket.ts'

function get(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = ''
      res.on('data', (c) => {
        body += c
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

test('GET /healthz answers 200; other plain requests 426', async (t) => {
  const g = await startGateway()
  t.after(() => g.close())
  assert.deepEqual(await get(g.port, '/healthz'), { status: 200, body: '{"status":"ok"}' })
  assert.equal((await get(g.port, '/production')).status, 426)
  assert.equal((await get(g.port, '/anything', 'POST')).status, 426)
})

test('close(): every socket is closed 1001, each fires $disconnect, new upgrades are refused', async (t) => {
  const app = recorder()
  const g = await startGateway({
    routes: {
      $connect: { type: 'in-process', handler: app },
      $disconnect: { type: 'in-process', handler: app },
    },
  })
  t.after(() => g.close())
  const clients = await Promise.all([1, 2, 3].map(() => connectClient(g.url)))
  assert.equal(g.gateway.stats().openConnections, 3)
  const closing = g.gateway.close({ drainMs: 1_000 })
  const codes = await Promise.all(clients.map((c) => c.closed.then((x) => x.code)))
  await closing
  assert.deepEqual(codes, [1001, 1001, 1001])
  const disconnects = app.events.filter((e) => e.eventType === 'DISCONNECT')
  assert.equal(disconnects.length, 3)
  assert.ok(disconnects.every((e) => e.disconnectStatusCode === 1001))
  assert.equal(g.gateway.stats().openConnections, 0)
  assert.equal(g.gateway.server.listening, false)
  await assert.rejects(g.gateway.listen(), (err) => isGatehouseError(err, 'ERR_GATEWAY_CLOSED'))
  // close() is idempotent.
  await g.gateway.close()
})

test('close() with a bad drainMs rejects and changes nothing: the gateway runs and closes later', async (t) => {
  const g = await startGateway()
  t.after(() => g.close())
  for (const drainMs of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number]) {
    await assert.rejects(g.gateway.close({ drainMs }), (err) =>
      isGatehouseError(err, 'ERR_INVALID_OPTION'),
    )
  }
  // Not closing: health is ok and new upgrades are accepted.
  assert.deepEqual(await get(g.port, '/healthz'), { status: 200, body: '{"status":"ok"}' })
  const c = await connectClient(g.url)
  // A valid close still works (it was not cached as rejected).
  await g.gateway.close({ drainMs: 500 })
  assert.equal((await c.closed).code, 1001)
  assert.equal(g.gateway.stats().openConnections, 0)
})

test('close() drops peers that never answer the close frame, within drainMs', async (t) => {
  const app = recorder()
  const g = await startGateway({ routes: { $disconnect: { type: 'in-process', handler: app } } })
  t.after(() => g.close())
  const mute = await rawUpgrade(g.port)
  mute.socket.pause()
  mute.socket.removeAllListeners('data')
  await g.gateway.close({ drainMs: 200 })
  const d = await app.waitFor((e) => e.eventType === 'DISCONNECT')
  assert.equal(d.disconnectStatusCode, 1001)
  mute.destroy()
})

test('a $connect still running at close() is answered 503 and its $disconnect still fires', async (t) => {
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
  const pending = rawUpgrade(g.port)
  await app.waitFor((e) => e.eventType === 'CONNECT')
  const closing = g.gateway.close({ drainMs: 300 })
  assert.equal((await pending).answer.status, 503)
  release()
  await closing
  await app.waitFor((e) => e.eventType === 'DISCONNECT')
})

test('handleUpgrade and mount share a server of your own', async (t) => {
  const app = recorder((e) => ({ status: 200, body: e.body ?? '' }))
  const gateway = createGateway({
    routes: { $default: { type: 'in-process', handler: app, twoWay: true } },
  })
  gateway.mount(
    (req) => (req.url ?? '').startsWith('/production/@connections'),
    (_req, res) => {
      res.writeHead(204)
      res.end()
    },
  )
  const server = createServer(gateway.handleRequest)
  server.on('upgrade', gateway.handleUpgrade)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  t.after(async () => {
    await gateway.close({ drainMs: 200 })
    server.closeAllConnections()
    server.close()
  })
  assert.equal(gateway.url, undefined)
  const c = await connectClient(`ws://127.0.0.1:${port}/production`)
  c.ws.send('shared')
  assert.equal(await c.next(), 'shared')
  assert.equal((await get(port, '/production/@connections/abc')).status, 204)
  assert.equal((await get(port, '/healthz')).status, 200)
  assert.equal((await get(port, '/other')).status, 426)
  assert.throws(
    () => gateway.mount('x' as never, () => {}),
    (err) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
  )
  c.ws.close()
})

test('listen() twice is refused; stats report sockets and handshakes', async (t) => {
  const g = await startGateway()
  t.after(() => g.close())
  await assert.rejects(g.gateway.listen(), (err) => isGatehouseError(err, 'ERR_INVALID_OPTION'))
  const c = await connectClient(g.url)
  assert.deepEqual(g.gateway.stats(), {
    openConnections: 1,
    pendingHandshakes: 0,
    backgroundTasks: 0,
    trackedAddresses: 1,
  })
  c.ws.close()
  await c.closed
  await sleep(20)
  assert.equal(g.gateway.stats().openConnections, 0)
  assert.equal(g.gateway.stats().trackedAddresses, 0)
})

test('a server ping goes out every pingIntervalMs; a peer that never pongs is terminated', async (t) => {
  const app = recorder()
  const g = await startGateway({
    routes: { $disconnect: { type: 'in-process', handler: app } },
    pingIntervalMs: 100,
    pongTimeoutMs: 100,
    sweepIntervalMs: 20,
  })
  t.after(() => g.close())
  // A browser-like client answers pings: it stays.
  const alive = await connectClient(g.url)
  let pings = 0
  alive.ws.on('ping', () => {
    pings++
  })
  // A raw client that reads but never answers pings: it is dropped.
  const dead = await rawUpgrade(g.port)
  const ping = await dead.nextFrame()
  assert.equal(ping?.opcode, 0x9)
  await dead.closed()
  const d = await app.waitFor((e) => e.eventType === 'DISCONNECT')
  assert.equal(d.disconnectStatusCode, 1006)
  assert.ok(pings >= 1)
  assert.equal(alive.ws.readyState, alive.ws.OPEN)
  alive.ws.close()
})
