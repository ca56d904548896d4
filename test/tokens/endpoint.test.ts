import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { manualClock } from '../../src/clock.ts'
import { GatehouseError, isGatehouseError } from '../../src/errors.ts'
import { connectUserKey, tokenUserKey } from '../../src/limits/keys.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import type { Store } from '../../src/store/store.ts'
import { createTokenEndpoint, type TokenEndpointOptions } from '../../src/tokens/endpoint.ts'
import { createTokenService } from '../../src/tokens/service.ts'
import { hashToken } from '../../src/tokens/token.ts'
import { captureLogger } from './capture-logger.ts'
import { spyStore } from './spy-store.ts'

const URL_ = 'http://127.0.0.1:3000/api/ws-token/'
const ORIGIN = 'http://127.0.0.1:3000'
const CSRF = 'k3Vq9dZbXf0aT7hLw2mN8pR4sY6uC1eG'
/** manualClock()'s start: the endpoint's clock. */
const T0 = manualClock().now()
const SESSIONS: Record<string, string> = { 'sid-alice': 'alice', 'sid-bob': 'bob' }

interface Setup {
  readonly handle: (req: Request) => Promise<Response>
  readonly spy: ReturnType<typeof spyStore>
  readonly logger: ReturnType<typeof captureLogger>
  readonly authCalls: { count: number }
  readonly tokens: ReturnType<typeof createTokenService>
}

function setup(
  overrides: Partial<TokenEndpointOptions> = {},
  store: Store = createMemoryStore(),
): Setup {
  const spy = spyStore(store)
  const logger = captureLogger()
  const tokens = createTokenService({ store: spy.store, clock: manualClock(), logger })
  const authCalls = { count: 0 }
  const handle = createTokenEndpoint({
    tokens,
    logger,
    allowedOrigins: [ORIGIN],
    authenticate: async (req) => {
      authCalls.count++
      const sid = /(?:^|;\s*)sessionid=([^;]+)/.exec(req.headers.get('cookie') ?? '')?.[1]
      const userId = sid === undefined ? undefined : SESSIONS[sid]
      return sid !== undefined && userId !== undefined ? { userId, sessionId: sid } : null
    },
    ...overrides,
  })
  return { handle, spy, logger, authCalls, tokens }
}

/** A request as the logged-in page sends it; `headers` overrides (null removes). */
function request(headers: Record<string, string | null> = {}, method = 'POST'): Request {
  const base: Record<string, string | null> = {
    cookie: `sessionid=sid-alice; csrftoken=${CSRF}`,
    'x-csrftoken': CSRF,
    origin: ORIGIN,
    'sec-fetch-site': 'same-origin',
    ...headers,
  }
  const h = new Headers()
  for (const [k, v] of Object.entries(base)) if (v !== null) h.set(k, v)
  return new Request(URL_, { method, headers: h })
}

/** Every refusal has the one body shape of `http/refusal.ts`: `{"message": <status text>}`. */
async function expectStatus(res: Response, status: number, message: string): Promise<void> {
  assert.equal(res.status, status)
  assert.equal(res.headers.get('cache-control'), 'no-store')
  assert.equal(res.headers.get('content-type'), 'application/json')
  assert.deepEqual(await res.json(), { message })
}

