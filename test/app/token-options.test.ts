/**
 * Token options of the app (TTL, issue limit, CSRF names, allowSameSite) and
 * `app.tokenEndpoint()`, which takes only `authenticate` and refuses anything else.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { AppOptions } from '../../src/app/types.ts'
import { isGatehouseError } from '../../src/errors.ts'
import type { SessionRecord } from '../../src/store/store.ts'
import { appFixture, ORIGIN, SID } from '../support/app-fixture.ts'

const URL_ = 'http://127.0.0.1:3000/api/ws-token/'
const CSRF = 'k3Vq9dZbXf0aT7hLw2mN8pR4sY6uC1eG'
const authenticate = async () => ({ userId: 'alice', sessionId: SID.alice })

function post(headers: Record<string, string> = {}): Request {
  return new Request(URL_, {
    method: 'POST',
    headers: {
      cookie: `csrftoken=${CSRF}`,
      'x-csrftoken': CSRF,
      origin: ORIGIN,
      'sec-fetch-site': 'same-origin',
      ...headers,
    },
  })
}

async function endpoint(overrides: Partial<AppOptions> = {}) {
  const f = await appFixture(overrides)
  return { f, handle: f.app.tokenEndpoint({ authenticate }) }
}

describe('app.tokenEndpoint()', () => {
  test('refuses unknown keys, naming them (they used to be dropped silently)', async () => {
    const { f } = await endpoint()
    for (const key of ['ttlMs', 'issueLimit', 'csrfCookieName', 'allowSameSite', 'authenticat']) {
      assert.throws(
        () => f.app.tokenEndpoint({ authenticate, [key]: 1 } as never),
        (e) =>
          isGatehouseError(e, 'ERR_INVALID_OPTION') && e.message.includes(`tokenEndpoint.${key}`),
        key,
      )
    }
    for (const options of [undefined, null, {}, { authenticate: 'x' }]) {
      assert.throws(
        () => f.app.tokenEndpoint(options as never),
        (e) => isGatehouseError(e, 'ERR_INVALID_OPTION') && e.message.includes('tokenEndpoint'),
      )
    }
  })

  test('tokenTtlMs sets the lifetime the endpoint announces and the store enforces', async () => {
    const { f, handle } = await endpoint({ tokenTtlMs: 5_000 })
    const issue = async () => {
      const res = await handle(post())
      assert.equal(res.status, 200)
      return (await res.json()) as { token: string; expires_in: number }
    }
    const first = await issue()
    const second = await issue()
    assert.equal(first.expires_in, 5)
    f.clock.advance(4_900)
    assert.equal((await f.app.handle(f.connectEvent({ token: first.token }))).status, 200)
    f.clock.advance(101)
    assert.equal((await f.app.handle(f.connectEvent({ token: second.token }))).status, 401)
  })

  test('tokenIssueLimit and tokenIssueWindowMs bound issuing per user', async () => {
    const { f, handle } = await endpoint({ tokenIssueLimit: 2, tokenIssueWindowMs: 10_000 })
    assert.equal((await handle(post())).status, 200)
    assert.equal((await handle(post())).status, 200)
    const refused = await handle(post())
    assert.equal(refused.status, 429)
    assert.ok(Number(refused.headers.get('retry-after')) >= 1)
    f.clock.advance(20_001)
    assert.equal((await handle(post())).status, 200)
  })

  test('csrfCookieName and csrfHeaderName replace the default names', async () => {
    const { handle } = await endpoint({ csrfCookieName: 'xsrf', csrfHeaderName: 'x-xsrf' })
    // The default names no longer count.
    assert.equal((await handle(post())).status, 403)
    const custom = post({ cookie: `xsrf=${CSRF}`, 'x-xsrf': CSRF })
    assert.equal((await handle(custom)).status, 200)
    const mismatch = post({ cookie: `xsrf=${CSRF}`, 'x-xsrf': `${CSRF}x` })
    assert.equal((await handle(mismatch)).status, 403)
  })

  test('allowSameSite: same-site is refused by default and accepted when set', async () => {
    const strict = await endpoint()
    assert.equal((await strict.handle(post({ 'sec-fetch-site': 'same-site' }))).status, 403)
    const relaxed = await endpoint({ allowSameSite: true })
    assert.equal((await relaxed.handle(post({ 'sec-fetch-site': 'same-site' }))).status, 200)
    assert.equal((await relaxed.handle(post({ 'sec-fetch-site': 'cross-site' }))).status, 403)
  })
})

describe('what hooks and handlers get instead of a late-bound app', () => {
  test('onConnect and onDisconnect receive the app’s send; handlers receive its tokens', async () => {
    const seen: string[] = []
    let revoked = -1
    const f = await appFixture({
      onConnect: async ({ session, send }: { session: SessionRecord; send: unknown }) => {
        seen.push(`connect:${typeof (send as { toChannel?: unknown }).toChannel}`)
        await (send as { toConnection: (id: string, m: unknown) => Promise<unknown> }).toConnection(
          session.connectionId,
          { hello: true },
        )
      },
      onDisconnect: ({ send }) => {
        seen.push(`disconnect:${typeof send.toAll}`)
      },
      handlers: {
        revoke: async (ctx) => {
          revoked = await ctx.tokens.revokeUser('bob')
          return { type: 'ok' }
        },
      },
    })
    await f.issue('bob')
    await f.issue('bob')
    const id = await f.connect('alice')
    await f.app.handle(f.messageEvent(id, '{"action":"revoke"}'))
    assert.equal(revoked, 2)
    await f.app.handle(f.disconnectEvent(id))
    assert.deepEqual(seen, ['connect:function', 'disconnect:function'])
  })
})
