import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { GatehouseClient } from '../../src/client/index.ts'
import { fakeWebSocket, flush, setupClient } from './fakes.ts'

const HOUR_MS = 3_600_000

describe('GatehouseClient.send', () => {
  it('sends straight out while open, as {...payload, action} (the payload cannot change the action)', async () => {
    const { client, sockets } = setupClient()
    client.connect()
    await flush()
    sockets[0]!.open()
    assert.equal(client.send('send_message', { text: 'hi' }), true)
    assert.equal(client.send('kick', { action: 'admin_only', user: 'bob' }), true)
    assert.equal(client.send('ping'), true)
    assert.deepEqual(
      sockets[0]!.sent.map((m) => JSON.parse(m)),
      [{ text: 'hi', action: 'send_message' }, { action: 'kick', user: 'bob' }, { action: 'ping' }],
    )
    assert.equal(client.queued, 0)
    client.close()
  })

  it('queues while not open, bounded by count, and flushes in order on open', async () => {
    const { client, sockets, of } = setupClient({ maxQueuedMessages: 3 })
    assert.equal(client.send('m', { n: 1 }), true) // idle: queued
    client.connect()
    await flush()
    assert.equal(client.send('m', { n: 2 }), true)
    assert.equal(client.send('m', { n: 3 }), true)
    assert.equal(client.send('m', { n: 4 }), false)
    assert.equal(client.queued, 3)
    assert.deepEqual(
      of('error').map((e) => e.reason),
      ['queue-full'],
    )
    client.on('open', () => client.send('m', { n: 5 }))
    sockets[0]!.open()
    assert.deepEqual(
      sockets[0]!.sent.map((m) => JSON.parse(m).n),
      [1, 2, 3, 5],
    )
    assert.equal(client.queued, 0)
    client.close()
  })

  it('bounds the queue in bytes too, and never grows past either bound', async () => {
    const { client, of } = setupClient({ maxQueuedBytes: 110, maxQueuedMessages: 1000 })
    const payload = { text: 'x'.repeat(30) } // {"text":"xxx…","action":"m"}: 54 bytes
    assert.equal(client.send('m', payload), true)
    assert.equal(client.send('m', payload), true)
    for (let i = 0; i < 500; i++) assert.equal(client.send('m', payload), false)
    assert.equal(client.queued, 2)
    assert.equal(of('error').length, 500)
    assert.ok(of('error').every((e) => e.reason === 'queue-full'))
  })

  it('refuses a message over maxMessageBytes (AWS would close the socket with 1009)', async () => {
    const { client, sockets, of } = setupClient({ maxMessageBytes: 64 })
    client.connect()
    await flush()
    sockets[0]!.open()
    assert.equal(client.send('m', { text: 'é'.repeat(30) }), false) // 60 chars of text, 87 bytes
    assert.equal(client.send('m', { text: 'short' }), true)
    assert.deepEqual(
      of('error').map((e) => e.reason),
      ['message-too-large'],
    )
    assert.equal(sockets[0]!.sent.length, 1)
    client.close()
  })

  it('refuses after close() and after failed; throws on a bad action or payload', async () => {
    const { client, of } = setupClient()
    client.close()
    assert.equal(client.send('m'), false)
    assert.deepEqual(
      of('error').map((e) => e.reason),
      ['not-connected'],
    )
    assert.throws(() => client.send(''), { code: 'ERR_INVALID_OPTION' })
    assert.throws(() => client.send('m', [] as never), { code: 'ERR_INVALID_OPTION' })
    assert.throws(() => client.send('m', null as never), { code: 'ERR_INVALID_OPTION' })
  })

  it('drops queued messages when the client fails (they belong to a session that ended)', async () => {
    const { client, of } = setupClient({}, () => new Response(null, { status: 403 }))
    client.send('m', { n: 1 })
    client.connect()
    await flush()
    assert.equal(client.state, 'failed')
    assert.equal(client.queued, 0)
    assert.equal(client.send('m'), false)
    assert.equal(of('error').at(-1)?.reason, 'not-connected')
  })

  it('checks payload types per action when given an outgoing map', () => {
    type Out = { send_message: { text: string }; change_channel: { channel: string } }
    const ws = fakeWebSocket()
    const typed = new GatehouseClient<unknown, Out>({ url: 'ws://x/', WebSocket: ws.WebSocket })
    typed.send('send_message', { text: 'hi' })
    // @ts-expect-error an unknown action
    typed.send('nope', { text: 'hi' })
    // @ts-expect-error a wrong payload
    typed.send('change_channel', { text: 'hi' })
    typed.close()
  })
})