describe('token endpoint', () => {
  test('success: 200 {"token","expires_in":60}, no-store JSON, token usable once by that session', async () => {
    const { handle, tokens } = setup()
    const res = await handle(request())
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('cache-control'), 'no-store')
    assert.equal(res.headers.get('content-type'), 'application/json')
    const body = (await res.json()) as { token: string; expires_in: number }
    assert.deepEqual(Object.keys(body).sort(), ['expires_in', 'token'])
    assert.equal(body.expires_in, 60)
    assert.match(body.token, /^[A-Za-z0-9_-]{43}$/)
    assert.equal(await tokens.consume(body.token, 'sid-bob'), null)
    assert.equal((await tokens.consume(body.token, 'sid-alice'))?.userId, 'alice')
    assert.equal(await tokens.consume(body.token, 'sid-alice'), null)
  })

  test('no Origin and no Sec-Fetch-Site (older or non-browser clients): CSRF still decides', async () => {
    const { handle } = setup()
    const res = await handle(request({ origin: null, 'sec-fetch-site': null }))
    assert.equal(res.status, 200)
    await expectStatus(
      await handle(request({ origin: null, 'sec-fetch-site': null, 'x-csrftoken': null })),
      403,
      'Forbidden',
    )
  })

  test('methods other than POST: 405 with Allow: POST, nothing else runs', async () => {
    const { handle, spy, authCalls } = setup()
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const res = await handle(request({}, method))
      assert.equal(res.headers.get('allow'), 'POST')
      await expectStatus(res, 405, 'Method Not Allowed')
    }
    assert.equal(authCalls.count, 0)
    assert.deepEqual(spy.calls, [])
  })

  test('CSRF double submit: every failure is a 403 before authentication', async () => {
    const { handle, spy, authCalls, logger } = setup()
    const cases: Record<string, string | null>[] = [
      { 'x-csrftoken': null },
      { cookie: 'sessionid=sid-alice' },
      { 'x-csrftoken': 'wrong' },
      { 'x-csrftoken': `${CSRF}x` },
      { 'x-csrftoken': CSRF.slice(0, -1) },
      { 'x-csrftoken': CSRF.toLowerCase() },
      { 'x-csrftoken': '', cookie: 'sessionid=sid-alice; csrftoken=' },
      { 'x-csrftoken': `${CSRF}, ${CSRF}` }, // a duplicated header arrives joined
      {
        'x-csrftoken': 'a'.repeat(257),
        cookie: `sessionid=sid-alice; csrftoken=${'a'.repeat(257)}`,
      },
      { cookie: `sessionid=sid-alice; csrftoken=${CSRF}; pad=${'x'.repeat(20_000)}` }, // oversized
    ]
    for (const headers of cases) {
      const res = await handle(request(headers))
      assert.equal(res.status, 403, JSON.stringify(headers).slice(0, 120))
      await expectStatus(res, 403, 'Forbidden')
    }
    assert.equal(authCalls.count, 0)
    assert.deepEqual(spy.calls, [])
    assert.ok(logger.lines.every((l) => l.fields.reason === 'csrf_mismatch'))
    assert.ok(!logger.text().includes(CSRF))
  })

  test('a custom CSRF cookie and header name', async () => {
    const { handle } = setup({ csrfCookieName: 'XSRF-TOKEN', csrfHeaderName: 'X-XSRF-Token' })
    const cookie = `sessionid=sid-alice; XSRF-TOKEN=${CSRF}`
    assert.equal(
      (await handle(request({ cookie, 'x-csrftoken': null, 'x-xsrf-token': CSRF }))).status,
      200,
    )
    assert.equal((await handle(request())).status, 403)
  })

  test('Origin: exact match against allowedOrigins, else 403 before authentication', async () => {
    const { handle, authCalls } = setup()
    for (const origin of [
      'https://evil.test',
      'http://127.0.0.1:3000.evil.test',
      'http://127.0.0.1:3001',
      'https://127.0.0.1:3000',
      'null',
      `${ORIGIN}, https://evil.test`,
      `https://evil.test, ${ORIGIN}`,
      `${ORIGIN}/`,
      'http://user@127.0.0.1:3000',
    ]) {
      await expectStatus(await handle(request({ origin })), 403, 'Forbidden')
    }
    assert.equal(authCalls.count, 0)
    assert.equal((await handle(request({ origin: 'http://localhost:3000' }))).status, 403)
    const two = setup({ allowedOrigins: [ORIGIN, 'http://localhost:3000'] })
    assert.equal((await two.handle(request({ origin: 'http://localhost:3000' }))).status, 200)
  })

  test('Origin is not checked when allowedOrigins is unset (documented); Sec-Fetch-Site still is', async () => {
    const { handle } = setup({ allowedOrigins: undefined })
    assert.equal((await handle(request({ origin: 'https://elsewhere.test' }))).status, 200)
    const crossSite = request({ origin: 'https://evil.test', 'sec-fetch-site': 'cross-site' })
    assert.equal((await handle(crossSite)).status, 403)
  })

  test('Sec-Fetch-Site: same-origin only by default; same-site with allowSameSite', async () => {
    const { handle, authCalls } = setup()
    for (const site of [
      'cross-site',
      'same-site',
      'none',
      'SAME-ORIGIN',
      '',
      'same-origin, cross-site',
    ]) {
      await expectStatus(await handle(request({ 'sec-fetch-site': site })), 403, 'Forbidden')
    }
    assert.equal(authCalls.count, 0)
    const sameSite = setup({ allowSameSite: true })
    assert.equal((await sameSite.handle(request({ 'sec-fetch-site': 'same-site' }))).status, 200)
    assert.equal((await sameSite.handle(request({ 'sec-fetch-site': 'cross-site' }))).status, 403)
  })

  test('not authenticated (no, unknown or malformed identity): 403, no token issued', async () => {
    const { handle, spy } = setup()
    await expectStatus(await handle(request({ cookie: `csrftoken=${CSRF}` })), 403, 'Forbidden')
    await expectStatus(
      await handle(request({ cookie: `sessionid=nope; csrftoken=${CSRF}` })),
      403,
      'Forbidden',
    )
    assert.deepEqual(spy.calls, [])
    for (const identity of [
      { userId: '', sessionId: 's' },
      { userId: 'a', sessionId: '' },
      {},
      'alice',
    ]) {
      // biome-ignore lint/suspicious/noExplicitAny: a host returning junk is the case under test
      const odd = setup({ authenticate: async () => identity as any })
      await expectStatus(await odd.handle(request()), 403, 'Forbidden')
      assert.deepEqual(odd.spy.calls, [])
    }
  })

  test('a user whose connect budget is spent gets 429 with Retry-After, before an issue is counted', async () => {
    const store = createMemoryStore()
    const { handle, spy } = setup({}, store)
    // What 20 $connect attempts of alice charged (DEFAULTS: 20 per minute per user).
    for (let i = 0; i < 20; i++) await store.hit([connectUserKey('alice')], T0)
    const res = await handle(request())
    const retryAfter = Number(res.headers.get('retry-after'))
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 120)
    await expectStatus(res, 429, 'Too Many Requests')
    assert.equal(spy.calls.filter((c) => c.method === 'insertToken').length, 0)
    // The issue counter was not charged: the walk stopped at the connect budget.
    const issueKey = tokenUserKey('alice')
    for (let i = 0; i < 20; i++) assert.equal((await store.hit([issueKey], T0)).allowed, true)
  })

  test('issue rate: the 21st request in a minute is 429 with Retry-After', async () => {
    const { handle, logger } = setup()
    for (let i = 0; i < 20; i++) assert.equal((await handle(request())).status, 200)
    const res = await handle(request())
    const retryAfter = Number(res.headers.get('retry-after'))
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 120)
    await expectStatus(res, 429, 'Too Many Requests')
    assert.ok(logger.lines.some((l) => l.fields.reason === 'rate_limited'))
    // Bob's budget is his own.
    const bob = request({ cookie: `sessionid=sid-bob; csrftoken=${CSRF}` })
    assert.equal((await handle(bob)).status, 200)
  })

  test('store unavailable: 503, never a token', async () => {
    const { handle, spy } = setup()
    spy.down = true
    await expectStatus(await handle(request()), 503, 'Service Unavailable')
    const viaAuth = setup({
      authenticate: async () => {
        throw new GatehouseError('ERR_STORE_UNAVAILABLE', 'sessions db down')
      },
    })
    await expectStatus(await viaAuth.handle(request()), 503, 'Service Unavailable')
  })

  test('a body over 1 KiB: 413 (not 500), before CSRF and authentication', async () => {
    const { handle, authCalls, spy } = setup()
    for (const size of [1_025, 64 * 1024]) {
      const base = request()
      const res = await handle(
        new Request(URL_, { method: 'POST', headers: base.headers, body: 'x'.repeat(size) }),
      )
      await expectStatus(res, 413, 'Payload Too Large')
    }
    assert.equal(authCalls.count, 0)
    assert.equal(spy.calls.length, 0)
    const small = request()
    const ok = await handle(
      new Request(URL_, { method: 'POST', headers: small.headers, body: 'x'.repeat(1_024) }),
    )
    assert.equal(ok.status, 200)
  })

  test('other failures: 500 with a generic body; the detail goes to the log only', async () => {
    const { handle, logger } = setup({
      authenticate: async () => {
        throw new Error('secret detail: /srv/app/sessions.db')
      },
    })
    const res = await handle(request())
    const text = await res.text()
    assert.equal(res.status, 500)
    assert.equal(text, '{"message":"Internal server error"}')
    assert.ok(logger.text().includes('secret detail'))
    assert.ok(logger.text().includes('"stack"'), 'the stack is logged too')
  })

  test('the store holds only hashes: raw token absent from every store call and the SQLite file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-endpoint-'))
    try {
      const store = await openSqliteStore({ path: join(dir, 'gatehouse.db') })
      const { handle, spy, logger } = setup({}, store)
      const issued: string[] = []
      for (let i = 0; i < 3; i++) {
        const res = await handle(request())
        issued.push(((await res.json()) as { token: string }).token)
      }
      await store.close()
      const calls = JSON.stringify(spy.calls)
      let files = ''
      for (const name of await readdir(dir))
        files += (await readFile(join(dir, name))).toString('latin1')
      for (const token of issued) {
        assert.ok(!calls.includes(token), 'raw token passed to the store')
        assert.ok(calls.includes(hashToken(token)))
        assert.ok(!files.includes(token), 'raw token in the database file')
        assert.ok(!logger.text().includes(token), 'raw token in a log line')
      }
      assert.ok(files.includes(hashToken(issued[0] ?? '')), 'hash expected in the database file')
      assert.ok(!files.includes('sid-alice'), 'raw session id in the database file')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('bad options throw ERR_INVALID_OPTION at construction', () => {
    const tokens = createTokenService({ store: createMemoryStore() })
    const authenticate = async () => null
    const invalid = (e: unknown) => isGatehouseError(e, 'ERR_INVALID_OPTION')
    assert.throws(
      () => createTokenEndpoint({ tokens, authenticate, allowedOrigins: ['*'] }),
      invalid,
    )
    assert.throws(
      () => createTokenEndpoint({ tokens, authenticate, allowedOrigins: ['https://a.test/path'] }),
      invalid,
    )
    assert.throws(
      () => createTokenEndpoint({ tokens, authenticate, csrfCookieName: 'a b' }),
      invalid,
    )
    assert.throws(() => createTokenEndpoint({ tokens, authenticate, csrfHeaderName: '' }), invalid)
    // @ts-expect-error: authenticate is required
    assert.throws(() => createTokenEndpoint({ tokens }), invalid)
  })
})

test('createTokenEndpoint refuses unknown keys and a non-boolean allowSameSite, naming them', () => {
  for (const [change, key] of [
    [{ allowedOrigin: [ORIGIN] }, 'allowedOrigin'],
    [{ ttlMs: 1000 }, 'ttlMs'],
    [{ allowSameSite: 'yes' }, 'allowSameSite'],
  ] as const) {
    assert.throws(
      () => setup(change as unknown as Partial<TokenEndpointOptions>),
      (e) => isGatehouseError(e, 'ERR_INVALID_OPTION') && e.message.includes(key),
      key,
    )
  }
})
