import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { manualClock } from '../../src/clock.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import { generateToken, hashSessionId, hashToken } from '../../src/tokens/token.ts'
import {
  connectWithToken,
  type TokenConnect,
  type TokenUseContext,
  useToken,
} from '../../src/tokens/use.ts'
import { captureLogger } from './capture-logger.ts'
import { spyStore } from './spy-store.ts'

const T0 = 1_700_000_000_000

function setup(appId = 'chat') {
  const spy = spyStore(createMemoryStore())
  const clock = manualClock(T0)
  const logger = captureLogger()
  const ctx: TokenUseContext = { store: spy.store, appId, clock, logger }
  // A token as the token service would have issued it.
  async function issue(userId = 'alice', sessionId = 'sid-1', issuer = appId) {
    const token = generateToken()
    await spy.store.insertToken({
      hash: hashToken(token),
      userId,
      sessionHash: hashSessionId(sessionId),
      appId: issuer,
      createdAt: clock.now(),
      expiresAt: clock.now() + 60_000,
    })
    spy.calls.length = 0
    return token
  }
  const methods = () => spy.calls.map((c) => c.method)
  return { spy, clock, logger, ctx, issue, methods }
}

/** A connect request; `admit` records each user it is asked about and the store calls before it. */
function request(
  token: unknown,
  over: Partial<TokenConnect<string>> = {},
  seen: { users: string[]; callsBefore: number[] } = { users: [], callsBefore: [] },
  calls?: () => number,
  verdict?: string,
): TokenConnect<string> {
  return {
    token,
    sessionId: 'sid-1',
    userId: 'alice',
    connection: { connectionId: 'c1', channel: 'lobby', connectedAt: T0 },
    admit: (userId) => {
      seen.users.push(userId)
      seen.callsBefore.push(calls?.() ?? 0)
      return verdict
    },
    ...over,
  }
}

