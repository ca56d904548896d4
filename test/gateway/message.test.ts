import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  connectClient,
  recorder,
  sleep,
  startGateway,
} from '../conformance/gateway/support/harness.ts'
import { continuation, rawUpgrade, text } from '../conformance/gateway/support/raw-socket.ts'

test('a message flood is cut to the bucket, answered by one error frame, then closed 1008', async (t) => {
  const app = recorder()
  const g = await startGateway({
    routes: { $default: { type: 'in-process', handler: app } },
    messageBurst: 5,
    messagesPerSecond: 1,
  })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  for (let i = 0; i < 200; i++) c.ws.send(`m${i}`)
  const closed = await c.closed
  assert.equal(closed.code, 1008)
  const errors = c.pending.map((m) => JSON.parse(m).message)
  assert.deepEqual(errors, ['Too Many Requests'], 'one error frame for the whole streak')
  await sleep(50)
  const delivered = app.events.filter((e) => e.eventType === 'MESSAGE').length
  assert.ok(delivered <= 6, `backend saw ${delivered} messages, at most burst + refill`)
})

test('an occasional over-rate message gets an error frame but keeps the connection', async (t) => {
  const app = recorder()
  const g = await startGateway({
    routes: { $default: { type: 'in-process', handler: app } },
    messageBurst: 3,
    messagesPerSecond: 1,
  })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  for (let i = 0; i < 4; i++) c.ws.send(`m${i}`)
  assert.equal(JSON.parse(await c.next()).message, 'Too Many Requests')
  assert.equal(c.ws.readyState, c.ws.OPEN)
  c.ws.close()
})

test('one connection’s messages reach the integration one at a time, in order, replies in order', async (t) => {
  let running = 0
  let maxRunning = 0
  const app = recorder(async (e) => {
    running++
    maxRunning = Math.max(maxRunning, running)
    // Earlier messages take longer: a parallel dispatch would reorder them.
    await sleep(Number(e.body) * 5)
    running--
    return { status: 200, body: `r${e.body}` }
  })
  const g = await startGateway({
    routes: { $default: { type: 'in-process', handler: app, twoWay: true } },
  })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  const order = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
  for (const n of order) c.ws.send(String(n))
  const replies: string[] = []
  for (let i = 0; i < order.length; i++) replies.push(await c.next())
  assert.deepEqual(
    replies,
    order.map((n) => `r${n}`),
  )
  assert.deepEqual(
    app.events.map((e) => e.body),
    order.map(String),
  )
  assert.equal(maxRunning, 1)
  c.ws.close()
})

test('with maxInFlightPerConnection > 1 calls overlap but never exceed the cap', async (t) => {
  let running = 0
  let maxRunning = 0
  const app = recorder(async () => {
    running++
    maxRunning = Math.max(maxRunning, running)
    await sleep(30)
    running--
    return { status: 200 }
  })
  const g = await startGateway({
    routes: { $default: { type: 'in-process', handler: app } },
    maxInFlightPerConnection: 3,
  })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  for (let i = 0; i < 10; i++) c.ws.send(String(i))
  for (let i = 0; i < 100 && app.events.length < 10; i++) await sleep(20)
  assert.equal(app.events.length, 10)
  assert.equal(maxRunning, 3)
  c.ws.close()
})

test('a reply larger than maxOutboundBytes becomes an error frame', async (t) => {
  const app = recorder(() => ({ status: 200, body: 'x'.repeat(2_000) }))
  const g = await startGateway({
    routes: { $default: { type: 'in-process', handler: app, twoWay: true } },
    maxOutboundBytes: 1_000,
  })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  c.ws.send('big please')
  assert.equal(JSON.parse(await c.next()).message, 'Internal server error')
  c.ws.close()
})

test('too many fragments close with 1008 (ws maxFragments)', async (t) => {
  const app = recorder()
  const g = await startGateway({
    routes: { $default: { type: 'in-process', handler: app } },
    maxFragments: 8,
  })
  t.after(() => g.close())
  const client = await rawUpgrade(g.port)
  const parts = [text('a', false)]
  for (let i = 0; i < 20; i++) parts.push(continuation('b', false))
  client.write(Buffer.concat(parts))
  assert.equal((await client.closed()).code, 1008)
  assert.equal(app.events.length, 0)
})

test('invalid UTF-8 in a text frame closes with 1007 and reaches no integration', async (t) => {
  const app = recorder()
  const g = await startGateway({
    routes: {
      $default: { type: 'in-process', handler: app },
      $disconnect: { type: 'in-process', handler: app },
    },
  })
  t.after(() => g.close())
  const client = await rawUpgrade(g.port)
  const { frame } = await import('../conformance/gateway/support/raw-socket.ts')
  client.write(frame({ opcode: 0x1, payload: Buffer.from([0xc3, 0x28]) }))
  assert.equal((await client.closed()).code, 1007)
  const d = await app.waitFor((e) => e.eventType === 'DISCONNECT')
  assert.equal(d.disconnectStatusCode, 1007)
  assert.equal(app.events.filter((e) => e.eventType === 'MESSAGE').length, 0)
})

test('with $default the only message route, a message is routed without being JSON-parsed', async (t) => {
  const app = recorder((e) => ({ status: 200, body: e.body ?? '' }))
  const g = await startGateway({
    routes: { $default: { type: 'in-process', handler: app, twoWay: true } },
  })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  const body = '{"action":"never-parsed-marker"}'
  const parse = JSON.parse
  let parsed = 0
  JSON.parse = ((text: string, reviver?: Parameters<typeof parse>[1]) => {
    if (text === body) parsed++
    return parse(text, reviver)
  }) as typeof JSON.parse
  t.after(() => {
    JSON.parse = parse
  })
  c.ws.send(body)
  assert.equal(await c.next(), body)
  JSON.parse = parse
  assert.equal(parsed, 0)
  const event = app.events.find((e) => e.eventType === 'MESSAGE')
  assert.equal(event?.routeKey, '$default')
})

test('with other message routes, selection still reads the body', async (t) => {
  const app = recorder((e) => ({ status: 200, body: e.routeKey }))
  const g = await startGateway({
    routes: {
      $default: { type: 'in-process', handler: app, twoWay: true },
      chat: { type: 'in-process', handler: app, twoWay: true },
    },
  })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  c.ws.send('{"action":"chat"}')
  assert.equal(await c.next(), 'chat')
  c.ws.send('{"action":"other"}')
  assert.equal(await c.next(), '$default')
})
