/**
 * The admin page (`gatehouse/admin`): what it shows, that every value is escaped, that it is
 * read-only unless told otherwise, and that each action needs the signed double-submit token
 * from a same-origin form.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { createAdmin } from '../../src/admin/index.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { Store } from '../../src/store/store.ts'
import { publish } from '../../src/telemetry.ts'

const BASE = 'http://admin.test'
const HOSTILE_CHANNEL = '<script>alert(1)</script>'
const HOSTILE_USER = '"><img src=x onerror=alert(2)>\''

async function seeded(): Promise<Store> {
  const store = createMemoryStore()
  const now = Date.now()
  const add = (id: string, userId: string | null, channel: string | null) =>
    store.createSession({ connectionId: id, userId, sessionHash: null, channel, connectedAt: now })
  await add('c1', 'alice', 'lobby')
  await add('c2', 'bob', 'lobby')
  await add('c3', HOSTILE_USER, HOSTILE_CHANNEL)
  await add('c4', 'alice', null)
  await store.insertToken({
    hash: 'a'.repeat(64),
    userId: 'alice',
    sessionHash: 'b'.repeat(64),
    appId: 'default',
    createdAt: now,
    expiresAt: now + 60_000,
  })
  return store
}

function fakeApp() {
  const calls: string[] = []
  return {
    calls,
    send: {
      close: async (a: { connectionId: string }) => {
        calls.push(`close ${a.connectionId}`)
        return 1
      },
    },
    revokeUser: async (userId: string) => {
      calls.push(`revoke ${userId}`)
      return { tokens: 2, connections: 1 }
    },
  }
}

const get = (admin: (r: Request) => Promise<Response>, cookie?: string) =>
  admin(new Request(`${BASE}/admin`, cookie ? { headers: { cookie } } : {}))

/** The CSRF cookie a page set and the token its forms carry. */
async function pageToken(admin: (r: Request) => Promise<Response>) {
  const res = await get(admin)
  const setCookie = res.headers.get('set-cookie') ?? ''
  const cookie = setCookie.split(';')[0] as string
  const html = await res.text()
  const token = html.match(/name="csrf" value="([^"]+)"/)?.[1] as string
  return { cookie, token, html }
}