describe('tokens/use: connectWithToken', () => {
  test('user known: admit runs before any store call, then one openSession writes the row', async () => {
    const f = setup()
    const token = await f.issue()
    const seen = { users: [] as string[], callsBefore: [] as number[] }
    const out = await connectWithToken(
      f.ctx,
      request(token, {}, seen, () => f.spy.calls.length),
    )
    assert.deepEqual(seen, { users: ['alice'], callsBefore: [0] })
    assert.deepEqual(f.methods(), ['openSession'])
    const session = {
      connectionId: 'c1',
      userId: 'alice',
      sessionHash: hashSessionId('sid-1'),
      channel: 'lobby',
      connectedAt: T0,
    }
    assert.deepEqual(out, { ok: true, session })
    assert.deepEqual(f.spy.calls[0]?.args[0], {
      hash: hashToken(token),
      sessionHash: hashSessionId('sid-1'),
      appId: 'chat',
      userId: 'alice',
    })
    assert.equal((await f.spy.store.getSession('c1'))?.userId, 'alice')
  })

  test('user known: a refusal from admit touches no token, and the token works later', async () => {
    const f = setup()
    const token = await f.issue()
    const refused = await connectWithToken(f.ctx, request(token, {}, undefined, undefined, 'no'))
    assert.deepEqual(refused, { ok: false, refused: 'no' })
    assert.deepEqual(f.methods(), [])
    assert.equal((await connectWithToken(f.ctx, request(token))).ok, true)
  })

  test('user unknown: the token is used first, admit gets its owner, the write is guarded', async () => {
    const f = setup()
    const token = await f.issue('bob')
    const seen = { users: [] as string[], callsBefore: [] as number[] }
    const out = await connectWithToken(
      f.ctx,
      request(token, { userId: null }, seen, () => f.spy.calls.length),
    )
    assert.equal(out.ok, true)
    assert.deepEqual(seen, { users: ['bob'], callsBefore: [1] })
    assert.deepEqual(f.methods(), ['consumeToken', 'createSession'])
    assert.deepEqual(f.spy.calls[0]?.args[0], {
      hash: hashToken(token),
      sessionHash: hashSessionId('sid-1'),
      appId: 'chat',
      userId: null,
    })
    assert.deepEqual(f.spy.calls[1]?.args[1], { tokenHash: hashToken(token) })
    assert.equal((await f.spy.store.getSession('c1'))?.userId, 'bob')
  })

  test('user unknown: a revocation between the token and the write refuses with token_revoked', async () => {
    const f = setup()
    const token = await f.issue()
    const out = await connectWithToken(f.ctx, {
      ...request(token, { userId: null }),
      admit: async () => {
        await f.spy.store.revokeTokens({ userId: 'alice' })
        return undefined
      },
    })
    assert.deepEqual(out, { ok: false, reason: 'token_revoked' })
    assert.equal(await f.spy.store.getSession('c1'), null)
  })

  test('a token of another app is refused in both orders, and stays usable for its own', async () => {
    const f = setup('chat')
    const token = await f.issue('alice', 'sid-1', 'admin')
    for (const userId of ['alice', null]) {
      const out = await connectWithToken(f.ctx, request(token, { userId }))
      assert.deepEqual(out, { ok: false, reason: 'token_invalid' }, String(userId))
    }
    assert.deepEqual(await f.spy.store.listConnections({ all: true }), [])
    const admin = { ...f.ctx, appId: 'admin' }
    assert.equal((await connectWithToken(admin, request(token))).ok, true)
  })

  test('missing, malformed and session-less tokens: no store call, no admit, one reason each', async () => {
    const f = setup()
    const token = await f.issue()
    const seen = { users: [] as string[], callsBefore: [] as number[] }
    const cases: [Partial<TokenConnect<string>> & { token: unknown }, string, string][] = [
      [{ token: undefined }, 'token_missing', 'token_missing/malformed'],
      [{ token: '' }, 'token_invalid', 'token_invalid/malformed'],
      [{ token: 'A'.repeat(10_000) }, 'token_invalid', 'token_invalid/malformed'],
      [{ token: 42 }, 'token_invalid', 'token_invalid/malformed'],
      [{ token, sessionId: null }, 'token_invalid', 'token_invalid/no_session'],
      [{ token, sessionId: '' }, 'token_invalid', 'token_invalid/no_session'],
    ]
    for (const [over, reason, logged] of cases) {
      f.logger.lines.length = 0
      for (const userId of ['alice', null]) {
        const out = await connectWithToken(f.ctx, request(over.token, { ...over, userId }, seen))
        assert.deepEqual(out, { ok: false, reason })
      }
      assert.deepEqual(
        f.logger.lines.map((l) => `${l.fields.reason}/${l.fields.detail}`),
        [logged, logged],
      )
    }
    assert.deepEqual(f.methods(), [])
    assert.deepEqual(seen.users, [])
  })

  test('a store failure rejects with ERR_STORE_UNAVAILABLE and writes nothing', async () => {
    const f = setup()
    const token = await f.issue()
    f.spy.down = true
    for (const userId of ['alice', null]) {
      await assert.rejects(connectWithToken(f.ctx, request(token, { userId })), (e) =>
        isGatehouseError(e, 'ERR_STORE_UNAVAILABLE'),
      )
    }
    f.spy.down = false
    assert.deepEqual(await f.spy.store.listConnections({ all: true }), [])
  })
})

describe('tokens/use: useToken', () => {
  test('matches session, app and (when named) user; a mismatch burns nothing', async () => {
    const f = setup('chat')
    const token = await f.issue('alice', 'sid-1')
    assert.equal(await useToken(f.ctx, token, 'sid-2'), null)
    assert.equal(await useToken({ ...f.ctx, appId: 'admin' }, token, 'sid-1'), null)
    assert.equal(await useToken(f.ctx, token, 'sid-1', 'mallory'), null)
    assert.deepEqual(await useToken(f.ctx, token, 'sid-1', 'alice'), {
      userId: 'alice',
      sessionHash: hashSessionId('sid-1'),
      tokenHash: hashToken(token),
    })
    assert.equal(await useToken(f.ctx, token, 'sid-1'), null, 'single use')
    assert.ok(f.logger.lines.every((l) => l.fields.reason === 'token_invalid'))
  })
})
