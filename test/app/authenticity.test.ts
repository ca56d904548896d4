/**
 * The gateway → app trust boundary under attack: a replay-cache flood by anonymous signed
 * `$connect`s, replays to a second app process, and the static secret header on an app that
 * wants HMAC only. Calls are signed exactly as the bundled gateway's HTTP integration signs
 * them and handed to `app.fetch` in process (no sockets), so the full flood stays fast.
 */
import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { describe, it } from 'node:test'
import { resolveAppConfig } from '../../src/app/config.ts'
import { createApp } from '../../src/app/create-app.ts'
import type { AppOptions } from '../../src/app/types.ts'
import { isGatehouseError } from '../../src/errors.ts'
import type { GatewayEvent } from '../../src/events/event.ts'
import { integrationUrlFor, toIntegrationRequest } from '../../src/events/integration-request.ts'
import {
  hashSignedHeaders,
  STATIC_SECRET_HEADER,
  signEvent,
  staticSecretValue,
} from '../../src/events/signing.ts'
import { silentLogger } from '../../src/logger.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { Store } from '../../src/store/store.ts'
import { appFixture, SID } from '../support/app-fixture.ts'

const SECRET = 'flood-test-gateway-secret-0123456789'
const BASE = 'http://app.internal:8000/ws/'

type Fixture = Awaited<ReturnType<typeof appFixture>>

/** The HTTP integration request the gateway would send for `event`, signed at the clock's now. */
function signedRequest(f: Fixture, event: GatewayEvent, secret: string = SECRET): Request {
  const built = toIntegrationRequest(event, {
    url: integrationUrlFor(BASE, event.routeKey),
    apiId: 'testapi',
    secret,
    clock: f.clock,
  })
  return new Request(built.url, {
    method: built.method,
    headers: built.headers as [string, string][],
    // Bytes, not a string: Fetch would add a Content-Type the gateway never sent (unsigned).
    ...(built.body === '' ? {} : { body: new TextEncoder().encode(built.body) }),
  })
}

/**
 * `event` as `decodeHttpEvent` hands a signed call to the pipelines: the signature and the
 * request facts it covers on `transport`. Skips building and parsing a Fetch `Request`,
 * which would make the 100 000-call flood cost minutes on a busy machine.
 */
function signedEvent(f: Fixture, event: GatewayEvent): GatewayEvent {
  const request = {
    method: 'POST',
    path: '/ws/connect',
    rawQuery: event.rawQuery,
    headersHash: hashSignedHeaders(Object.entries(event.headers)),
  }
  const { timestamp, signature } = signEvent(
    {
      timestamp: f.clock.now(),
      requestId: event.requestId,
      connectionId: event.connectionId,
      routeKey: event.routeKey,
      sourceIp: event.sourceIp,
      ...request,
      body: event.body,
    },
    SECRET,
  )
  return { ...event, transport: { via: 'http', signature, timestamp, request } }
}

/** A store as PostgreSQL and Redis describe themselves: shared by every app process. */
function sharedMemoryStore(): Store {
  return { ...createMemoryStore(), shared: true }
}

