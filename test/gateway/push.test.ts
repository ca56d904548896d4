import assert from 'node:assert/strict'
import { test } from 'node:test'
import { manualClock } from '../../src/clock.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { Connection } from '../../src/gateway/connection-table.ts'
import type { ConnectionIdentity } from '../../src/gateway/handshake.ts'
import { resolveGatewayOptions } from '../../src/gateway/options.ts'
import { createConnectionsPort, encodeOutbound } from '../../src/gateway/push.ts'
import { createRuntime } from '../../src/gateway/runtime.ts'
import { connectClient, recorder, startGateway } from '../conformance/gateway/support/harness.ts'
import { rawUpgrade } from '../conformance/gateway/support/raw-socket.ts'

/** A runtime whose connections record what is written to their sockets. */
function fakeRuntime(count: number, buffered = 0) {
  const clock = manualClock(0)
  const rt = createRuntime(resolveGatewayOptions({ clock, maxBufferedBytes: 1_000 }))
  const writes = new Map<string, Buffer[]>()
  for (let i = 0; i < count; i++) {
    const id = `c${i}`
    writes.set(id, [])
    const conn = new Connection(
      {
        connectionId: id,
        connectedAt: 0,
        sourceIp: '127.0.0.1',
        userAgent: 'UA',
      } as ConnectionIdentity,
      { readyState: 1, bufferedAmount: buffered, close() {} } as unknown as Connection['ws'],
      {
        cork() {},
        uncork() {},
        write(b: Buffer) {
          writes.get(id)?.push(b)
          return true
        },
      } as unknown as Connection['socket'],
      '127.0.0.1',
      0,
      1,
    )
    rt.table.add(conn)
  }
  return { rt, clock, writes }
}

test('a fan-out frames its message once: every socket gets the same header and payload buffers', async () => {
  const { rt, clock, writes } = fakeRuntime(50)
  clock.advance(500)
  const ids = [...writes.keys(), 'unknown=']
  const result = await createConnectionsPort(rt).postMany(
    ids,
    JSON.stringify({ type: 'news', n: 1 }),
  )
  assert.deepEqual(result, { sent: 50, gone: ['unknown='] })
  const first = writes.get('c0') ?? []
  assert.equal(first.length, 2)
  for (const [, w] of writes) {
    assert.equal(w[0], first[0], 'the same header object')
    assert.equal(w[1], first[1], 'the same payload object')
  }
  // Writing is activity for the idle timer.
  assert.equal(rt.table.get('c7')?.lastActiveAt, 500)
})

test('a caller Uint8Array is framed as a view, not copied', async () => {
  const { rt, writes } = fakeRuntime(1)
  const data = new TextEncoder().encode('hello')
  assert.equal(await createConnectionsPort(rt).post('c0', data), true)
  const payload = writes.get('c0')?.[1]
  assert.equal(payload?.buffer, data.buffer)
})

test('a reader over maxBufferedBytes is closed 1008 and reported gone', async () => {
  const { rt } = fakeRuntime(2, 990)
  const port = createConnectionsPort(rt)
  const result = await port.postMany(['c0', 'c1'], 'x'.repeat(20))
  assert.deepEqual(result, { sent: 0, gone: ['c0', 'c1'] })
  assert.equal(rt.table.get('c0')?.closeCode, 1008)
  assert.equal(await port.post('c0', 'again'), false)
  assert.equal(await port.get('c0'), null)
})

test('outbound size and type are checked; non-UTF-8 bytes go out as a binary frame', () => {
  assert.throws(
    () => encodeOutbound('x'.repeat(11), 10),
    (err) => isGatehouseError(err, 'ERR_MESSAGE_TOO_LARGE'),
  )
  assert.throws(
    () => encodeOutbound(42 as unknown as string, 10),
    (err) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
  )
  assert.equal(encodeOutbound(new Uint8Array([0xff, 0xfe]), 10).header[0], 0x82)
  assert.equal(encodeOutbound(new TextEncoder().encode('é'), 10).header[0], 0x81)
  assert.equal(encodeOutbound('x'.repeat(10), 10).payload.length, 10)
})

test('over real sockets: post, postMany, get and delete', async (t) => {
  const app = recorder()
  const g = await startGateway({ routes: { $connect: { type: 'in-process', handler: app } } })
  t.after(() => g.close())
  const a = await connectClient(g.url, { headers: { 'User-Agent': 'A/1' } })
  const b = await connectClient(g.url)
  const [idA, idB] = app.events.map((e) => e.connectionId) as [string, string]
  const port = g.gateway.connections
  assert.equal(await port.post(idA, 'one'), true)
  assert.equal(await a.next(), 'one')
  const many = await port.postMany([idA, idB, 'Nope0000000000A='], 'all')
  assert.deepEqual(many, { sent: 2, gone: ['Nope0000000000A='] })
  assert.equal(await a.next(), 'all')
  assert.equal(await b.next(), 'all')
  const info = await port.get(idA)
  assert.equal(info?.sourceIp, '127.0.0.1')
  assert.equal(info?.userAgent, 'A/1')
  assert.ok((info?.lastActiveAt ?? 0) >= (info?.connectedAt ?? Infinity))
  assert.equal(await port.delete(idB), true)
  assert.equal((await b.closed).code, 1000)
  assert.equal(await port.post(idB, 'late'), false)
  a.ws.close()
})

test('a client that stops reading is closed once its buffer passes the limit', async (t) => {
  const app = recorder()
  const g = await startGateway({
    routes: { $connect: { type: 'in-process', handler: app } },
    maxBufferedBytes: 256 * 1024,
  })
  t.after(() => g.close())
  const client = await rawUpgrade(g.port)
  client.socket.pause()
  const id = app.events[0]?.connectionId ?? ''
  const chunk = 'x'.repeat(64 * 1024)
  let sent = 0
  for (let i = 0; i < 2_000; i++) {
    if (!(await g.gateway.connections.post(id, chunk))) break
    sent++
  }
  assert.ok(sent < 2_000, 'pushes stopped being accepted')
  assert.equal(await g.gateway.connections.get(id), null)
  client.destroy()
})

test('after the peer’s close frame, pushes and GET see the connection as gone', async (t) => {
  const app = recorder()
  const g = await startGateway({ routes: { $connect: { type: 'in-process', handler: app } } })
  t.after(() => g.close())
  const client = await rawUpgrade(g.port)
  const id = app.events[0]?.connectionId ?? ''
  // Send a close frame but keep the TCP connection: ws is now CLOSING.
  client.socket.removeAllListeners('data')
  const { closeFrame } = await import('../conformance/gateway/support/raw-socket.ts')
  client.write(closeFrame(1000))
  for (let i = 0; i < 50 && (await g.gateway.connections.get(id)) !== null; i++)
    await new Promise((r) => setTimeout(r, 10))
  assert.equal(await g.gateway.connections.get(id), null)
  assert.equal(await g.gateway.connections.post(id, 'after close'), false)
  assert.equal(await g.gateway.connections.delete(id), false)
  client.destroy()
})
