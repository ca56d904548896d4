import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { GatehouseError } from '../../src/errors.ts'
import type { GatewayEvent } from '../../src/events/event.ts'
import { staticSecretValue } from '../../src/events/signing.ts'
import { parseCookies } from '../../src/http/cookies.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { SessionRecord, Store } from '../../src/store/store.ts'
import { hashSessionId, hashToken } from '../../src/tokens/token.ts'
import { appFixture, countingStore, ORIGIN, SID } from '../support/app-fixture.ts'
import { claim } from '../support/claim.ts'
import { integrationHost, TRANSPORT } from '../support/transports.ts'

const UNAUTHORIZED = '{"message":"Unauthorized"}'

describe('$connect pipeline', () => {
  test('a valid token from the right session, origin and channel connects and records a session', async () => {
    const f = await appFixture()
    const token = await f.issue('alice')
    const event = f.connectEvent({ token, channel: 'lobby' })
    const response = await f.app.handle(event)
    assert.equal(response.status, 200)
    assert.equal(response.headers, undefined, 'no subprotocol unless the client offered it')
    const session = await f.store.getSession(event.connectionId)
    assert.equal(session?.userId, 'alice')
    assert.equal(session?.channel, 'lobby')
    assert.equal(session?.connected, true)
  })

  test('the token is single use: a second connect with it gets 401', async () => {
    const f = await appFixture()
    const token = await f.issue('alice')
    assert.equal((await f.app.handle(f.connectEvent({ token }))).status, 200)
    const again = await f.app.handle(f.connectEvent({ token }))
    assert.equal(again.status, 401)
    assert.equal(again.body, UNAUTHORIZED)
  })

  test('an expired token (61 s later, injected clock) gets 401', async () => {
    const f = await appFixture()
    const token = await f.issue('alice')
    f.clock.advance(61_000)
    assert.equal((await f.app.handle(f.connectEvent({ token }))).status, 401)
  })

  test('a token presented from another session neither works nor burns', async () => {
    const f = await appFixture()
    const token = await f.issue('alice', SID.alice)
    const stolen = await f.app.handle(f.connectEvent({ token, sid: SID.bob }))
    assert.equal(stolen.status, 401)
    assert.equal(stolen.body, UNAUTHORIZED)
    assert.equal((await f.app.handle(f.connectEvent({ token, sid: SID.alice }))).status, 200)
  })

  test('missing, malformed, unknown, used, expired and other-session tokens share one answer', async () => {
    const f = await appFixture()
    const used = await f.issue('alice')
    await f.app.handle(f.connectEvent({ token: used }))
    const expired = await f.issue('alice')
    const otherSession = await f.issue('bob')
    f.clock.advance(60_001)
    const cases: (string | null)[] = [
      null,
      '',
      'x'.repeat(10_240),
      '%00',
      'A'.repeat(43),
      used,
      expired,
    ]
    const bodies = new Set<string>()
    for (const token of cases) {
      const r = await f.app.handle(f.connectEvent({ token }))
      assert.equal(r.status, 401, `token ${String(token).slice(0, 20)}`)
      bodies.add(String(r.body))
    }
    const r = await f.app.handle(f.connectEvent({ token: otherSession, sid: SID.alice }))
    bodies.add(String(r.body))
    assert.deepEqual([...bodies], [UNAUTHORIZED])
  })

  test('malformed tokens (empty, 10 KB, %00, non-base64url) cause no token query', async () => {
    const store = countingStore(createMemoryStore())
    const f = await appFixture({}, { store })
    for (const token of [
      '',
      'x'.repeat(10_240),
      '%00',
      '\u0000'.repeat(43),
      'a+b/'.repeat(11).slice(0, 43),
    ]) {
      const event = f.connectEvent({ token })
      assert.equal((await f.app.handle(event)).status, 401)
    }
    await f.app.handle(f.connectEvent({ rawQuery: 'ws_token=%00&channel=lobby' }))
    assert.equal(store.calls.get('consumeToken') ?? 0, 0)
    assert.equal(store.calls.get('openSession') ?? 0, 0)
  })

  test('a foreign, look-alike, null or duplicated Origin gets 403 and leaves the token unused', async () => {
    const f = await appFixture()
    const token = await f.issue('alice')
    for (const origin of [
      'https://evil.test',
      'http://127.0.0.1:3000.evil.test',
      'https://app.example.com.evil.test',
      'null',
      `${ORIGIN}, https://evil.test`,
      `https://evil.test, ${ORIGIN}`,
      'http://127.0.0.1:3001',
      'https://127.0.0.1:3000',
    ]) {
      const r = await f.app.handle(f.connectEvent({ token, origin }))
      assert.equal(r.status, 403, origin)
    }
    assert.equal((await f.app.handle(f.connectEvent({ token }))).status, 200, 'token still usable')
  })

  test('a client without Origin (non-browser) connects only with a valid token; requireOrigin refuses it', async () => {
    const f = await appFixture()
    assert.equal((await f.app.handle(f.connectEvent({ origin: null }))).status, 401)
    assert.equal(
      (await f.app.handle(f.connectEvent({ origin: null, token: await f.issue() }))).status,
      200,
    )
    const strict = await appFixture({ requireOrigin: true })
    const refused = await strict.app.handle(
      strict.connectEvent({ origin: null, token: await strict.issue() }),
    )
    assert.equal(refused.status, 403)
    assert.equal(refused.body, '{"message":"Forbidden"}')
    const line = strict.logs.map((l) => JSON.parse(l)).find((l) => l.event === 'connect_rejected')
    assert.equal(line?.reason, 'origin_missing', 'the log says why: no Origin at all')
    assert.equal(line?.check, 'origin')
  })

  test('hostile channel names get 400 before the token is used', async () => {
    const f = await appFixture()
    const token = await f.issue('alice')
    for (const channel of [
      'room\n',
      '../x',
      'x'.repeat(129),
      'a*',
      'r\u043e\u043em',
      '',
      'room%0A',
      'a:b',
    ]) {
      const r = await f.app.handle(f.connectEvent({ token, channel }))
      assert.equal(r.status, 400, JSON.stringify(channel))
    }
    assert.equal(
      (await f.app.handle(f.connectEvent({ token, channel: 'x'.repeat(128) }))).status,
      200,
    )
  })

  test('requireChannel refuses a connect without a channel', async () => {
    const f = await appFixture({ requireChannel: true })
    assert.equal(
      (await f.app.handle(f.connectEvent({ token: await f.issue(), channel: null }))).status,
      400,
    )
  })

  test('connect attempts are limited per IP (failed attempts count) with Retry-After, without burning the token', async () => {
    const f = await appFixture()
    for (let i = 0; i < 20; i++) {
      const r = await f.app.handle(
        f.connectEvent({ token: 'bad', ip: '198.51.100.1', sid: SID.eve }),
      )
      assert.equal(r.status, 401)
    }
    const token = await f.issue('alice')
    const limited = await f.app.handle(f.connectEvent({ token, ip: '198.51.100.1' }))
    assert.equal(limited.status, 429)
    assert.ok(Number(limited.headers?.['retry-after']) >= 1)
    assert.equal(
      (await f.app.handle(f.connectEvent({ token, ip: '198.51.100.2' }))).status,
      200,
      'token unburnt, other IP fine',
    )
  })

  test('connect attempts are limited per user across IPs; the token endpoint then says when to retry', async () => {
    const f = await appFixture()
    const early = await f.issue()
    for (let i = 0; i < 20; i++)
      await f.app.handle(f.connectEvent({ token: 'bad', ip: `198.51.100.${i + 1}` }))
    const r = await f.app.handle(f.connectEvent({ token: early, ip: '198.51.100.200' }))
    assert.equal(r.status, 429)
    // A browser cannot read that 429 (it sees 1006); the token endpoint's answer it can.
    const issued = await f.app.tokens.issue('alice', SID.alice)
    assert.ok(!issued.ok && issued.reason === 'rate' && issued.retryAfterSec >= 1)
    f.clock.advance(issued.retryAfterSec * 1000)
    assert.ok((await f.app.tokens.issue('alice', SID.alice)).ok)
    assert.equal(
      (
        await f.app.handle(
          f.connectEvent({ token: await f.issue('bob'), sid: SID.bob, ip: '198.51.100.201' }),
        )
      ).status,
      200,
    )
  })

  test('the window slides: attempts are allowed again after it passes', async () => {
    const f = await appFixture({ connectFailureLimitPerIp: 2, connectLimitPerUser: 100 })
    await f.app.handle(f.connectEvent({ token: 'bad' }))
    await f.app.handle(f.connectEvent({ token: 'bad' }))
    assert.equal((await f.app.handle(f.connectEvent({ token: 'bad' }))).status, 429)
    f.clock.advance(120_001)
    assert.equal((await f.app.handle(f.connectEvent({ token: await f.issue() }))).status, 200)
  })

  test('required headers missing → 400; Host not allowed → 403', async () => {
    // Over an HTTP integration the app sees the integration's own Host (as on AWS).
    const host = TRANSPORT === 'http' ? await integrationHost() : 'app.example.com'
    const f = await appFixture({ requiredHeaders: ['X-App-Version'], allowedHosts: [host] })
    const token = await f.issue()
    const sent = TRANSPORT === 'http' ? {} : { host }
    assert.equal((await f.app.handle(f.connectEvent({ token, headers: sent }))).status, 400)
    const other = await appFixture({
      requiredHeaders: ['X-App-Version'],
      allowedHosts: ['elsewhere.example.com'],
    })
    assert.equal(
      (
        await other.app.handle(
          other.connectEvent({
            token: await other.issue(),
            headers: { 'x-app-version': '1', ...sent },
          }),
        )
      ).status,
      403,
    )
    assert.equal(
      (await f.app.handle(f.connectEvent({ token, headers: { 'x-app-version': '1', ...sent } })))
        .status,
      200,
    )
  })

  test('a user without the app permission (eve) is refused with 403', async () => {
    const f = await appFixture()
    const r = await f.app.handle(f.connectEvent({ token: await f.issue('eve'), sid: SID.eve }))
    assert.equal(r.status, 403)
  })

  test('an inactive user is refused', async () => {
    const f = await appFixture()
    assert.equal(
      (await f.app.handle(f.connectEvent({ token: await f.issue('gone'), sid: SID.gone }))).status,
      403,
    )
  })

  test('any-of and all-of are both enforced when both are set', async () => {
    const f = await appFixture({
      permissions: { anyOf: ['chat.use', 'chat.admin'], allOf: ['chat.moderate'] },
    })
    assert.equal(
      (await f.app.handle(f.connectEvent({ token: await f.issue('alice') }))).status,
      403,
      'any-of alone is not enough',
    )
    assert.equal(
      (await f.app.handle(f.connectEvent({ token: await f.issue('mod'), sid: SID.mod }))).status,
      200,
    )
    const g = await appFixture({ permissions: { anyOf: ['chat.admin'], allOf: ['chat.use'] } })
    assert.equal(
      (await g.app.handle(g.connectEvent({ token: await g.issue('alice') }))).status,
      403,
      'all-of alone is not enough',
    )
  })

  test('custom checks and channel authorisation refuse with their status', async () => {
    const f = await appFixture({
      authorizeChannel: (_user, channel) => channel !== 'staff',
      connectChecks: [({ event }) => (event.headers['x-block'] ? 451 : true)],
    })
    assert.equal(
      (await f.app.handle(f.connectEvent({ token: await f.issue(), channel: 'staff' }))).status,
      403,
    )
    assert.equal(
      (await f.app.handle(f.connectEvent({ token: await f.issue(), headers: { 'x-block': '1' } })))
        .status,
      451,
    )
    assert.equal((await f.app.handle(f.connectEvent({ token: await f.issue() }))).status, 200)
  })

  test('the token may travel as a Sec-WebSocket-Protocol entry; only the app protocol is echoed', async () => {
    const f = await appFixture()
    const token = await f.issue()
    const r = await f.app.handle(
      f.connectEvent({
        headers: { 'sec-websocket-protocol': `gatehouse.v1, gatehouse.token.${token}` },
      }),
    )
    assert.equal(r.status, 200)
    assert.deepEqual(r.headers, { 'sec-websocket-protocol': 'gatehouse.v1' })
  })

  test('a store outage answers 503 (fail closed), never 200', async () => {
    const down = new Proxy(createMemoryStore(), {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver)
        if (prop === 'hit' || prop === 'consumeToken') {
          return () => Promise.reject(new GatehouseError('ERR_STORE_UNAVAILABLE', 'down'))
        }
        return v
      },
    }) as Store
    const f = await appFixture({}, { store: down })
    const r = await f.app.handle(f.connectEvent({ token: 'A'.repeat(43) }))
    assert.equal(r.status, 503)
  })

  // consumeToken and createSession serve the order where identify names no user; openSession
  // the order where it does (the fixture's default).
  const tokenFirst = {
    identify: (event: GatewayEvent) => ({
      sessionId: parseCookies(event.headers.cookie).get('sessionid') ?? null,
    }),
  }
  for (const failing of ['consumeToken', 'createSession', 'openSession'] as const) {
    test(`a store outage in ${failing} alone answers 503 and records no session`, async () => {
      const inner = createMemoryStore()
      const store: Store = {
        ...inner,
        [failing]: () => Promise.reject(new GatehouseError('ERR_STORE_UNAVAILABLE', 'down')),
      }
      const f = await appFixture(failing === 'openSession' ? {} : tokenFirst, { store })
      const event = f.connectEvent({ token: await f.issue() })
      const r = await f.app.handle(event)
      assert.equal(r.status, 503)
      assert.equal(r.body, '{"message":"Service Unavailable"}')
      assert.equal(await inner.getSession(event.connectionId), null)
      assert.deepEqual(await inner.listConnections({ all: true }), [])
    })
  }

  test('onConnect receives the session as written, without reading it back', async () => {
    const store = countingStore(createMemoryStore())
    const seen: SessionRecord[] = []
    const f = await appFixture(
      {
        onConnect: ({ session, user }) => {
          assert.equal(user?.id, 'alice')
          seen.push(session)
        },
      },
      { store },
    )
    const event = f.connectEvent({ token: await f.issue(), channel: 'lobby' })
    assert.equal((await f.app.handle(event)).status, 200)
    assert.equal(seen.length, 1)
    assert.deepEqual(seen[0], await store.getSession(event.connectionId))
    assert.deepEqual(seen[0], {
      connectionId: event.connectionId,
      userId: 'alice',
      sessionHash: hashSessionId(SID.alice),
      channel: 'lobby',
      connected: true,
      requestCount: 0,
      connectedAt: event.connectedAt,
      lastSeenAt: event.connectedAt,
      disconnectedAt: null,
    })
    assert.equal(store.calls.get('getSession'), 1, 'only the test’s own read')
  })

  test('$disconnect reads the session only for an onDisconnect hook', async () => {
    const store = countingStore(createMemoryStore())
    const f = await appFixture({}, { store })
    const id = await f.connect('alice')
    assert.equal((await f.app.handle(f.disconnectEvent(id))).status, 200)
    assert.equal(store.calls.get('getSession') ?? 0, 0)
    const hooked = countingStore(createMemoryStore())
    const seen: (SessionRecord | null)[] = []
    const g = await appFixture(
      { onDisconnect: ({ session }) => void seen.push(session) },
      { store: hooked },
    )
    const gid = await g.connect('alice')
    await g.app.handle(g.disconnectEvent(gid))
    assert.equal(hooked.calls.get('getSession'), 1)
    assert.equal(seen[0]?.connected, false)
  })

  test('unsigned HTTP integration calls are refused when no secret is configured (fail closed)', async () => {
    const f = await appFixture()
    const r = await f.app.handle(
      f.connectEvent({ token: await f.issue(), transport: { via: 'http' } }),
    )
    assert.equal(r.status, 403)
    const open = await appFixture({ allowUnsignedGateway: true })
    assert.equal(
      (
        await open.app.handle(
          open.connectEvent({ token: await open.issue(), transport: { via: 'http' } }),
        )
      ).status,
      200,
    )
  })

  test('a forged static secret header is refused; the right one passes', async () => {
    const secret = 's'.repeat(32)
    const f = await appFixture({ gatewaySecret: secret })
    const forged = await f.app.handle(
      f.connectEvent({
        token: await f.issue(),
        transport: { via: 'http', staticSecret: 'x'.repeat(32) },
      }),
    )
    assert.equal(forged.status, 403)
    // The header carries the value derived from the secret, not the secret itself.
    const raw = await f.app.handle(
      f.connectEvent({ token: await f.issue(), transport: { via: 'http', staticSecret: secret } }),
    )
    assert.equal(raw.status, 403)
    const good = await f.app.handle(
      f.connectEvent({
        token: await f.issue(),
        transport: { via: 'http', staticSecret: staticSecretValue(secret) },
      }),
    )
    assert.equal(good.status, 200)
  })

  test('property: any channel string is accepted iff it matches the pattern', async () => {
    const f = await appFixture({
      connectFailureLimitPerIp: 1_000_000,
      connectLimitPerUser: 1_000_000,
    })
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 140 }), async (channel) => {
        const r = await f.app.handle(f.connectEvent({ token: 'bad', channel }))
        const valid = /^[A-Za-z0-9_-]{1,128}$/.test(channel)
        assert.equal(r.status, valid ? 401 : 400)
      }),
      { numRuns: 200 },
    )
  })

  describe('token audience: apps side by side on one store', () => {
    const sessionOnly = {
      identify: (event: GatewayEvent) => ({
        sessionId: parseCookies(event.headers.cookie).get('sessionid') ?? null,
      }),
    }
    for (const [order, extra] of [
      ['user known', {}],
      ['token first', sessionOnly],
    ] as const) {
      test(`a token of app A is refused by app B's $connect and stays usable for A (${order})`, async () => {
        const store = countingStore(createMemoryStore())
        const a = await appFixture({ appId: 'app-a', ...extra }, { store })
        const b = await appFixture({ appId: 'app-b', ...extra }, { store })
        const token = await a.issue('alice')
        const event = b.connectEvent({ token })
        const refused = await b.app.handle(event)
        assert.equal(refused.status, 401)
        assert.equal(refused.body, UNAUTHORIZED)
        assert.equal(await store.getSession(event.connectionId), null)
        // The token is the same in every other respect: right session, user, origin, channel.
        const ok = a.connectEvent({ token })
        assert.equal((await a.app.handle(ok)).status, 200, 'not burnt by the other app')
        assert.equal((await store.getSession(ok.connectionId))?.userId, 'alice')
        assert.equal((await a.app.handle(a.connectEvent({ token }))).status, 401, 'then used')
        // And B's own tokens are B's alone.
        const theirs = await b.issue('alice')
        assert.equal((await a.app.handle(a.connectEvent({ token: theirs }))).status, 401)
        assert.equal((await b.app.handle(b.connectEvent({ token: theirs }))).status, 200)
      })
    }

    test('an app without appId is the default app: it refuses tokens of a named app', async () => {
      const store = createMemoryStore()
      const named = await appFixture({ appId: 'chat' }, { store })
      const plain = await appFixture({}, { store })
      const token = await named.issue('alice')
      assert.equal((await plain.app.handle(plain.connectEvent({ token }))).status, 401)
      assert.equal((await named.app.handle(named.connectEvent({ token }))).status, 200)
    })
  })

  describe('one store commit per connect when identify names the user', () => {
    test('a connect uses the token and writes the session in one openSession call', async () => {
      const store = countingStore(createMemoryStore())
      const f = await appFixture({}, { store })
      const event = f.connectEvent({ token: await f.issue('alice') })
      assert.equal((await f.app.handle(event)).status, 200)
      assert.equal(store.calls.get('openSession'), 1)
      assert.equal(store.calls.get('consumeToken') ?? 0, 0)
      assert.equal(store.calls.get('createSession') ?? 0, 0)
      const session = await f.store.getSession(event.connectionId)
      assert.equal(session?.userId, 'alice')
      assert.equal(session?.sessionHash, hashSessionId(SID.alice))
    })

    test('without a user from identify the token is consumed first and the session guarded', async () => {
      const store = countingStore(createMemoryStore())
      const f = await appFixture(
        {
          identify: (event) => ({
            sessionId: parseCookies(event.headers.cookie).get('sessionid') ?? null,
          }),
        },
        { store },
      )
      const token = await f.issue('alice')
      const event = f.connectEvent({ token })
      assert.equal((await f.app.handle(event)).status, 200)
      assert.equal(store.calls.get('consumeToken'), 1)
      assert.equal(store.calls.get('createSession'), 1)
      assert.equal(store.calls.get('openSession') ?? 0, 0)
      assert.equal((await f.store.getSession(event.connectionId))?.userId, 'alice')
      assert.equal((await f.app.handle(f.connectEvent({ token }))).status, 401, 'single use')
    })

    test('a user refused by a check keeps an unburnt token; the same token connects later', async () => {
      let allow = false
      const f = await appFixture({ connectChecks: [() => allow] })
      const token = await f.issue('alice')
      const refused = await f.app.handle(f.connectEvent({ token }))
      assert.equal(refused.status, 403)
      allow = true
      const event = f.connectEvent({ token })
      assert.equal((await f.app.handle(event)).status, 200)
      assert.equal((await f.store.getSession(event.connectionId))?.userId, 'alice')
      assert.equal((await f.app.handle(f.connectEvent({ token }))).status, 401, 'then used')
    })

    test('a token of another user, from the session identify names, is refused and not burnt', async () => {
      const f = await appFixture()
      // Issued to alice but bound to bob's HTTP session: identify says bob.
      const token = await f.issue('alice', SID.bob)
      const r = await f.app.handle(f.connectEvent({ token, sid: SID.bob }))
      assert.equal(r.status, 401)
      assert.equal(r.body, UNAUTHORIZED)
      assert.deepEqual(await f.store.listConnections({ all: true }), [])
      // Still unused: the store still accepts it for its own session.
      const sessionHash = hashSessionId(SID.bob)
      assert.notEqual(
        await f.store.consumeToken(claim(hashToken(token), sessionHash), f.clock.now()),
        null,
      )
    })

    test('a missing, malformed or session-less token makes no store call beyond the rate limit', async () => {
      const store = countingStore(createMemoryStore())
      const f = await appFixture({}, { store })
      const token = await f.issue('alice')
      const before = new Map(store.calls)
      for (const event of [
        f.connectEvent({ token: null }),
        f.connectEvent({ token: 'short' }),
        f.connectEvent({ token, sid: null }),
      ]) {
        const r = await f.app.handle(event)
        assert.equal(r.status, 401)
        assert.equal(r.body, UNAUTHORIZED)
      }
      for (const op of ['openSession', 'consumeToken', 'createSession', 'getSession']) {
        assert.equal(store.calls.get(op) ?? 0, before.get(op) ?? 0, op)
      }
    })
  })
})

