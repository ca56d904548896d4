import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { manualClock } from '../../src/clock.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { TokenRecord } from '../../src/store/store.ts'
import { createTokenService } from '../../src/tokens/service.ts'
import { hashSessionId, hashToken } from '../../src/tokens/token.ts'
import { captureLogger } from './capture-logger.ts'
import { spyStore } from './spy-store.ts'

function setup(options: { ttlMs?: number; issueLimit?: number; issueWindowMs?: number } = {}) {
  const spy = spyStore(createMemoryStore())
  const clock = manualClock(1_700_000_000_000)
  const logger = captureLogger()
  const tokens = createTokenService({ store: spy.store, clock, logger, ...options })
  return { spy, clock, logger, tokens }
}

async function issueOk(tokens: ReturnType<typeof setup>['tokens'], user: string, sid: string) {
  const result = await tokens.issue(user, sid)
  assert.ok(result.ok, 'expected a token')
  return result.token
}

describe('token service', () => {
  test('issue stores only the hash, bound to user and session hash, expiring after the TTL', async () => {
    const { spy, clock, tokens } = setup()
    const result = await tokens.issue('alice', 'session-1')
    assert.ok(result.ok)
    assert.equal(result.expiresInSec, 60)
    const inserts = spy.calls.filter((c) => c.method === 'insertToken')
    assert.equal(inserts.length, 1)
    const record = inserts[0]?.args[0] as TokenRecord
    assert.deepEqual(record, {
      hash: hashToken(result.token),
      userId: 'alice',
      sessionHash: hashSessionId('session-1'),
      appId: 'default',
      createdAt: clock.now(),
      expiresAt: clock.now() + 60_000,
    })
    // The raw token and raw session id appear in no argument of any store call.
    const everything = JSON.stringify(spy.calls)
    assert.ok(!everything.includes(result.token))
    assert.ok(!everything.includes('session-1'))
  })

  test('consume succeeds once, then the token is used', async () => {
    const { tokens } = setup()
    const token = await issueOk(tokens, 'alice', 's1')
    assert.deepEqual(await tokens.consume(token, 's1'), {
      userId: 'alice',
      sessionHash: hashSessionId('s1'),
      tokenHash: hashToken(token),
    })
    assert.equal(await tokens.consume(token, 's1'), null)
  })

  test('concurrent consumes of one token: exactly one wins', async () => {
    const { tokens } = setup()
    const token = await issueOk(tokens, 'alice', 's1')
    const results = await Promise.all(Array.from({ length: 50 }, () => tokens.consume(token, 's1')))
    assert.equal(results.filter((r) => r !== null).length, 1)
  })

  test('TTL: valid at 59.999 s, expired at 60 s (manual clock)', async () => {
    const { clock, tokens } = setup()
    const early = await issueOk(tokens, 'alice', 's1')
    const late = await issueOk(tokens, 'alice', 's1')
    clock.advance(59_999)
    assert.notEqual(await tokens.consume(early, 's1'), null)
    clock.advance(1)
    assert.equal(await tokens.consume(late, 's1'), null)
  })

  test('custom ttlMs', async () => {
    const { clock, tokens } = setup({ ttlMs: 5_000 })
    const issued = await tokens.issue('alice', 's1')
    assert.ok(issued.ok)
    assert.equal(issued.expiresInSec, 5)
    clock.advance(5_000)
    assert.equal(await tokens.consume(issued.token, 's1'), null)
  })

  test('a token presented from another session neither works nor burns', async () => {
    const { tokens } = setup()
    const token = await issueOk(tokens, 'alice', 's1')
    assert.equal(await tokens.consume(token, 's2'), null)
    assert.notEqual(await tokens.consume(token, 's1'), null)
  })

  test('tokens are bound to the service’s app: another app’s service refuses them unburnt', async () => {
    const store = createMemoryStore()
    const clock = manualClock(1_700_000_000_000)
    const chat = createTokenService({ store, clock, appId: 'chat' })
    const admin = createTokenService({ store, clock, appId: 'admin' })
    const plain = createTokenService({ store, clock })
    assert.equal(chat.appId, 'chat')
    assert.equal(plain.appId, 'default')
    const token = await issueOk(chat, 'alice', 's1')
    assert.equal(await admin.consume(token, 's1'), null)
    assert.equal(await plain.consume(token, 's1'), null)
    assert.notEqual(await chat.consume(token, 's1'), null)
    const theirs = await issueOk(admin, 'alice', 's1')
    assert.equal(await chat.consume(theirs, 's1'), null)
    assert.notEqual(await admin.consume(theirs, 's1'), null)
  })

  test('malformed tokens and missing sessions cost no store call', async () => {
    const { spy, tokens, logger } = setup()
    const valid = await issueOk(tokens, 'alice', 's1')
    spy.calls.length = 0
    const junk: unknown[] = [
      '',
      'x'.repeat(10_240),
      `%00${'A'.repeat(40)}`,
      42,
      null,
      undefined,
      {},
    ]
    for (const value of junk) assert.equal(await tokens.consume(value, 's1'), null)
    assert.equal(await tokens.consume(valid, null), null)
    assert.equal(await tokens.consume(valid, ''), null)
    assert.deepEqual(spy.calls, [])
    const details = logger.lines.map((l) => `${l.fields.reason}/${l.fields.detail}`)
    assert.ok(details.includes('token_invalid/malformed'))
    assert.ok(details.includes('token_missing/malformed'))
    assert.ok(details.includes('token_invalid/no_session'))
    // And the token is still usable.
    assert.notEqual(await tokens.consume(valid, 's1'), null)
  })

  test('issue limit: 20 per minute per user, then rate with retryAfterSec; others unaffected', async () => {
    const { spy, clock, tokens } = setup()
    for (let i = 0; i < 20; i++) assert.ok((await tokens.issue('alice', 's1')).ok, `issue ${i}`)
    const refused = await tokens.issue('alice', 's1')
    assert.equal(refused.ok, false)
    assert.ok(!refused.ok)
    assert.equal(refused.reason, 'rate')
    assert.ok(Number.isInteger(refused.retryAfterSec))
    assert.ok(
      refused.retryAfterSec >= 1 && refused.retryAfterSec <= 120,
      `${refused.retryAfterSec}`,
    )
    assert.equal(spy.calls.filter((c) => c.method === 'insertToken').length, 20)
    // Another user has a budget of their own.
    assert.ok((await tokens.issue('bob', 's9')).ok)
    // The window is counted under token:user:<id>, after a look (not a charge) at the
    // user's connect budget.
    const hit = spy.calls.find((c) => c.method === 'hit')
    assert.deepEqual(hit?.args[0], [
      { key: 'connect:user:alice', limit: 20, windowMs: 60_000, charge: false },
      { key: 'token:user:alice', limit: 20, windowMs: 60_000 },
    ])
    // Retry-After is honest: after waiting it, one more token is issued.
    clock.advance(refused.retryAfterSec * 1000)
    assert.ok((await tokens.issue('alice', 's1')).ok)
  })

  test('custom issueLimit and issueWindowMs', async () => {
    const { clock, tokens } = setup({ issueLimit: 2, issueWindowMs: 10_000 })
    assert.ok((await tokens.issue('alice', 's1')).ok)
    assert.ok((await tokens.issue('alice', 's1')).ok)
    const refused = await tokens.issue('alice', 's1')
    // The sliding window can ask for up to two windows of patience.
    assert.ok(!refused.ok && refused.retryAfterSec >= 1 && refused.retryAfterSec <= 20)
    clock.advance(20_001)
    assert.ok((await tokens.issue('alice', 's1')).ok)
  })

  test('revokeUser deletes that user’s unused tokens only', async () => {
    const { tokens } = setup()
    const a1 = await issueOk(tokens, 'alice', 's1')
    const a2 = await issueOk(tokens, 'alice', 's2')
    const b1 = await issueOk(tokens, 'bob', 's3')
    assert.equal(await tokens.revokeUser('alice'), 2)
    assert.equal(await tokens.consume(a1, 's1'), null)
    assert.equal(await tokens.consume(a2, 's2'), null)
    assert.notEqual(await tokens.consume(b1, 's3'), null)
    assert.equal(await tokens.revokeUser(''), 0)
  })

  test('revokeSession deletes the tokens of that session only', async () => {
    const { tokens } = setup()
    const s1 = await issueOk(tokens, 'alice', 's1')
    const s2 = await issueOk(tokens, 'alice', 's2')
    assert.equal(await tokens.revokeSession('s1'), 1)
    assert.equal(await tokens.consume(s1, 's1'), null)
    assert.notEqual(await tokens.consume(s2, 's2'), null)
    assert.equal(await tokens.revokeSession(''), 0)
  })

  test('store down: issue and consume reject with ERR_STORE_UNAVAILABLE, never allow', async () => {
    const { spy, tokens } = setup()
    const token = await issueOk(tokens, 'alice', 's1')
    spy.down = true
    await assert.rejects(tokens.issue('alice', 's1'), (e) =>
      isGatehouseError(e, 'ERR_STORE_UNAVAILABLE'),
    )
    await assert.rejects(tokens.consume(token, 's1'), (e) =>
      isGatehouseError(e, 'ERR_STORE_UNAVAILABLE'),
    )
    await assert.rejects(tokens.revokeUser('alice'), (e) =>
      isGatehouseError(e, 'ERR_STORE_UNAVAILABLE'),
    )
  })

  test('logs carry reason codes and never the token', async () => {
    const { tokens, logger } = setup({ issueLimit: 1 })
    const token = await issueOk(tokens, 'alice', 'sess-secret')
    await tokens.consume(token, 'other')
    await tokens.consume(token, 'sess-secret')
    await tokens.consume(token, 'sess-secret')
    await tokens.issue('alice', 'sess-secret')
    const reasons = logger.lines.map((l) => l.fields.reason)
    assert.ok(reasons.includes('token_invalid'))
    assert.ok(
      logger.lines.some(
        (l) => l.fields.event === 'token_refused' && l.fields.reason === 'rate_limited',
      ),
    )
    assert.ok(!logger.text().includes(token))
    assert.ok(!logger.text().includes('sess-secret'))
  })

  test('bad options and arguments throw ERR_INVALID_OPTION', async () => {
    const store = createMemoryStore()
    const invalid = (e: unknown) => isGatehouseError(e, 'ERR_INVALID_OPTION')
    // @ts-expect-error: store is required
    assert.throws(() => createTokenService({}), invalid)
    for (const ttlMs of [0, 999, -1, Number.NaN, 1.5, Number.POSITIVE_INFINITY]) {
      assert.throws(() => createTokenService({ store, ttlMs }), invalid, String(ttlMs))
    }
    assert.throws(() => createTokenService({ store, issueLimit: 0 }), invalid)
    assert.throws(() => createTokenService({ store, issueWindowMs: 0.5 }), invalid)
    for (const appId of ['', 'a b', 'x'.repeat(65), 'ü', 'a/b', 'a\n', 42]) {
      // @ts-expect-error: non-strings are refused too
      assert.throws(() => createTokenService({ store, appId }), invalid, String(appId))
    }
    for (const appId of ['chat', 'x'.repeat(64), 'org.example:chat-v2_1']) {
      assert.equal(createTokenService({ store, appId }).appId, appId)
    }
    const tokens = createTokenService({ store })
    await assert.rejects(tokens.issue('', 's1'), invalid)
    await assert.rejects(tokens.issue('alice', ''), invalid)
  })
})