describe('replay cache under a flood of anonymous signed $connects', () => {
  it('100 000 refused connects (foreign Origin) leave a legitimate message and connect served', async () => {
    const f = await appFixture({
      gatewaySecret: SECRET,
      allowedHosts: ['app.internal:8000'],
      handlers: { ping: () => ({ type: 'pong' }) },
      // 100 000 refusals would otherwise be 100 000 log lines to format.
      logger: silentLogger,
    })
    const token = await f.issue('alice')
    const opened = f.connectEvent({ token, sid: SID.alice })
    assert.equal((await f.app.fetch(signedRequest(f, opened))).status, 200)

    // The red-team flood: signed by the gateway (it relays whatever arrives), no cookie, no
    // token, a foreign Origin, from many addresses. Each is refused by the app. The first
    // thousand go through app.fetch like the rest of this test; the others skip the Fetch
    // parsing (same verifier, same pipeline).
    const statuses = new Map<number, number>()
    for (let i = 0; i < 100_000; i++) {
      const event = f.connectEvent({
        sid: null,
        token: null,
        origin: 'https://evil.example',
        ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        connectionId: `flood${i}=`,
      })
      const { status } =
        i < 1_000
          ? await f.app.fetch(signedRequest(f, event))
          : await f.core.handle(signedEvent(f, event))
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
    assert.deepEqual([...statuses.keys()].sort(), [403], 'every flood connect is refused 403')

    const message = f.messageEvent(opened.connectionId, '{"action":"ping"}')
    const reply = await f.app.fetch(signedRequest(f, message))
    assert.equal(reply.status, 200)
    assert.deepEqual(await reply.json(), { type: 'pong' })
    const fresh = f.connectEvent({ token: await f.issue('bob'), sid: SID.bob })
    assert.equal((await f.app.fetch(signedRequest(f, fresh))).status, 200)
    const bye = await f.app.fetch(signedRequest(f, f.disconnectEvent(opened.connectionId)))
    assert.equal(bye.status, 200)
  })

  it('a connect refused for its rate stays remembered: replayed once the limit clears, it is refused', async () => {
    const f = await appFixture({
      gatewaySecret: SECRET,
      connectLimitPerUser: 1,
      connectWindowMs: 10_000,
    })
    // Both tokens first: the token endpoint refuses while the user's connect budget is spent.
    const second = await f.issue('alice', SID.alice2)
    const first = signedEvent(f, f.connectEvent({ token: await f.issue('alice') }))
    assert.equal((await f.core.handle(first)).status, 200)
    const limited = signedEvent(f, f.connectEvent({ token: second, sid: SID.alice2 }))
    assert.equal((await f.core.handle(limited)).status, 429)
    // The rate window clears while the signature is still inside its own window.
    f.clock.advance(11_000)
    assert.equal((await f.core.handle(limited)).status, 403, 'the replay is refused')
    assert.ok(f.logs.some((l) => l.includes('"reason":"gateway_replayed"')))
  })

  it('a connect refused by an admit check (token unburnt) stays remembered once the check passes', async () => {
    let open = false
    const f = await appFixture({
      gatewaySecret: SECRET,
      connectChecks: [() => open],
    })
    const call = signedEvent(f, f.connectEvent({ token: await f.issue('alice') }))
    assert.equal((await f.core.handle(call)).status, 403)
    open = true
    f.clock.advance(1_000)
    assert.equal((await f.core.handle(call)).status, 403, 'the replay is refused')
    assert.ok(f.logs.some((l) => l.includes('"reason":"gateway_replayed"')))
  })

  it('a connect refused for its token alone is released: a replay is judged again', async () => {
    const f = await appFixture({ gatewaySecret: SECRET })
    const call = signedEvent(f, f.connectEvent({ token: 'not-a-token' }))
    assert.equal((await f.core.handle(call)).status, 401)
    assert.equal((await f.core.handle(call)).status, 401)
    assert.ok(!f.logs.some((l) => l.includes('"reason":"gateway_replayed"')))
  })

  it('a refused connect replayed is refused again; an accepted one is a replay (403)', async () => {
    const f = await appFixture({ gatewaySecret: SECRET, allowedHosts: ['app.internal:8000'] })
    const refused = f.connectEvent({ origin: 'https://evil.example' })
    const call = signedRequest(f, refused)
    assert.equal((await f.app.fetch(call.clone())).status, 403)
    assert.equal((await f.app.fetch(call.clone())).status, 403)
    assert.ok(
      f.logs.filter((l) => l.includes('"reason":"origin_forbidden"')).length === 2,
      'judged on its merits both times',
    )
    const accepted = signedRequest(f, f.connectEvent({ token: await f.issue('alice') }))
    assert.equal((await f.app.fetch(accepted.clone())).status, 200)
    assert.equal((await f.app.fetch(accepted.clone())).status, 403)
    assert.ok(f.logs.some((l) => l.includes('"reason":"gateway_replayed"')))
  })
})

describe('replays to another app process (shared store)', () => {
  it('a signed message replayed to a second process is refused and its handler runs once', async () => {
    const store = sharedMemoryStore()
    let runs = 0
    const options = {
      gatewaySecret: SECRET,
      handlers: {
        transfer: () => {
          runs++
          return { type: 'done' }
        },
      },
    }
    const a = await appFixture(options, { store })
    const b = await appFixture(options, { store })
    const id = await a.connect('alice')
    const message = signedRequest(a, a.messageEvent(id, '{"action":"transfer"}'))
    assert.equal((await a.app.fetch(message.clone())).status, 200)
    const replay = await b.app.fetch(message.clone())
    assert.equal(replay.status, 403)
    assert.deepEqual(await replay.json(), { type: 'error', message: 'Forbidden' })
    assert.equal(runs, 1, 'the handler ran once')
    assert.ok(b.logs.some((l) => l.includes('"reason":"gateway_replayed"')))
    assert.ok(!b.logs.some((l) => l.includes('connection closed')), 'no close for a replay')
    // An honest next message still reaches either process.
    const next = signedRequest(a, a.messageEvent(id, '{"action":"transfer"}'))
    assert.equal((await b.app.fetch(next)).status, 200)
    assert.equal(runs, 2)
  })

  it('a $disconnect, and an anonymous app’s $connect, replayed to a second process are refused', async () => {
    const store = sharedMemoryStore()
    const hooks: string[] = []
    const options = {
      gatewaySecret: SECRET,
      onDisconnect: () => {
        hooks.push('disconnect')
      },
    }
    const a = await appFixture(options, { store })
    const b = await appFixture(options, { store })
    const id = await a.connect('alice')
    const bye = signedRequest(a, a.disconnectEvent(id))
    assert.equal((await a.app.fetch(bye.clone())).status, 200)
    assert.equal((await b.app.fetch(bye.clone())).status, 403)
    assert.deepEqual(hooks, ['disconnect'])

    // The fixture's permission rule needs a user; an anonymous app has none.
    const anonymous = {
      gatewaySecret: SECRET,
      useToken: false,
      permissions: undefined,
    } as unknown as Partial<AppOptions>
    const c = await appFixture(anonymous, { store })
    const d = await appFixture(anonymous, { store })
    const connect = signedRequest(c, c.connectEvent({ sid: null, token: null }))
    assert.equal((await c.app.fetch(connect.clone())).status, 200)
    assert.equal((await d.app.fetch(connect.clone())).status, 403)
  })

  it('is on by default for a shared store, off for a private one, and can be set either way', () => {
    const base = { identify: () => ({ sessionId: null }), loadUser: () => null }
    const shared = sharedMemoryStore()
    assert.equal(resolveAppConfig({ ...base, store: shared }).sharedReplayCheck, true)
    assert.equal(resolveAppConfig({ ...base, store: createMemoryStore() }).sharedReplayCheck, false)
    assert.equal(
      resolveAppConfig({ ...base, store: shared, sharedReplayCheck: false }).sharedReplayCheck,
      false,
    )
    assert.equal(
      resolveAppConfig({ ...base, store: createMemoryStore(), sharedReplayCheck: true })
        .sharedReplayCheck,
      true,
    )
  })

  it('off, the second process runs the replay (what the option prevents)', async () => {
    const store = sharedMemoryStore()
    let runs = 0
    const options = {
      gatewaySecret: SECRET,
      sharedReplayCheck: false,
      handlers: {
        transfer: () => {
          runs++
        },
      },
    }
    const a = await appFixture(options, { store })
    const b = await appFixture(options, { store })
    const id = await a.connect('alice')
    const message = signedRequest(a, a.messageEvent(id, '{"action":"transfer"}'))
    await a.app.fetch(message.clone())
    await b.app.fetch(message.clone())
    assert.equal(runs, 2)
  })
})

/** The canonical string the gateway signs (docs/gateway.md), rebuilt as an attacker would. */
function canonicalOf(p: {
  timestamp: number
  requestId: string
  connectionId: string
  routeKey: string
  sourceIp: string
  method: string
  path: string
  rawQuery: string
  headersHash: string
  body: string | undefined
}): string {
  const bodyHash = createHash('sha256')
    .update(p.body ?? '', 'utf8')
    .digest('hex')
  return [
    'v2',
    String(p.timestamp),
    p.requestId,
    p.connectionId,
    p.routeKey,
    p.sourceIp,
    p.method,
    p.path,
    p.rawQuery,
    p.headersHash,
    bodyHash,
  ].join('\n')
}

describe('hmacOnly', () => {
  function staticSecretRequest(f: Fixture, event: GatewayEvent, secret: string): Request {
    const built = toIntegrationRequest(event, {
      url: integrationUrlFor(BASE, event.routeKey),
      apiId: 'testapi',
      clock: f.clock,
    })
    const headers = new Headers(built.headers as [string, string][])
    headers.set(STATIC_SECRET_HEADER, secret)
    return new Request(built.url, {
      method: built.method,
      headers,
      // Bytes, not a string: Fetch would add a Content-Type the gateway never sent (unsigned).
      ...(built.body === '' ? {} : { body: new TextEncoder().encode(built.body) }),
    })
  }

  it('refuses the static x-gatehouse-secret header even with the right value; HMAC still works', async () => {
    const strict = await appFixture({ gatewaySecret: SECRET, hmacOnly: true })
    const lax = await appFixture({ gatewaySecret: SECRET })
    for (const f of [strict, lax]) {
      const event = f.connectEvent({ token: await f.issue('alice') })
      const value = staticSecretValue(SECRET)
      const status = (await f.app.fetch(staticSecretRequest(f, event, value))).status
      assert.equal(status, f === strict ? 403 : 200)
    }
    assert.ok(strict.logs.some((l) => l.includes('"reason":"gateway_static_refused"')))
    const signed = strict.connectEvent({ token: await strict.issue('alice') })
    assert.equal((await strict.app.fetch(signedRequest(strict, signed))).status, 200)
  })

  it('a leaked static value is not the HMAC key: calls signed with it, or with the raw secret, are refused', async () => {
    const f = await appFixture({ gatewaySecret: SECRET, hmacOnly: true })
    for (const key of [staticSecretValue(SECRET), SECRET]) {
      const event = f.connectEvent({ token: await f.issue('alice') })
      const parts = {
        timestamp: f.clock.now(),
        requestId: event.requestId,
        connectionId: event.connectionId,
        routeKey: event.routeKey,
        sourceIp: event.sourceIp,
        method: 'POST',
        path: '/ws/connect',
        rawQuery: event.rawQuery,
        headersHash: hashSignedHeaders(Object.entries(event.headers)),
        body: event.body,
      }
      // What an attacker holding `key` computes: HMAC-SHA256(key, canonical request).
      const canonical = canonicalOf(parts)
      const signature = createHmac('sha256', key).update(canonical, 'utf8').digest('hex')
      const forged: GatewayEvent = {
        ...event,
        transport: {
          via: 'http',
          signature,
          timestamp: String(parts.timestamp),
          request: {
            method: parts.method,
            path: parts.path,
            rawQuery: parts.rawQuery,
            headersHash: parts.headersHash,
          },
        },
      }
      assert.equal((await f.core.handle(forged)).status, 403)
    }
    // The real signer (derived key) passes.
    const ok = signedEvent(f, f.connectEvent({ token: await f.issue('alice') }))
    assert.equal((await f.core.handle(ok)).status, 200)
  })

  it('needs a gatewaySecret', () => {
    assert.throws(
      () =>
        createApp({
          store: createMemoryStore(),
          hmacOnly: true,
          allowUnsignedGateway: true,
          identify: () => ({ sessionId: null }),
          loadUser: () => null,
        }),
      (err) => isGatehouseError(err, 'ERR_OPTION_CONFLICT'),
    )
  })
})