describe('$connect limits count what the client controls', () => {
  const FOREIGN = 'https://evil.example'

  test('refusals for Origin and channel charge neither the IP nor the user', async () => {
    const f = await appFixture({ connectFailureLimitPerIp: 2, connectLimitPerUser: 2 })
    // A foreign page behind one IP, 50 times: no cookie, then with bob's cookie.
    for (let i = 0; i < 25; i++) {
      const anon = f.connectEvent({ origin: FOREIGN, sid: null, token: null, ip: '198.51.100.9' })
      assert.equal((await f.app.handle(anon)).status, 403)
      const withBob = f.connectEvent({ origin: FOREIGN, sid: SID.bob, ip: '198.51.100.9' })
      assert.equal((await f.app.handle(withBob)).status, 403)
      const badChannel = f.connectEvent({ channel: 'a*', sid: SID.bob, ip: '198.51.100.9' })
      assert.equal((await f.app.handle(badChannel)).status, 400)
    }
    const fromThatIp = f.connectEvent({ token: await f.issue('alice'), ip: '198.51.100.9' })
    assert.equal((await f.app.handle(fromThatIp)).status, 200)
    const bobElsewhere = f.connectEvent({
      token: await f.issue('bob'),
      sid: SID.bob,
      ip: '192.0.2.77',
    })
    assert.equal((await f.app.handle(bobElsewhere)).status, 200)
  })

  test('a hundred users behind one IP, default limits: every connect passes, twice over', async () => {
    const users = Array.from({ length: 100 }, (_, i) => `user${i}`)
    const f = await appFixture({
      identify: (event) => {
        const sid = parseCookies(event.headers.cookie).get('sessionid') ?? null
        return { sessionId: sid, userId: sid?.replace(/^sid-/, '') ?? null }
      },
      loadUser: (id) => ({ id, permissions: ['chat.use'] }),
    })
    for (const round of [1, 2]) {
      for (const user of users) {
        const sid = `sid-${user}`
        const issued = await f.app.tokens.issue(user, sid)
        assert.ok(issued.ok, `${user} token, round ${round}`)
        const r = await f.app.handle(
          f.connectEvent({ token: issued.token, sid, ip: '203.0.113.50' }),
        )
        assert.equal(r.status, 200, `${user}, round ${round}`)
      }
      f.clock.advance(10_000)
    }
  })

  test('failed token attempts fill the IP budget; then 429 before the token is used', async () => {
    const store = countingStore(createMemoryStore())
    const f = await appFixture({ connectFailureLimitPerIp: 3 }, { store })
    const ip = '198.51.100.33'
    for (let i = 0; i < 3; i++) {
      assert.equal((await f.app.handle(f.connectEvent({ token: 'A'.repeat(43), ip }))).status, 401)
    }
    const token = await f.issue('alice')
    const before = store.calls.get('openSession') ?? 0
    const limited = await f.app.handle(f.connectEvent({ token, ip }))
    assert.equal(limited.status, 429)
    assert.ok(Number(limited.headers?.['retry-after']) >= 1)
    assert.equal(store.calls.get('openSession') ?? 0, before, 'the token was not looked at')
    // Refusals for the rate do not count as failures: once the failures fade, it passes,
    // however often the client retried meanwhile.
    // (Counted, a retry a second would keep the window full for ever.)
    let fresh = token
    let passedAt = -1
    for (let t = 1; t <= 150 && passedAt < 0; t++) {
      f.clock.advance(1_000)
      if (t % 30 === 0) fresh = await f.issue('alice')
      const r = await f.app.handle(f.connectEvent({ token: fresh, ip }))
      if (r.status === 200) passedAt = t
      else assert.equal(r.status, 429)
    }
    assert.ok(passedAt > 0 && passedAt <= 121, `passed after ${passedAt} s`)
  })

  test('an IP refused for its failures charges no user: the user key after it is never counted', async () => {
    const f = await appFixture({ connectFailureLimitPerIp: 1, connectLimitPerUser: 3 })
    const ip = '198.51.100.34'
    await f.app.handle(f.connectEvent({ token: 'bad', sid: SID.eve, ip }))
    // bob's cookie from the refused IP, ten times: refused for the IP, bob not charged.
    for (let i = 0; i < 10; i++) {
      const r = await f.app.handle(f.connectEvent({ token: 'bad', sid: SID.bob, ip }))
      assert.equal(r.status, 429)
    }
    for (let i = 0; i < 3; i++) {
      const r = await f.app.handle(
        f.connectEvent({ token: await f.issue('bob'), sid: SID.bob, ip: `192.0.2.${i + 1}` }),
      )
      assert.equal(r.status, 200, `bob connect ${i}`)
    }
  })

  test('a session write that fails after committing (a timed-out store) leaves no ghost session', async () => {
    for (const [order, extra, op] of [
      ['user known', {}, 'openSession'],
      [
        'token first',
        {
          identify: (e: GatewayEvent) => ({
            sessionId: parseCookies(e.headers.cookie).get('sessionid') ?? null,
          }),
        },
        'createSession',
      ],
    ] as const) {
      const inner = createMemoryStore()
      // Writes, then reports a timeout: what ioredis does when Redis runs a script late.
      const store: Store = {
        ...inner,
        [op]: async (...args: unknown[]) => {
          await (inner[op] as (...a: unknown[]) => Promise<unknown>)(...args)
          throw new GatehouseError('ERR_STORE_UNAVAILABLE', 'Command timed out')
        },
      }
      const f = await appFixture(extra, { store })
      const event = f.connectEvent({ token: await f.issue() })
      const r = await f.app.handle(event)
      assert.equal(r.status, 503, order)
      // The undo is sent before the answer; a tick lets it land.
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(await inner.listConnections({ all: true }), [], order)
      assert.equal((await inner.getSession(event.connectionId))?.connected, false, order)
    }
  })
})
