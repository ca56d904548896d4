import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { flush, setupClient } from './fakes.ts'

const HOUR_MS = 3_600_000

describe('GatehouseClient and the token endpoint', () => {
  for (const status of [401, 403]) {
    it(`stops for good on ${status}: state failed, no socket, no fetch for an hour, no timer`, async () => {
      const { client, timers, sockets, endpoint, of } = setupClient(
        {},
        () => new Response(null, { status }),
      )
      client.connect()
      await flush()
      assert.equal(client.state, 'failed')
      assert.deepEqual(of('failed'), [{ reason: 'auth', status }])
      assert.equal(sockets.length, 0)
      assert.equal(timers.pending, 0)
      await timers.advance(HOUR_MS)
      assert.equal(endpoint.calls.length, 1)
      assert.equal(client.state, 'failed')
    })
  }

  it('stops when the session ends while connected (drop, then 403 on the next token)', async () => {
    let loggedIn = true
    const { client, timers, sockets, endpoint, of } = setupClient({}, () =>
      loggedIn ? undefined : new Response(null, { status: 403 }),
    )
    client.connect()
    await flush()
    sockets[0]!.open()
    loggedIn = false
    // Behind AWS the socket just closes (1000 from DeleteConnection, or 1006): no auth signal.
    sockets[0]!.serverClose(1000)
    await timers.advance(timers.nextInMs()!)
    assert.equal(client.state, 'failed')
    assert.deepEqual(of('failed'), [{ reason: 'auth', status: 403 }])
    await timers.advance(HOUR_MS)
    assert.equal(endpoint.calls.length, 2)
    assert.equal(sockets.length, 1)
  })

  for (const status of [429, 503]) {
    it(`waits out Retry-After: 7 on ${status} before the next token request`, async () => {
      const { client, timers, endpoint, sockets, of } = setupClient(
        { random: () => 0 }, // backoff 500 ms, well under the 7 s asked for
        (n) =>
          n === 1 ? new Response(null, { status, headers: { 'Retry-After': '7' } }) : undefined,
      )
      client.connect()
      await flush()
      assert.equal(client.state, 'reconnecting')
      assert.equal(of('state').at(-1)?.delayMs, 7000)
      await timers.advance(6999)
      assert.equal(endpoint.calls.length, 1)
      await timers.advance(1)
      assert.equal(endpoint.calls.length, 2)
      assert.equal(endpoint.calls[1]!.at - endpoint.calls[0]!.at, 7000)
      assert.equal(sockets.length, 1)
      assert.deepEqual(
        of('error').map((e) => [e.reason, e.status]),
        [['token', status]],
      )
      client.close()
    })
  }

  it('keeps the backoff when Retry-After is shorter, and caps a huge one at maxRetryAfterMs', async () => {
    const short = setupClient({ random: () => 0.999_999 }, (n) =>
      n === 1 ? new Response(null, { status: 429, headers: { 'Retry-After': '0' } }) : undefined,
    )
    short.client.connect()
    await flush()
    assert.equal(short.of('state').at(-1)?.delayMs, 1000)
    short.client.close()

    const huge = setupClient({ maxRetryAfterMs: 60_000 }, (n) =>
      n === 1
        ? new Response(null, { status: 503, headers: { 'Retry-After': '999999999' } })
        : undefined,
    )
    huge.client.connect()
    await flush()
    assert.equal(huge.of('state').at(-1)?.delayMs, 60_000)
    await huge.timers.advance(60_000)
    assert.equal(huge.endpoint.calls.length, 2)
    huge.client.close()
  })

  it('retries with backoff on 5xx, network errors and malformed answers', async () => {
    const answers: (() => Response)[] = [
      () => new Response('oops', { status: 500 }),
      () => {
        throw new TypeError('fetch failed')
      },
      () => new Response('<html>', { status: 200 }),
      () => Response.json({ token: 'has spaces' }),
    ]
    const { client, timers, sockets, endpoint, of } = setupClient({}, (n) => answers[n - 1]?.())
    client.connect()
    await flush()
    for (let i = 0; i < answers.length; i++) {
      assert.equal(client.state, 'reconnecting')
      await timers.advance(timers.nextInMs()!)
    }
    assert.equal(endpoint.calls.length, 5)
    assert.equal(sockets.length, 1)
    assert.equal(sockets[0]!.token, endpoint.issued[0])
    assert.equal(of('error').length, 4)
    client.close()
  })

  it('sends the CSRF header read from the cookie, with configurable names', async () => {
    const { client, endpoint } = setupClient({
      tokenUrl: '/custom/token',
      csrfCookieName: 'XSRF-TOKEN',
      csrfHeaderName: 'X-XSRF-TOKEN',
      getCookie: (name) => (name === 'XSRF-TOKEN' ? 'xsrf-value' : undefined),
    })
    client.connect()
    await flush()
    const call = endpoint.calls[0]!
    assert.equal(call.url, '/custom/token')
    assert.equal(call.init.method, 'POST')
    assert.equal(call.init.credentials, 'same-origin')
    assert.equal((call.init.headers as Record<string, string>)['X-XSRF-TOKEN'], 'xsrf-value')
    client.close()
  })
})