describe('GatehouseClient keep-alive', () => {
  it('sends a data frame after keepAliveMs without outgoing frames, and only then', async () => {
    const { client, timers, sockets } = setupClient({ keepAliveMs: 540_000 })
    client.connect()
    await flush()
    const s = sockets[0]!
    s.open()
    await timers.advance(539_999)
    assert.deepEqual(s.sent, [])
    await timers.advance(1)
    assert.deepEqual(s.sent, ['{"action":"ping"}'])
    await timers.advance(540_000)
    assert.equal(s.sent.length, 2)
    // Traffic counts: a message at +100 s pushes the next keep-alive to +640 s.
    await timers.advance(100_000)
    client.send('m')
    await timers.advance(539_999)
    assert.equal(s.sent.length, 3)
    await timers.advance(1)
    assert.deepEqual(s.sent.at(-1), '{"action":"ping"}')
    assert.equal(s.sent.length, 4)
    client.close()
    assert.equal(timers.pending, 0)
  })

  it('uses a custom frame, is off by default, and stops with the socket', async () => {
    const custom = setupClient({ keepAliveMs: 1000, keepAliveMessage: '{"action":"heartbeat"}' })
    custom.client.connect()
    await flush()
    custom.sockets[0]!.open()
    await custom.timers.advance(1000)
    assert.deepEqual(custom.sockets[0]!.sent, ['{"action":"heartbeat"}'])
    custom.sockets[0]!.serverClose(1001)
    await custom.timers.advance(custom.timers.nextInMs()! - 1) // waiting to reconnect
    assert.equal(custom.sockets[0]!.sent.length, 1)
    custom.client.close()

    const off = setupClient()
    off.client.connect()
    await flush()
    off.sockets[0]!.open()
    assert.equal(off.timers.pending, 0)
    await off.timers.advance(HOUR_MS)
    assert.deepEqual(off.sockets[0]!.sent, [])
    off.client.close()
  })
})

