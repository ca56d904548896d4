import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { GatehouseError } from '../../src/errors.ts'
import { flush, setupClient } from './fakes.ts'

const top = () => 0.999_999_999

describe('GatehouseClient reconnects', () => {
  it('uses 100 distinct tokens for 100 reconnects, one fresh token per socket, none reused', async () => {
    const { client, timers, sockets, endpoint, of } = setupClient()
    client.connect()
    await flush()
    for (let i = 0; i < 100; i++) {
      const s = sockets[i]
      assert.ok(s, `socket ${i} was not created`)
      // Alternate the two ways a socket goes: a rejected upgrade (1006 before open) and a drop.
      if (i % 2 === 0) s.failToOpen()
      else {
        s.open()
        s.serverClose(1001, 'going away')
      }
      assert.equal(client.state, 'reconnecting')
      await timers.advance(timers.nextInMs()!)
    }
    assert.equal(sockets.length, 101)
    assert.equal(endpoint.calls.length, 101, 'exactly one token request per attempt')
    const tokens = sockets.map((s) => s.token)
    assert.deepEqual(tokens, endpoint.issued, 'each socket carried the token issued for it')
    assert.equal(new Set(tokens).size, 101, 'no token used twice')
    for (const s of sockets) {
      assert.equal(new URL(s.url).searchParams.getAll('ws_token').length, 1)
      assert.deepEqual(s.protocols, [])
    }
    for (const { delayMs } of of('state').filter((d) => d.state === 'reconnecting')) {
      assert.ok(delayMs !== undefined && delayMs >= 500 && delayMs <= 20_000, `delay ${delayMs}`)
    }
    client.close()
  })

  it('carries the token as a Sec-WebSocket-Protocol entry with tokenTransport protocol', async () => {
    const { client, timers, sockets, endpoint } = setupClient({ tokenTransport: 'protocol' })
    client.connect()
    await flush()
    sockets[0]!.failToOpen()
    await timers.advance(timers.nextInMs()!)
    assert.equal(sockets.length, 2)
    for (const [i, s] of sockets.entries()) {
      assert.equal(new URL(s.url).searchParams.has('ws_token'), false)
      assert.deepEqual(s.protocols, ['gatehouse.v1', `gatehouse.token.${endpoint.issued[i]}`])
    }
    client.close()
  })

  it('resets the backoff only after the connection stayed up minUptimeMs', async () => {
    const { client, timers, sockets, of } = setupClient({ random: top })
    client.connect()
    await flush()
    sockets[0]!.failToOpen() // attempt 0 → window [500, 1000]
    await timers.advance(timers.nextInMs()!)
    sockets[1]!.open()
    await timers.advance(4999)
    sockets[1]!.serverClose(1001) // up 4999 ms: no reset, attempt 1 → [500, 2000]
    await timers.advance(timers.nextInMs()!)
    sockets[2]!.open()
    await timers.advance(5000)
    sockets[2]!.serverClose(1001) // up 5000 ms: reset, attempt 0 again
    const delays = of('state')
      .filter((d) => d.state === 'reconnecting')
      .map((d) => d.delayMs)
    assert.deepEqual(delays, [1000, 2000, 1000])
    client.close()
  })

  it('keeps growing the delay while connections drop right after opening', async () => {
    const { client, timers, sockets, of } = setupClient({ random: top })
    client.connect()
    await flush()
    for (let i = 0; i < 8; i++) {
      sockets[i]!.open()
      sockets[i]!.serverClose(1000)
      await timers.advance(timers.nextInMs()!)
    }
    const delays = of('state')
      .filter((d) => d.state === 'reconnecting')
      .map((d) => d.delayMs)
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16_000, 20_000, 20_000, 20_000])
    client.close()
  })

  it('abandons a socket that does not open within connectTimeoutMs and retries', async () => {
    const { client, timers, sockets, of } = setupClient({ connectTimeoutMs: 10_000 })
    client.connect()
    await flush()
    const s = sockets[0]!
    await timers.advance(9999)
    assert.equal(client.state, 'connecting')
    await timers.advance(1)
    assert.equal(client.state, 'reconnecting')
    assert.equal(s.closeCalls.length, 1)
    assert.deepEqual(
      of('error').map((e) => e.reason),
      ['connect-timeout'],
    )
    s.open() // too late: the handlers are gone
    assert.equal(client.state, 'reconnecting')
    await timers.advance(timers.nextInMs()!)
    assert.equal(sockets.length, 2)
    client.close()
  })

  it('aborts a token request that hangs past connectTimeoutMs', async () => {
    let signal: AbortSignal | undefined
    const { client, timers, endpoint } = setupClient({ connectTimeoutMs: 3000 }, (n, call) => {
      if (n > 1) return undefined
      signal = call.init.signal ?? undefined
      return new Promise<Response>((_resolve, reject) => {
        call.init.signal?.addEventListener('abort', () => reject(new Error('aborted')))
      })
    })
    client.connect()
    await timers.advance(3000)
    assert.equal(signal?.aborted, true)
    assert.equal(client.state, 'reconnecting')
    await timers.advance(timers.nextInMs()!)
    assert.equal(endpoint.calls.length, 2)
    client.close()
  })

  it('gives up after maxRetries consecutive failures and leaves no timer', async () => {
    const { client, timers, sockets, of } = setupClient({ maxRetries: 3 })
    client.connect()
    await flush()
    for (let i = 0; i < 4; i++) {
      sockets[i]!.failToOpen()
      if (i < 3) await timers.advance(timers.nextInMs()!)
    }
    assert.equal(client.state, 'failed')
    assert.deepEqual(of('failed'), [{ reason: 'gave-up' }])
    assert.equal(timers.pending, 0)
    await timers.advance(3_600_000)
    assert.equal(sockets.length, 4)
  })

  it('reconnects after any server close, with a fresh token, except the auth close codes', async () => {
    for (const code of [1000, 1001, 1006, 1008, 1009, 1011, 4000]) {
      const { client, timers, sockets, endpoint } = setupClient()
      client.connect()
      await flush()
      sockets[0]!.open()
      sockets[0]!.serverClose(code)
      await timers.advance(timers.nextInMs()!)
      assert.equal(sockets.length, 2, `close ${code}`)
      assert.notEqual(sockets[1]!.token, sockets[0]!.token)
      assert.equal(endpoint.calls.length, 2)
      client.close()
    }
    for (const code of [4401, 4403]) {
      const { client, timers, sockets, endpoint, of } = setupClient()
      client.connect()
      await flush()
      sockets[0]!.open()
      sockets[0]!.serverClose(code, 'revoked')
      assert.equal(client.state, 'failed')
      assert.deepEqual(of('failed'), [{ reason: 'auth', code }])
      assert.equal(of('close')[0]?.willReconnect, false)
      await timers.advance(3_600_000)
      assert.equal(endpoint.calls.length, 1)
      assert.equal(timers.pending, 0)
    }
  })

  it('refuses a token it has already used (a caching getToken), and never sends it twice', async () => {
    const handedOut = ['tok-A', 'tok-A', 'tok-B', 'tok-A', 'tok-C']
    let n = 0
    const { client, timers, sockets, of } = setupClient({
      getToken: async () => handedOut[Math.min(n++, handedOut.length - 1)]!,
    })
    client.connect()
    await flush()
    sockets[0]!.failToOpen()
    await timers.advance(timers.nextInMs()!) // gets tok-A again: refused
    assert.equal(sockets.length, 1)
    assert.ok(of('error').some((e) => e.reason === 'token' && /twice/.test(e.message)))
    await timers.advance(timers.nextInMs()!) // tok-B
    sockets[1]!.failToOpen()
    await timers.advance(timers.nextInMs()!) // tok-A once more: refused
    await timers.advance(timers.nextInMs()!) // tok-C
    assert.deepEqual(
      sockets.map((s) => s.token),
      ['tok-A', 'tok-B', 'tok-C'],
    )
    client.close()
  })

  it('stops when getToken throws ERR_AUTH_FAILED, retries on any other throw', async () => {
    let calls = 0
    const { client, timers, sockets, of } = setupClient({
      getToken: async () => {
        calls++
        if (calls === 1) throw new Error('flaky')
        throw new GatehouseError('ERR_AUTH_FAILED', 'logged out')
      },
    })
    client.connect()
    await flush()
    assert.equal(client.state, 'reconnecting')
    await timers.advance(timers.nextInMs()!)
    assert.equal(client.state, 'failed')
    assert.deepEqual(of('failed'), [{ reason: 'auth' }])
    assert.equal(sockets.length, 0)
    assert.equal(timers.pending, 0)
  })

  it('asks the url function before every attempt and replaces any ws_token already in it', async () => {
    let n = 0
    const { client, timers, sockets, endpoint } = setupClient({
      url: () => `ws://127.0.0.1:3001/?n=${++n}&ws_token=stale`,
      channel: 'lobby',
    })
    client.connect()
    await flush()
    client.channel = 'room-2'
    sockets[0]!.failToOpen()
    await timers.advance(timers.nextInMs()!)
    const [a, b] = sockets.map((s) => new URL(s.url).searchParams)
    assert.equal(a?.get('n'), '1')
    assert.equal(b?.get('n'), '2')
    assert.deepEqual(a?.getAll('ws_token'), [endpoint.issued[0]])
    assert.equal(a?.get('channel'), 'lobby')
    assert.equal(b?.get('channel'), 'room-2')
    assert.throws(
      () => {
        client.channel = 'no spaces'
      },
      { code: 'ERR_INVALID_OPTION' },
    )
    client.close()
  })

  it('maps http(s) to ws(s), drops the fragment, and resolves page-relative URLs', async () => {
    const { client, sockets } = setupClient({ url: 'https://chat.example/ws#frag' })
    client.connect()
    await flush()
    assert.match(sockets[0]!.url, /^wss:\/\/chat\.example\/ws\?ws_token=[A-Za-z0-9_-]+$/)
    client.close()

    const g = globalThis as { location?: { href: string } }
    g.location = { href: 'http://127.0.0.1:3000/chat/' }
    try {
      const rel = setupClient({ url: '/ws' })
      rel.client.connect()
      await flush()
      assert.match(rel.sockets[0]!.url, /^ws:\/\/127\.0\.0\.1:3000\/ws\?ws_token=/)
      rel.client.close()
    } finally {
      delete g.location
    }
  })

  it('never puts a token into an event', async () => {
    const { client, timers, sockets, endpoint, events } = setupClient()
    client.connect()
    await flush()
    for (let i = 0; i < 5; i++) {
      sockets[i]!.open()
      sockets[i]!.receive('not json')
      sockets[i]!.serverClose(1008, 'policy')
      await timers.advance(timers.nextInMs()!)
    }
    client.close()
    const text = events
      .map(({ type, detail }) =>
        JSON.stringify({ type, detail, cause: String((detail as { cause?: unknown }).cause) }),
      )
      .join('\n')
    for (const token of endpoint.issued) assert.equal(text.includes(token), false)
  })
})