function post(path: string, form: Record<string, string>, headers: Record<string, string>) {
  return new Request(`${BASE}/admin/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  })
}

describe('admin page', () => {
  const handlers: { close(): void }[] = []
  after(() => {
    for (const h of handlers) h.close()
  })
  const make = (opts: Parameters<typeof createAdmin>[0]) => {
    const admin = createAdmin(opts)
    handlers.push(admin)
    return admin
  }

  it('lists live sessions by channel and by user, and counts outstanding tokens', async () => {
    const admin = make({ store: await seeded() })
    const res = await get(admin)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/)
    const html = await res.text()
    const byChannel = html.slice(html.indexOf('id="by-channel"'), html.indexOf('id="by-user"'))
    for (const id of ['c1', 'c2', 'c3', 'c4'])
      assert.ok(byChannel.includes(`<code>${id}</code>`), id)
    assert.match(byChannel, /<b>lobby<\/b> <span class="chip">2<\/span>/)
    const byUser = html.slice(html.indexOf('id="by-user"'), html.indexOf('id="refusals"'))
    assert.match(byUser, /<b>alice<\/b><\/td><td>2<\/td>/)
    assert.match(html, /<b>1<\/b><span>outstanding tokens<\/span>/)
    // Never a token hash.
    assert.ok(!html.includes('a'.repeat(64)))
    assert.ok(!html.includes('b'.repeat(64)))
  })

  it('escapes hostile channel and user names everywhere, and runs no script', async () => {
    const admin = make({ store: await seeded(), app: fakeApp(), allowActions: true })
    const res = await get(admin)
    const html = await res.text()
    assert.ok(!html.includes(HOSTILE_CHANNEL))
    assert.ok(!html.includes('<img'))
    assert.ok(!html.includes('<script'))
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'))
    assert.ok(html.includes('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;&#39;'))
    const csp = res.headers.get('content-security-policy') ?? ''
    assert.match(csp, /default-src 'none'/)
    assert.doesNotMatch(csp, /script-src/)
    assert.match(csp, /frame-ancestors 'none'/)
    assert.equal(res.headers.get('cache-control'), 'no-store')
  })

  it('shows refusals by reason and rate-limit hot keys from the telemetry stream', async () => {
    const admin = make({ store: createMemoryStore() })
    publish({ type: 'app_connect', outcome: 'refused', status: 403, reason: 'origin_forbidden' })
    publish({ type: 'gateway_connect', outcome: 'refused', status: 414, reason: 'url_too_long' })
    publish({ type: 'rate_limited', kind: 'connect_ip', key: 'connect:ip:<b>10.0.0.1' })
    publish({ type: 'rate_limited', kind: 'connect_ip', key: 'connect:ip:<b>10.0.0.1' })
    const html = await (await get(admin)).text()
    assert.match(html, /origin_forbidden<\/span><\/td><td>1</)
    assert.match(html, /url_too_long/)
    assert.match(html, /<code>connect:ip:&lt;b&gt;10\.0\.0\.1<\/code><\/td><td>2</)
    assert.match(html, /id="nodes"/)
  })

  it('is read-only by default: no forms, and the action paths do not exist', async () => {
    const admin = make({ store: await seeded() })
    const { html, cookie, token } = await pageToken(admin)
    assert.ok(!html.includes('<form'))
    assert.equal(token, undefined)
    const res = await admin(post('kick', { connectionId: 'c1', csrf: 'x' }, { cookie }))
    assert.equal(res.status, 404)
  })

  it('kicks a connection and revokes a user with the page token', async () => {
    const app = fakeApp()
    const admin = make({ store: await seeded(), app, allowActions: true })
    const { cookie, token } = await pageToken(admin)
    const headers = { cookie, 'sec-fetch-site': 'same-origin', origin: BASE }
    const kicked = await admin(post('kick', { connectionId: 'c2', csrf: token }, headers))
    assert.equal(kicked.status, 200)
    assert.match(await kicked.text(), /Connection c2 closed/)
    const revoked = await admin(post('revoke', { userId: 'bob', csrf: token }, headers))
    assert.equal(revoked.status, 200)
    assert.deepEqual(app.calls, ['close c2', 'revoke bob'])
  })

  it('refuses an action without the token, with a wrong or foreign one, or cross-site', async () => {
    const app = fakeApp()
    const admin = make({ store: await seeded(), app, allowActions: true })
    const { cookie, token } = await pageToken(admin)
    const other = make({ store: createMemoryStore(), app: fakeApp(), allowActions: true })
    const foreign = await pageToken(other)
    const form = { connectionId: 'c1' }
    const cases: [string, Request][] = [
      ['no token', post('kick', form, { cookie })],
      ['no cookie', post('kick', { ...form, csrf: token }, {})],
      ['token differs from cookie', post('kick', { ...form, csrf: foreign.token }, { cookie })],
      [
        'cookie and token of another handler',
        post('kick', { ...form, csrf: foreign.token }, { cookie: foreign.cookie }),
      ],
      [
        'unsigned pair',
        post('kick', { ...form, csrf: 'n.sig' }, { cookie: 'gatehouse_admin_csrf=n.sig' }),
      ],
      [
        'cross-site',
        post('kick', { ...form, csrf: token }, { cookie, 'sec-fetch-site': 'cross-site' }),
      ],
      [
        'same-site',
        post('kick', { ...form, csrf: token }, { cookie, 'sec-fetch-site': 'same-site' }),
      ],
      [
        'foreign origin',
        post('kick', { ...form, csrf: token }, { cookie, origin: 'http://evil.test' }),
      ],
      [
        'JSON body',
        new Request(`${BASE}/admin/kick`, {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/json' },
          body: JSON.stringify({ ...form, csrf: token }),
        }),
      ],
      [
        'GET',
        new Request(`${BASE}/admin/kick?connectionId=c1&csrf=${token}`, { headers: { cookie } }),
      ],
    ]
    for (const [what, request] of cases) {
      const res = await admin(request)
      assert.ok(res.status === 403 || res.status === 405, `${what}: ${res.status}`)
    }
    assert.deepEqual(app.calls, [])
  })

  it('validates its options', async () => {
    const store = createMemoryStore()
    const bad: [object, string][] = [
      [{ store, nope: 1 }, 'ERR_INVALID_OPTION'],
      [{ store, allowActions: true }, 'ERR_OPTION_CONFLICT'],
      [{ store, basePath: 'admin/' }, 'ERR_INVALID_OPTION'],
      [{ store, csrfSecret: randomBytes(8) }, 'ERR_INVALID_OPTION'],
      [{}, 'ERR_INVALID_OPTION'],
    ]
    for (const [opts, code] of bad) {
      assert.throws(
        () => createAdmin(opts as Parameters<typeof createAdmin>[0]),
        (err) => isGatehouseError(err, code as 'ERR_INVALID_OPTION'),
        JSON.stringify(Object.keys(opts)),
      )
    }
  })
})