describe('GatehouseClient lifecycle', () => {
  it('walks idle → connecting → open → reconnecting → connecting → open → closed', async () => {
    const { client, timers, sockets, of } = setupClient()
    assert.equal(client.state, 'idle')
    client.connect()
    client.connect() // no second attempt while one is running
    await flush()
    sockets[0]!.open()
    sockets[0]!.serverClose(1001, 'going away', true)
    await timers.advance(timers.nextInMs()!)
    sockets[1]!.open('')
    client.close(1000, 'bye')
    assert.deepEqual(
      of('state').map((d) => d.state),
      ['connecting', 'open', 'reconnecting', 'connecting', 'open', 'closed'],
    )
    assert.deepEqual(of('close'), [
      { code: 1001, reason: 'going away', wasClean: true, willReconnect: true },
      { code: 1000, reason: 'bye', wasClean: true, willReconnect: false },
    ])
    assert.deepEqual(sockets[1]!.closeCalls, [{ code: 1000, reason: 'bye' }])
    assert.equal(of('open').length, 2)
  })

  it('parses incoming JSON into message events and drops what is not JSON text', async () => {
    const { client, sockets, of } = setupClient<{ type: string }>()
    client.connect()
    await flush()
    sockets[0]!.open()
    sockets[0]!.receive('{"type":"chat_message","user":"alice","text":"hi"}')
    sockets[0]!.receive('{oops')
    sockets[0]!.receive(Buffer.from('{"type":"binary"}'))
    assert.deepEqual(of('message'), [{ type: 'chat_message', user: 'alice', text: 'hi' }])
    assert.deepEqual(
      of('error').map((e) => e.reason),
      ['bad-message', 'bad-message'],
    )
    client.close()
  })

  for (const where of ['fetching a token', 'opening', 'open', 'reconnecting'] as const) {
    it(`close() while ${where} stops everything: no timer, no request, no socket`, async () => {
      let release: (() => void) | undefined
      const { client, timers, sockets, endpoint, of } = setupClient({ keepAliveMs: 1000 }, (n) =>
        where === 'fetching a token' && n === 1
          ? new Promise<Response>((resolve) => {
              release = () => resolve(Response.json({ token: 'late-token' }))
            })
          : undefined,
      )
      client.connect()
      await flush()
      if (where === 'open') sockets[0]!.open()
      if (where === 'reconnecting') sockets[0]!.failToOpen()
      client.close()
      assert.equal(client.state, 'closed')
      assert.equal(timers.pending, 0)
      release?.()
      await timers.advance(HOUR_MS)
      assert.equal(endpoint.calls.length, 1)
      assert.equal(sockets.length, where === 'fetching a token' ? 0 : 1)
      if (sockets[0] !== undefined) {
        assert.equal(sockets[0].onclose, null, 'handlers detached')
        if (where !== 'reconnecting') assert.equal(sockets[0].closeCalls.length, 1)
      }
      assert.equal(of('state').at(-1)?.state, 'closed')
      assert.equal(timers.pending, 0)
    })
  }

  it('can connect again after close(), with a fresh token and a fresh backoff', async () => {
    const { client, sockets, endpoint } = setupClient()
    client.connect()
    await flush()
    sockets[0]!.open()
    client.close()
    client.connect()
    await flush()
    assert.equal(sockets.length, 2)
    assert.notEqual(sockets[1]!.token, sockets[0]!.token)
    assert.equal(endpoint.calls.length, 2)
    client.close()
  })

  it('lets a listener close the client from inside any event without leaking a timer', async () => {
    for (const type of ['state', 'close', 'error'] as const) {
      const { client, timers, sockets } = setupClient()
      client.on(type, () => client.close())
      client.connect()
      await flush()
      sockets[0]?.failToOpen()
      await timers.advance(HOUR_MS)
      assert.equal(client.state, 'closed', type)
      assert.equal(timers.pending, 0, type)
    }
  })

  it('rejects bad options and close codes with ERR_INVALID_OPTION / ERR_OPTION_CONFLICT', () => {
    const { WebSocket } = fakeWebSocket()
    const bad = [
      { minReconnectDelayMs: 0 },
      { maxReconnectDelayMs: -1 },
      { connectTimeoutMs: Number.NaN },
      { keepAliveMs: -5 },
      { maxQueuedMessages: -1 },
      { channel: 'bad channel' },
      { tokenTransport: 'cookie' as never },
      { tokenUrl: '' },
    ]
    for (const o of bad) {
      assert.throws(() => new GatehouseClient({ url: 'ws://x/', WebSocket, ...o }), {
        code: 'ERR_INVALID_OPTION',
      })
    }
    assert.throws(
      () =>
        new GatehouseClient({
          url: 'ws://x/',
          WebSocket,
          minReconnectDelayMs: 5000,
          maxReconnectDelayMs: 1000,
        }),
      { code: 'ERR_OPTION_CONFLICT' },
    )
    const c = new GatehouseClient({ url: 'ws://x/', WebSocket })
    assert.throws(() => c.close(1006), { code: 'ERR_INVALID_OPTION' })
    assert.throws(() => c.close(1000, 'x'.repeat(124)), { code: 'ERR_INVALID_OPTION' })
    c.close(4000, 'ok')
  })
})
