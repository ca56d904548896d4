/**
 * @module test/conformance/store
 * The behaviour every {@link Store} must show, registered as node:test blocks. Each store's
 * test file calls {@link runStoreConformance} with a factory; `open` must return a fresh,
 * empty store on every call (a new in-memory database, a truncated schema, a new prefix),
 * because cleanup counts and audience listings assume no rows from other tests.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { isGatehouseError } from '../../src/errors.ts'
import type {
  Audience,
  NewSession,
  RateKey,
  Store,
  TokenClaim,
  TokenRecord,
  UserTokenClaim,
} from '../../src/store/store.ts'

const T0 = 1_700_000_000_000
/** The app the suite's tokens are issued by; OTHER is a second app on the same store. */
const APP = 'app-a'
const OTHER = 'app-b'

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex')
const rawToken = (): string => randomBytes(32).toString('base64url')
const hashOf = (label: string): string => sha256(`${label}:${randomBytes(8).toString('hex')}`)
const sorted = (xs: readonly string[]): string[] => [...xs].sort()

async function withStore(open: () => Promise<Store>, body: (s: Store) => Promise<void>) {
  const store = await open()
  try {
    await body(store)
  } finally {
    await store.close()
  }
}

/** A token record issued by APP at T0 that expires 60 s later. */
function token(hash: string, userId: string, sessionHash: string, appId = APP): TokenRecord {
  return { hash, userId, sessionHash, appId, createdAt: T0, expiresAt: T0 + 60_000 }
}

/** What a connect presents to APP (or `appId`), naming no user unless given. */
function claim(
  hash: string,
  sessionHash: string,
  appId = APP,
  userId: string | null = null,
): TokenClaim {
  return { hash, sessionHash, appId, userId }
}

function session(id: string, over: Partial<NewSession> = {}): NewSession {
  return {
    connectionId: id,
    userId: 'u',
    sessionHash: null,
    channel: null,
    connectedAt: T0,
    ...over,
  }
}

/**
 * Register the conformance suite for one Store implementation.
 *
 * @example
 * ```ts
 * runStoreConformance('sqlite', () => openSqliteStore({ path: ':memory:' }))
 * ```
 */
export function runStoreConformance(name: string, open: () => Promise<Store>): void {
  describe(`Store conformance: ${name}`, () => {
    describe('tokens', () => {
      test('a token is consumed once, then never again', () =>
        withStore(open, async (s) => {
          const hash = sha256(rawToken())
          const sessionHash = hashOf('session')
          await s.insertToken(token(hash, 'alice', sessionHash))
          assert.deepEqual(await s.consumeToken(claim(hash, sessionHash), T0 + 1), {
            userId: 'alice',
            sessionHash,
          })
          assert.equal(await s.consumeToken(claim(hash, sessionHash), T0 + 2), null)
          assert.equal(await s.consumeToken(claim(hash, sessionHash), T0 + 3), null)
        }))

      test('an unknown hash is null', () =>
        withStore(open, async (s) => {
          assert.equal(await s.consumeToken(claim(hashOf('nope'), hashOf('s')), T0), null)
        }))

      test('another session gets null and does not burn the token', () =>
        withStore(open, async (s) => {
          const hash = sha256(rawToken())
          const mine = hashOf('mine')
          const thief = hashOf('thief')
          await s.insertToken(token(hash, 'alice', mine))
          assert.equal(await s.consumeToken(claim(hash, thief), T0 + 1), null)
          assert.equal(await s.consumeToken(claim(hash, thief), T0 + 2), null)
          assert.deepEqual(await s.consumeToken(claim(hash, mine), T0 + 3), {
            userId: 'alice',
            sessionHash: mine,
          })
        }))

      test('a token of app A is refused by app B and stays usable for A', () =>
        withStore(open, async (s) => {
          const hash = sha256(rawToken())
          const sh = hashOf('s')
          await s.insertToken(token(hash, 'alice', sh, APP))
          // Same hash, session and user: only the audience differs.
          assert.equal(await s.consumeToken(claim(hash, sh, OTHER), T0 + 1), null)
          assert.equal(await s.consumeToken(claim(hash, sh, OTHER, 'alice'), T0 + 2), null)
          assert.deepEqual(await s.consumeToken(claim(hash, sh, APP), T0 + 3), {
            userId: 'alice',
            sessionHash: sh,
          })
          // And the other way round: B's token is B's alone.
          const theirs = sha256(rawToken())
          await s.insertToken(token(theirs, 'alice', sh, OTHER))
          assert.equal(await s.consumeToken(claim(theirs, sh, APP), T0 + 4), null)
          assert.notEqual(await s.consumeToken(claim(theirs, sh, OTHER), T0 + 5), null)
        }))

      test('a named user must be the owner: another user gets null and does not burn it', () =>
        withStore(open, async (s) => {
          const hash = sha256(rawToken())
          const sh = hashOf('s')
          await s.insertToken(token(hash, 'alice', sh))
          assert.equal(await s.consumeToken(claim(hash, sh, APP, 'mallory'), T0 + 1), null)
          assert.deepEqual(await s.consumeToken(claim(hash, sh, APP, 'alice'), T0 + 2), {
            userId: 'alice',
            sessionHash: sh,
          })
          assert.equal(await s.consumeToken(claim(hash, sh, APP, 'alice'), T0 + 3), null)
        }))

      test('expiry is exclusive: valid before expiresAt, null at and after it', () =>
        withStore(open, async (s) => {
          const sh = hashOf('s')
          const [a, b, c] = [sha256(rawToken()), sha256(rawToken()), sha256(rawToken())]
          for (const hash of [a, b, c]) {
            await s.insertToken(token(hash, 'u', sh))
          }
          assert.notEqual(await s.consumeToken(claim(a, sh), T0 + 59_999), null)
          assert.equal(await s.consumeToken(claim(b, sh), T0 + 60_000), null)
          assert.equal(await s.consumeToken(claim(c, sh), T0 + 60_001), null)
          // An expired attempt does not mark the token used: an earlier clock still sees it.
          assert.notEqual(await s.consumeToken(claim(b, sh), T0 + 1), null)
        }))

      test('a duplicate hash is rejected and the first binding stays', () =>
        withStore(open, async (s) => {
          const hash = sha256(rawToken())
          const mine = hashOf('mine')
          const other = hashOf('other')
          await s.insertToken(token(hash, 'alice', mine))
          await assert.rejects(s.insertToken(token(hash, 'mallory', other)))
          await assert.rejects(s.insertToken(token(hash, 'alice', mine, OTHER)))
          assert.equal(await s.consumeToken(claim(hash, other), T0 + 1), null)
          assert.deepEqual(await s.consumeToken(claim(hash, mine), T0 + 1), {
            userId: 'alice',
            sessionHash: mine,
          })
        }))

      test('revoke by user deletes every token of that user, used or not, and only theirs', () =>
        withStore(open, async (s) => {
          const sh = hashOf('s')
          const [a1, a2, a3, b1] = [rawToken(), rawToken(), rawToken(), rawToken()].map(sha256)
          const ins = (hash: string, userId: string) =>
            s.insertToken({
              hash,
              userId,
              sessionHash: sh,
              appId: APP,
              createdAt: T0,
              expiresAt: T0 + 60_000,
            })
          await ins(a1!, 'alice')
          await ins(a2!, 'alice')
          await ins(a3!, 'alice')
          await ins(b1!, 'bob')
          assert.notEqual(await s.consumeToken(claim(a3!, sh), T0 + 1), null) // used: removed too
          assert.equal(await s.revokeTokens({ userId: 'alice' }), 3)
          assert.equal(await s.consumeToken(claim(a1!, sh), T0 + 2), null)
          assert.equal(await s.consumeToken(claim(a2!, sh), T0 + 2), null)
          assert.equal(await s.revokeTokens({ userId: 'alice' }), 0)
          assert.deepEqual(await s.consumeToken(claim(b1!, sh), T0 + 2), {
            userId: 'bob',
            sessionHash: sh,
          })
        }))

      test('revoke by session deletes every token of that session, used or not, and only its', () =>
        withStore(open, async (s) => {
          const s1 = hashOf('s1')
          const s2 = hashOf('s2')
          const [x, y, z] = [rawToken(), rawToken(), rawToken()].map(sha256)
          await s.insertToken(token(x!, 'alice', s1))
          await s.insertToken(token(y!, 'alice', s1))
          await s.insertToken(token(z!, 'alice', s2))
          assert.notEqual(await s.consumeToken(claim(y!, s1), T0 + 1), null) // used: removed too
          assert.equal(await s.revokeTokens({ sessionHash: s1 }), 2)
          assert.equal(await s.consumeToken(claim(x!, s1), T0 + 1), null)
          assert.equal(await s.revokeTokens({ sessionHash: s1 }), 0)
          assert.notEqual(await s.consumeToken(claim(z!, s2), T0 + 1), null)
        }))

      test('a revoked token, used or not, no longer guards a session', () =>
        withStore(open, async (s) => {
          const sh = hashOf('s')
          const [used, unused, other] = [rawToken(), rawToken(), rawToken()].map(sha256)
          for (const [hash, userId] of [
            [used!, 'alice'],
            [unused!, 'alice'],
            [other!, 'bob'],
          ] as const) {
            await s.insertToken({
              hash,
              userId,
              sessionHash: sh,
              appId: APP,
              createdAt: T0,
              expiresAt: T0 + 60_000,
            })
          }
          assert.notEqual(await s.consumeToken(claim(used!, sh), T0 + 1), null)
          assert.equal(await s.revokeTokens({ userId: 'alice' }), 2)
          assert.equal(await s.createSession(session('c1'), { tokenHash: used! }), false)
          assert.equal(await s.createSession(session('c2'), { tokenHash: unused! }), false)
          assert.equal(await s.createSession(session('c3'), { tokenHash: other! }), true)
          assert.equal(await s.getSession('c1'), null)
          assert.equal(await s.getSession('c2'), null)
          assert.equal((await s.getSession('c3'))?.connected, true)
        }))

      test('50 concurrent consumes of one token: exactly one succeeds', () =>
        withStore(open, async (s) => {
          const hash = sha256(rawToken())
          const sh = hashOf('s')
          await s.insertToken(token(hash, 'alice', sh))
          const results = await Promise.all(
            Array.from({ length: 50 }, (_, i) => s.consumeToken(claim(hash, sh), T0 + 1 + i)),
          )
          assert.equal(results.filter((r) => r !== null).length, 1)
          assert.equal(await s.consumeToken(claim(hash, sh), T0 + 100), null)
        }))

      test('50 concurrent consumes from two apps: exactly one succeeds, and for the issuer', () =>
        withStore(open, async (s) => {
          const hash = sha256(rawToken())
          const sh = hashOf('s')
          await s.insertToken(token(hash, 'alice', sh))
          const apps = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? OTHER : APP))
          const results = await Promise.all(
            apps.map((app, i) => s.consumeToken(claim(hash, sh, app), T0 + 1 + i)),
          )
          const winners = apps.filter((_, i) => results[i] !== null)
          assert.deepEqual(winners, [APP])
        }))

      test('countTokens counts issued tokens that are unused and unexpired, nothing else', () =>
        withStore(open, async (s) => {
          assert.deepEqual(await s.countTokens(T0), { outstanding: 0 })
          const sh = hashOf('s')
          const used = sha256(rawToken())
          await s.insertToken(token(used, 'alice', sh))
          await s.insertToken(token(sha256(rawToken()), 'alice', sh))
          await s.insertToken(token(sha256(rawToken()), 'bob', hashOf('b'), OTHER))
          await s.insertToken({ ...token(sha256(rawToken()), 'carol', sh), expiresAt: T0 + 10 })
          assert.deepEqual(await s.countTokens(T0 + 1), { outstanding: 4 })
          assert.notEqual(await s.consumeToken(claim(used, sh), T0 + 2), null)
          assert.deepEqual(await s.countTokens(T0 + 3), { outstanding: 3 })
          // Expired at T0 + 10: not outstanding from then on.
          assert.deepEqual(await s.countTokens(T0 + 10), { outstanding: 2 })
          await s.revokeTokens({ userId: 'bob' })
          assert.deepEqual(await s.countTokens(T0 + 11), { outstanding: 1 })
          assert.deepEqual(await s.countTokens(T0 + 60_000), { outstanding: 0 })
        }))
    })

    describe('hit (sliding-window rate limit)', () => {
      const W = 1_000
      // Start a few ms into a bucket, so bucket arithmetic is exercised, not assumed.
      const B = Math.floor(T0 / W) * W + W

      test('limit N allows N attempts, then refuses with msBeforeNext > 0', () =>
        withStore(open, async (s) => {
          const k: RateKey = { key: 'connect:ip:192.0.2.1', limit: 3, windowMs: W }
          for (let i = 0; i < 3; i++)
            assert.deepEqual(await s.hit([k], B + 10), { allowed: true, msBeforeNext: 0 })
          const refused = await s.hit([k], B + 10)
          assert.equal(refused.allowed, false)
          assert.equal(refused.key, k.key)
          // count 4 in this bucket: it must become the previous bucket and fade to 2 / 4.
          assert.equal(refused.msBeforeNext, 1_490)
        }))

      test('an attempt msBeforeNext later passes; one ms earlier it does not', () =>
        withStore(open, async (s) => {
          const run = async (key: string) => {
            const k: RateKey = { key, limit: 3, windowMs: W }
            for (let i = 0; i < 4; i++) await s.hit([k], B + 10)
            return k
          }
          const early = await run('early')
          const late = await run('late')
          const wait = 1_490
          assert.equal((await s.hit([early], B + 10 + wait - 1)).allowed, false)
          assert.equal((await s.hit([late], B + 10 + wait)).allowed, true)
        }))

      test('the window slides: the previous bucket weighs in proportion to its overlap', () =>
        withStore(open, async (s) => {
          const k: RateKey = { key: 'slide', limit: 10, windowMs: W }
          for (let i = 0; i < 10; i++) assert.equal((await s.hit([k], B + i)).allowed, true)
          // Half-way through the next bucket the 10 earlier attempts still count as 5.
          let allowed = 0
          for (let i = 0; i < 8; i++) if ((await s.hit([k], B + W + W / 2)).allowed) allowed++
          assert.equal(allowed, 5)
          // Two buckets on, nothing of the first bucket weighs any more.
          const fresh: RateKey = { key: 'slide-fresh', limit: 10, windowMs: W }
          for (let i = 0; i < 10; i++) await s.hit([fresh], B)
          let again = 0
          for (let i = 0; i < 12; i++) if ((await s.hit([fresh], B + 2 * W)).allowed) again++
          assert.equal(again, 10)
        }))

      test('refused attempts are counted too', () =>
        withStore(open, async (s) => {
          const k: RateKey = { key: 'failures', limit: 2, windowMs: W }
          const firstRound = []
          for (let i = 0; i < 5; i++) firstRound.push((await s.hit([k], B)).allowed)
          assert.deepEqual(firstRound, [true, true, false, false, false])
          // 5 counted attempts weigh 2.5 half-way through the next bucket: still refused.
          // (Counting only the 2 allowed ones would give 1 + 1 = 2 and allow it.)
          assert.equal((await s.hit([k], B + W + W / 2)).allowed, false)
        }))

      test('several keys in one call: counted in order, the walk stops at the first refusal', () =>
        withStore(open, async (s) => {
          const ip: RateKey = { key: 'connect:ip:198.51.100.7', limit: 1, windowMs: W }
          const user: RateKey = { key: 'connect:user:alice', limit: 5, windowMs: W }
          const other: RateKey = { key: 'connect:user:bob', limit: 1, windowMs: W }
          assert.deepEqual(await s.hit([ip, user], B), { allowed: true, msBeforeNext: 0 })
          // user passes (its 2nd), then ip refuses: the refusal names ip.
          const refused = await s.hit([user, ip], B)
          assert.equal(refused.allowed, false)
          assert.equal(refused.key, ip.key)
          // user counted 2 so far: 3 more pass, the 6th does not.
          for (let i = 0; i < 3; i++) assert.equal((await s.hit([user], B)).allowed, true)
          assert.equal((await s.hit([user], B)).allowed, false)
          // Both exhausted: the first one in the given order refuses and is named.
          await s.hit([other], B)
          assert.equal((await s.hit([other, ip], B)).key, other.key)
          assert.equal((await s.hit([ip, other], B)).key, ip.key)
        }))

      test('keys after a refusing key are neither counted nor written', () =>
        withStore(open, async (s) => {
          const ip: RateKey = { key: 'login:ip:203.0.113.5', limit: 1, windowMs: W }
          assert.equal((await s.hit([ip], B)).allowed, true)
          // An attacker behind a refused IP sends 200 made-up user names.
          for (let i = 0; i < 200; i++) {
            const name: RateKey = { key: `login:user:u${i}`, limit: 1, windowMs: W }
            const d = await s.hit([ip, name], B)
            assert.equal(d.allowed, false)
            assert.equal(d.key, ip.key)
          }
          // A name after the refusing IP was never counted: its first attempt of its own passes.
          const u0: RateKey = { key: 'login:user:u0', limit: 1, windowMs: W }
          assert.equal((await s.hit([u0], B)).allowed, true)
          // Rows: the IP counter and u0, not 201 (cleanup counts what exists).
          const rows = await s.cleanup({
            tokensCreatedBefore: 0,
            rateLimitsBefore: B + 10 * W,
            sessionsDisconnectedBefore: 0,
            noncesExpiredBefore: 0,
          })
          assert.equal(rows.rateLimits, 2)
        }))

      test('charge: false judges a key as if counted, and writes nothing', () =>
        withStore(open, async (s) => {
          const fails: RateKey = { key: 'connect:fail:192.0.2.9', limit: 2, windowMs: W }
          const peek: RateKey = { ...fails, charge: false }
          // Peeking never counts: any number of peeks on a fresh key pass and create no row.
          for (let i = 0; i < 10; i++) assert.equal((await s.hit([peek], B)).allowed, true)
          const none = {
            tokensCreatedBefore: 0,
            sessionsDisconnectedBefore: 0,
            noncesExpiredBefore: 0,
          }
          assert.equal((await s.cleanup({ ...none, rateLimitsBefore: B + 10 * W })).rateLimits, 0)
          await s.hit([fails], B)
          assert.equal((await s.hit([peek], B)).allowed, true) // one more would be the 2nd
          await s.hit([fails], B)
          const refused = await s.hit([peek], B) // a 3rd would exceed 2
          assert.equal(refused.allowed, false)
          assert.equal(refused.key, fails.key)
          // It waits as long as the same attempt counted would.
          assert.equal(refused.msBeforeNext, (await s.hit([fails], B)).msBeforeNext)
          // A refusing peek stops the walk: the key after it is not counted.
          const user: RateKey = { key: 'connect:user:carol', limit: 1, windowMs: W }
          assert.equal((await s.hit([peek, user], B)).key, fails.key)
          assert.equal((await s.hit([user], B)).allowed, true)
          // A passing peek lets the walk go on to the charged key.
          const fresh: RateKey = {
            key: 'connect:fail:192.0.2.10',
            limit: 2,
            windowMs: W,
            charge: false,
          }
          assert.equal((await s.hit([fresh, user], B)).key, user.key)
          await assert.rejects(s.hit([{ ...fails, charge: 'no' as unknown as boolean }], B), (e) =>
            isGatehouseError(e, 'ERR_INVALID_OPTION'),
          )
        }))

      test('keys are independent; no keys means allowed', () =>
        withStore(open, async (s) => {
          const a: RateKey = { key: 'a', limit: 1, windowMs: W }
          const b: RateKey = { key: 'b', limit: 1, windowMs: W }
          assert.equal((await s.hit([a], B)).allowed, true)
          assert.equal((await s.hit([a], B)).allowed, false)
          assert.equal((await s.hit([b], B)).allowed, true)
          assert.deepEqual(await s.hit([], B), { allowed: true, msBeforeNext: 0 })
        }))

      test('concurrent hits lose no count', () =>
        withStore(open, async (s) => {
          const k: RateKey = { key: 'race', limit: 20, windowMs: W }
          const res = await Promise.all(Array.from({ length: 30 }, () => s.hit([k], B)))
          assert.equal(res.filter((r) => r.allowed).length, 20)
        }))

      test('malformed keys are rejected, not allowed', () =>
        withStore(open, async (s) => {
          const bad = [
            { key: 'x', limit: -1, windowMs: W },
            { key: 'x', limit: 1, windowMs: 0 },
            { key: 'x', limit: Number.NaN, windowMs: W },
            { key: '', limit: 1, windowMs: W },
          ]
          for (const k of bad) {
            await assert.rejects(s.hit([k], B), (e) => isGatehouseError(e, 'ERR_INVALID_OPTION'))
          }
          const ok: RateKey = { key: 'dup', limit: 5, windowMs: W }
          await assert.rejects(s.hit([ok, { ...ok }], B), (e) =>
            isGatehouseError(e, 'ERR_INVALID_OPTION'),
          )
          // Nothing was counted by the rejected calls.
          for (let i = 0; i < 5; i++) assert.equal((await s.hit([ok], B)).allowed, true)
        }))

      test('matches an exact model of the sliding window (property)', () =>
        withStore(open, async (s) => {
          let run = 0
          await fc.assert(
            fc.asyncProperty(
              fc.record({
                la: fc.integer({ min: 1, max: 4 }),
                lb: fc.integer({ min: 1, max: 6 }),
                wa: fc.constantFrom(10, 30, 100),
                wb: fc.constantFrom(7, 50),
                start: fc.integer({ min: 0, max: 99 }),
              }),
              fc.array(
                fc.record({
                  dt: fc.integer({ min: 0, max: 120 }),
                  // Upper case: the key is only judged (`charge: false`).
                  which: fc.constantFrom('a', 'b', 'ab', 'ba', 'Ab', 'bA', 'A'),
                }),
                { minLength: 1, maxLength: 25 },
              ),
              async (cfg, steps) => {
                run++
                const a: RateKey = { key: `p${run}:a`, limit: cfg.la, windowMs: cfg.wa }
                const b: RateKey = { key: `p${run}:b`, limit: cfg.lb, windowMs: cfg.wb }
                const model = new RateModel()
                let now = T0 + cfg.start
                for (const step of steps) {
                  now += step.dt
                  const keys = [...step.which].map((c) =>
                    c === 'a' ? a : c === 'b' ? b : c === 'A' ? { ...a, charge: false } : b,
                  )
                  const expected = model.hit(keys, now)
                  const actual = await s.hit(keys, now)
                  assert.deepEqual(actual, expected)
                }
              },
            ),
            { numRuns: 40 },
          )
        }))
    })

    describe('sessions', () => {
      test('create then get: counters start at zero, connected', () =>
        withStore(open, async (s) => {
          const sh = hashOf('s')
          await s.createSession({
            connectionId: 'c1',
            userId: 'alice',
            sessionHash: sh,
            channel: 'lobby',
            connectedAt: T0,
          })
          assert.deepEqual(await s.getSession('c1'), {
            connectionId: 'c1',
            userId: 'alice',
            sessionHash: sh,
            channel: 'lobby',
            connected: true,
            requestCount: 0,
            connectedAt: T0,
            lastSeenAt: T0,
            disconnectedAt: null,
          })
          assert.equal(await s.getSession('unknown'), null)
          await s.createSession(session('anon', { userId: null, sessionHash: null, channel: null }))
          const anon = await s.getSession('anon')
          assert.equal(anon?.userId, null)
          assert.equal(anon?.sessionHash, null)
          assert.equal(anon?.channel, null)
        }))

      test('createSession says it wrote the row; a guard writes only while its token exists', () =>
        withStore(open, async (s) => {
          const sh = hashOf('s')
          const hash = sha256(rawToken())
          await s.insertToken(token(hash, 'alice', sh))
          assert.notEqual(await s.consumeToken(claim(hash, sh), T0 + 1), null)
          assert.equal(await s.createSession(session('free')), true)
          // A used token still guards: consuming it is what the connection did.
          const row = session('kept', { userId: 'alice', sessionHash: sh, channel: 'lobby' })
          assert.equal(await s.createSession(row, { tokenHash: hash }), true)
          assert.deepEqual(await s.getSession('kept'), {
            connectionId: 'kept',
            userId: 'alice',
            sessionHash: sh,
            channel: 'lobby',
            connected: true,
            requestCount: 0,
            connectedAt: T0,
            lastSeenAt: T0,
            disconnectedAt: null,
          })
          const unknown = sha256(rawToken())
          const refused = session('refused', { userId: 'alice', sessionHash: sh, channel: 'x' })
          assert.equal(await s.createSession(refused, { tokenHash: unknown }), false)
          assert.equal(await s.getSession('refused'), null)
          assert.deepEqual(await s.listConnections({ channel: 'x' }), [])
          assert.deepEqual(sorted(await s.listConnections({ userId: 'alice' })), ['kept'])
        }))

      test('a guarded createSession keeps the replace semantics, and a refused one changes nothing', () =>
        withStore(open, async (s) => {
          const sh = hashOf('s')
          const hash = sha256(rawToken())
          await s.insertToken(token(hash, 'bob', sh))
          await s.createSession(session('c1', { userId: 'alice', channel: 'old' }))
          await s.touchSession('c1', T0 + 1)
          // Refused: the existing row of that id is left exactly as it was.
          const gone = sha256(rawToken())
          const other = session('c1', { userId: 'mallory', channel: 'evil', connectedAt: T0 + 2 })
          assert.equal(await s.createSession(other, { tokenHash: gone }), false)
          const before = await s.getSession('c1')
          assert.equal(before?.userId, 'alice')
          assert.equal(before?.requestCount, 1)
          assert.deepEqual(await s.listConnections({ channel: 'evil' }), [])
          assert.deepEqual(await s.listConnections({ channel: 'old' }), ['c1'])
          // Allowed: the row is replaced, and moves between audiences.
          const next = session('c1', { userId: 'bob', channel: 'new', connectedAt: T0 + 3 })
          assert.equal(await s.createSession(next, { tokenHash: hash }), true)
          const after = await s.getSession('c1')
          assert.equal(after?.userId, 'bob')
          assert.equal(after?.requestCount, 0)
          assert.equal(after?.connectedAt, T0 + 3)
          assert.deepEqual(await s.listConnections({ channel: 'old' }), [])
          assert.deepEqual(await s.listConnections({ userId: 'bob' }), ['c1'])
          // A disconnected row is not revived by a refused guard either.
          await s.markDisconnected(['c1'], T0 + 4)
          assert.equal(await s.createSession(next, { tokenHash: gone }), false)
          assert.equal((await s.getSession('c1'))?.connected, false)
        }))

      test('guarded create racing a revocation: written iff the revocation then lists it', () =>
        withStore(open, async (s) => {
          const sh = hashOf('s')
          for (let i = 0; i < 30; i++) {
            const hash = sha256(rawToken())
            const userId = `racer-${i}`
            await s.insertToken({
              hash,
              userId,
              sessionHash: sh,
              appId: APP,
              createdAt: T0,
              expiresAt: T0 + 60_000,
            })
            assert.notEqual(await s.consumeToken(claim(hash, sh), T0 + 1), null)
            // What app.revokeUser does: delete the tokens, then list the sockets to close.
            const revoking = s.revokeTokens({ userId }).then(() => s.listConnections({ userId }))
            const id = `race-${i}`
            const [written, listed] = await Promise.all([
              s.createSession(session(id, { userId }), { tokenHash: hash }),
              revoking,
            ])
            if (written) assert.deepEqual(listed, [id], `run ${i}: written but not listed`)
            else assert.equal(await s.getSession(id), null, `run ${i}: refused but stored`)
          }
        }))

      test('touch bumps the request count and lastSeenAt, and returns the row', () =>
        withStore(open, async (s) => {
          await s.createSession(session('c1'))
          const one = await s.touchSession('c1', T0 + 5)
          assert.equal(one?.requestCount, 1)
          assert.equal(one?.lastSeenAt, T0 + 5)
          assert.equal(one?.connected, true)
          const two = await s.touchSession('c1', T0 + 9)
          assert.equal(two?.requestCount, 2)
          assert.equal(two?.lastSeenAt, T0 + 9)
          assert.equal((await s.getSession('c1'))?.requestCount, 2)
          assert.equal(await s.touchSession('unknown', T0), null)
        }))

      test('concurrent touches lose no count', () =>
        withStore(open, async (s) => {
          await s.createSession(session('c1'))
          await Promise.all(Array.from({ length: 25 }, (_, i) => s.touchSession('c1', T0 + i)))
          assert.equal((await s.getSession('c1'))?.requestCount, 25)
        }))

      test('a disconnected session is not touched', () =>
        withStore(open, async (s) => {
          await s.createSession(session('c1'))
          await s.touchSession('c1', T0 + 1)
          await s.markDisconnected(['c1'], T0 + 2)
          assert.equal(await s.touchSession('c1', T0 + 3), null)
          const row = await s.getSession('c1')
          assert.equal(row?.requestCount, 1)
          assert.equal(row?.lastSeenAt, T0 + 1)
        }))

      test('recordActivity adds counts in one batch, moves lastSeenAt forward only, skips unknown ids', () =>
        withStore(open, async (s) => {
          await s.createSession(session('c1'))
          await s.createSession(session('c2'))
          await s.recordActivity([
            { connectionId: 'c1', count: 3, lastSeenAt: T0 + 7 },
            { connectionId: 'c2', count: 1, lastSeenAt: T0 + 4 },
            { connectionId: 'unknown', count: 5, lastSeenAt: T0 + 9 },
          ])
          await s.recordActivity([{ connectionId: 'c1', count: 2, lastSeenAt: T0 + 5 }])
          const one = await s.getSession('c1')
          assert.equal(one?.requestCount, 5)
          assert.equal(one?.lastSeenAt, T0 + 7)
          assert.equal((await s.getSession('c2'))?.requestCount, 1)
          assert.equal(await s.getSession('unknown'), null)
          assert.deepEqual(sorted(await s.listConnections({ all: true })), ['c1', 'c2'])
          await s.recordActivity([])
        }))

      test('recordActivity still counts a session that has disconnected, and leaves it disconnected', () =>
        withStore(open, async (s) => {
          await s.createSession(session('c1'))
          await s.markDisconnected(['c1'], T0 + 2)
          await s.recordActivity([{ connectionId: 'c1', count: 4, lastSeenAt: T0 + 1 }])
          const row = await s.getSession('c1')
          assert.equal(row?.requestCount, 4)
          assert.equal(row?.connected, false)
          assert.deepEqual(await s.listConnections({ all: true }), [])
        }))

      test('recordActivity takes batches larger than one script or statement call', () =>
        withStore(open, async (s) => {
          const ids = Array.from({ length: 1_203 }, (_, i) => `b${i}`)
          for (const id of ids) await s.createSession(session(id))
          await s.recordActivity(
            ids.map((id) => ({ connectionId: id, count: 2, lastSeenAt: T0 + 3 })),
          )
          assert.equal((await s.getSession('b0'))?.requestCount, 2)
          assert.equal((await s.getSession('b1202'))?.requestCount, 2)
        }))

      test('setChannel moves a connected session; false when unknown or disconnected', () =>
        withStore(open, async (s) => {
          await s.createSession(session('c1', { channel: 'a' }))
          assert.equal(await s.setChannel('c1', 'b'), true)
          assert.equal((await s.getSession('c1'))?.channel, 'b')
          assert.equal(await s.setChannel('c1', null), true)
          assert.equal((await s.getSession('c1'))?.channel, null)
          assert.equal(await s.setChannel('nope', 'b'), false)
          await s.markDisconnected(['c1'], T0 + 1)
          assert.equal(await s.setChannel('c1', 'c'), false)
          assert.equal((await s.getSession('c1'))?.channel, null)
        }))

      test('markDisconnected is idempotent and counts only real changes', () =>
        withStore(open, async (s) => {
          await s.createSession(session('c1'))
          await s.createSession(session('c2'))
          await s.createSession(session('c3'))
          assert.equal(await s.markDisconnected([], T0 + 1), 0)
          assert.equal(await s.markDisconnected(['c1', 'c2', 'ghost'], T0 + 10), 2)
          assert.equal(await s.markDisconnected(['c1', 'c2'], T0 + 20), 0)
          const c1 = await s.getSession('c1')
          assert.equal(c1?.connected, false)
          assert.equal(c1?.disconnectedAt, T0 + 10) // the first disconnect time is kept
          assert.equal((await s.getSession('c3'))?.connected, true)
          assert.equal((await s.getSession('c3'))?.disconnectedAt, null)
        }))

      test('markDisconnected with connectedBefore spares sessions that connected since', () =>
        withStore(open, async (s) => {
          await s.createSession(session('old', { connectedAt: T0 }))
          await s.createSession(session('fresh', { connectedAt: T0 + 100 }))
          assert.equal(await s.markDisconnected(['old', 'fresh'], T0 + 150, T0 + 100), 1)
          assert.equal((await s.getSession('old'))?.connected, false)
          assert.equal((await s.getSession('fresh'))?.connected, true)
          assert.equal(await s.markDisconnected(['fresh'], T0 + 200, T0 + 101), 1)
          assert.equal((await s.getSession('fresh'))?.connected, false)
        }))

      test('creating an existing connection id replaces the row', () =>
        withStore(open, async (s) => {
          await s.createSession(session('c1', { userId: 'alice' }))
          await s.touchSession('c1', T0 + 1)
          await s.markDisconnected(['c1'], T0 + 2)
          await s.createSession(session('c1', { userId: 'bob', connectedAt: T0 + 3 }))
          const row = await s.getSession('c1')
          assert.equal(row?.userId, 'bob')
          assert.equal(row?.connected, true)
          assert.equal(row?.requestCount, 0)
          assert.equal(row?.disconnectedAt, null)

          // Replacing a connected row moves it between audiences, leaving nothing behind.
          const sh = hashOf('s')
          await s.createSession(session('c2', { userId: 'carol', sessionHash: sh, channel: 'old' }))
          await s.createSession(
            session('c2', { userId: 'dave', sessionHash: null, channel: 'new' }),
          )
          assert.deepEqual(await s.listConnections({ userId: 'carol' }), [])
          assert.deepEqual(await s.listConnections({ sessionHash: sh }), [])
          assert.deepEqual(await s.listConnections({ channel: 'old' }), [])
          assert.deepEqual(await s.listConnections({ userId: 'dave' }), ['c2'])
          assert.deepEqual(await s.listConnections({ channel: 'new' }), ['c2'])
          assert.deepEqual(sorted(await s.listConnections({ all: true })), ['c1', 'c2'])
          // A replaced row that had been disconnected is no longer cleanup's to remove.
          await s.markDisconnected(['c1'], T0 + 4)
          await s.createSession(session('c1', { connectedAt: T0 + 5 }))
          const none = {
            tokensCreatedBefore: 0,
            rateLimitsBefore: 0,
            sessionsDisconnectedBefore: T0 + 10,
            noncesExpiredBefore: 0,
          }
          assert.equal((await s.cleanup(none)).sessions, 0)
          assert.equal((await s.getSession('c1'))?.connected, true)
        }))

      test('listConnections: each audience kind, connected rows only', () =>
        withStore(open, async (s) => {
          const sa = hashOf('alice-session')
          const sb = hashOf('bob-session')
          await s.createSession(
            session('a1', { userId: 'alice', sessionHash: sa, channel: 'lobby' }),
          )
          await s.createSession(
            session('a2', { userId: 'alice', sessionHash: sa, channel: 'games' }),
          )
          await s.createSession(
            session('a3', { userId: 'alice', sessionHash: hashOf('x'), channel: 'lobby' }),
          )
          await s.createSession(session('b1', { userId: 'bob', sessionHash: sb, channel: 'lobby' }))
          await s.createSession(session('b2', { userId: 'bob', sessionHash: sb, channel: 'lobby' }))
          await s.createSession(
            session('n1', { userId: null, sessionHash: null, channel: 'lobby' }),
          )
          await s.markDisconnected(['b2'], T0 + 1)

          assert.deepEqual(sorted(await s.listConnections({ userId: 'alice' })), ['a1', 'a2', 'a3'])
          assert.deepEqual(sorted(await s.listConnections({ userId: 'bob' })), ['b1'])
          assert.deepEqual(await s.listConnections({ userId: 'carol' }), [])
          assert.deepEqual(sorted(await s.listConnections({ sessionHash: sa })), ['a1', 'a2'])
          assert.deepEqual(sorted(await s.listConnections({ sessionHash: sb })), ['b1'])
          assert.deepEqual(sorted(await s.listConnections({ channel: 'lobby' })), [
            'a1',
            'a3',
            'b1',
            'n1',
          ])
          assert.deepEqual(sorted(await s.listConnections({ channel: 'games' })), ['a2'])
          assert.deepEqual(await s.listConnections({ channel: 'empty' }), [])
          assert.deepEqual(await s.listConnections({ connectionId: 'a1' }), ['a1'])
          assert.deepEqual(await s.listConnections({ connectionId: 'b2' }), [])
          assert.deepEqual(await s.listConnections({ connectionId: 'ghost' }), [])
          assert.deepEqual(sorted(await s.listConnections({ all: true })), [
            'a1',
            'a2',
            'a3',
            'b1',
            'n1',
          ])

          // A channel move shows up in listings at once.
          await s.setChannel('a2', 'lobby')
          assert.deepEqual(await s.listConnections({ channel: 'games' }), [])
        }))

      test('channelPresence: each connected user once with their count, anonymous apart', () =>
        withStore(open, async (s) => {
          const none = await s.channelPresence('lobby')
          assert.deepEqual(none, { channel: 'lobby', members: [], anonymous: 0 })
          await s.createSession(session('a1', { userId: 'alice', channel: 'lobby' }))
          await s.createSession(session('a2', { userId: 'alice', channel: 'lobby' }))
          await s.createSession(session('a3', { userId: 'alice', channel: 'games' }))
          await s.createSession(session('b1', { userId: 'bob', channel: 'lobby' }))
          await s.createSession(session('b2', { userId: 'bob', channel: 'lobby' }))
          await s.createSession(session('Z1', { userId: 'Zed', channel: 'lobby' }))
          await s.createSession(session('n1', { userId: null, channel: 'lobby' }))
          await s.createSession(session('n2', { userId: null, channel: 'lobby' }))
          await s.createSession(session('c1', { userId: 'carol', channel: null }))
          await s.markDisconnected(['b2'], T0 + 1)
          // Sorted by code unit ('Z' < 'a'), disconnected and other channels left out.
          assert.deepEqual(await s.channelPresence('lobby'), {
            channel: 'lobby',
            members: [
              { userId: 'Zed', connections: 1 },
              { userId: 'alice', connections: 2 },
              { userId: 'bob', connections: 1 },
            ],
            anonymous: 2,
          })
          // Moves and disconnects show at once, in both channels.
          await s.setChannel('a2', 'games')
          await s.markDisconnected(['b1', 'Z1', 'n1'], T0 + 2)
          assert.deepEqual(await s.channelPresence('lobby'), {
            channel: 'lobby',
            members: [{ userId: 'alice', connections: 1 }],
            anonymous: 1,
          })
          assert.deepEqual(await s.channelPresence('games'), {
            channel: 'games',
            members: [{ userId: 'alice', connections: 2 }],
            anonymous: 0,
          })
          // A replaced row leaves its old channel.
          await s.createSession(session('a1', { userId: 'alice', channel: 'games' }))
          assert.deepEqual((await s.channelPresence('lobby')).members, [])
          assert.equal((await s.channelPresence('games')).members[0]?.connections, 3)
        }))

      test('a malformed audience is rejected, never treated as everyone', () =>
        withStore(open, async (s) => {
          await s.createSession(session('c1'))
          const bad = [
            {},
            { all: false },
            { userId: 'u', channel: 'x' },
            { userId: 1 },
            { user: 'u' },
          ]
          for (const audience of bad) {
            await assert.rejects(s.listConnections(audience as unknown as Audience), (e) =>
              isGatehouseError(e, 'ERR_INVALID_OPTION'),
            )
          }
        }))
    })

    describe('openSession (token use and session write as one unit)', () => {
      async function issued(s: Store, userId = 'alice', expiresAt = T0 + 60_000) {
        const hash = sha256(rawToken())
        const sessionHash = hashOf('s')
        await s.insertToken({ hash, userId, sessionHash, appId: APP, createdAt: T0, expiresAt })
        return { hash, sessionHash, appId: APP, userId }
      }

      test('success uses the token and writes the session', () =>
        withStore(open, async (s) => {
          const mine = await issued(s)
          const row = session('c1', {
            userId: 'alice',
            sessionHash: mine.sessionHash,
            channel: 'x',
          })
          assert.deepEqual(await s.openSession(mine, row, T0 + 1), {
            userId: 'alice',
            sessionHash: mine.sessionHash,
          })
          const got = await s.getSession('c1')
          assert.equal(got?.connected, true)
          assert.equal(got?.userId, 'alice')
          assert.equal(got?.sessionHash, mine.sessionHash)
          assert.equal(got?.channel, 'x')
          assert.equal(got?.requestCount, 0)
          assert.equal(got?.connectedAt, T0)
          assert.deepEqual(await s.listConnections({ channel: 'x' }), ['c1'])
          // The token is used: neither path accepts it again.
          assert.equal(await s.consumeToken(mine, T0 + 2), null)
          assert.equal(await s.openSession(mine, session('c2'), T0 + 2), null)
          assert.equal(await s.getSession('c2'), null)
        }))

      test('a used, expired, unknown, other-session, other-user or other-app token writes nothing', () =>
        withStore(open, async (s) => {
          const used = await issued(s)
          assert.notEqual(await s.consumeToken(claim(used.hash, used.sessionHash), T0 + 1), null)
          const expired = await issued(s, 'alice', T0 + 10)
          const fresh = await issued(s)
          const refused: [string, UserTokenClaim, number][] = [
            ['used', used, T0 + 2],
            ['expired (at expiresAt)', expired, T0 + 10],
            ['unknown', { ...fresh, hash: sha256(rawToken()) }, T0 + 2],
            ['other session', { ...fresh, sessionHash: hashOf('other') }, T0 + 2],
            ['other user', { ...fresh, userId: 'mallory' }, T0 + 2],
          ]
          for (const [label, claim, now] of refused) {
            const id = `refused-${label}`
            assert.equal(await s.openSession(claim, session(id), now), null, label)
            assert.equal(await s.getSession(id), null, `${label}: no session`)
          }
          assert.deepEqual(await s.listConnections({ all: true }), [])
          // The refusals burnt nothing: the fresh token still opens a session once.
          assert.notEqual(await s.openSession(fresh, session('ok'), T0 + 3), null)
          assert.deepEqual(await s.listConnections({ all: true }), ['ok'])
        }))

      test('a token of app A is refused by app B and stays usable for A', () =>
        withStore(open, async (s) => {
          const mine = await issued(s)
          const row = (id: string) =>
            session(id, { userId: 'alice', sessionHash: mine.sessionHash, channel: 'x' })
          assert.equal(await s.openSession({ ...mine, appId: OTHER }, row('b'), T0 + 1), null)
          assert.equal(await s.getSession('b'), null)
          assert.deepEqual(await s.listConnections({ all: true }), [])
          assert.deepEqual(await s.openSession(mine, row('a'), T0 + 2), {
            userId: 'alice',
            sessionHash: mine.sessionHash,
          })
          assert.deepEqual(await s.listConnections({ all: true }), ['a'])
        }))

      test('a refused openSession leaves an existing row of that id as it was', () =>
        withStore(open, async (s) => {
          await s.createSession(session('c1', { userId: 'alice', channel: 'old' }))
          await s.touchSession('c1', T0 + 1)
          const claim = await issued(s)
          const evil = session('c1', { userId: 'mallory', channel: 'evil' })
          assert.equal(await s.openSession({ ...claim, userId: 'mallory' }, evil, T0 + 2), null)
          const row = await s.getSession('c1')
          assert.equal(row?.userId, 'alice')
          assert.equal(row?.requestCount, 1)
          // Accepted: replaces the row (same semantics as createSession).
          const next = session('c1', { userId: 'alice', channel: 'new', connectedAt: T0 + 3 })
          assert.notEqual(await s.openSession(claim, next, T0 + 3), null)
          assert.equal((await s.getSession('c1'))?.requestCount, 0)
          assert.deepEqual(await s.listConnections({ channel: 'old' }), [])
          assert.deepEqual(await s.listConnections({ channel: 'new' }), ['c1'])
        }))

      test('50 concurrent openSession calls with one token: exactly one session row', () =>
        withStore(open, async (s) => {
          const claim = await issued(s)
          const results = await Promise.all(
            Array.from({ length: 50 }, (_, i) =>
              s.openSession(claim, session(`race-${i}`, { userId: 'alice' }), T0 + 1 + i),
            ),
          )
          assert.equal(results.filter((r) => r !== null).length, 1)
          const winner = results.findIndex((r) => r !== null)
          assert.deepEqual(await s.listConnections({ all: true }), [`race-${winner}`])
        }))

      test('a token revoked before (by user or by session) opens nothing', () =>
        withStore(open, async (s) => {
          const a = await issued(s)
          const b = await issued(s)
          assert.equal(await s.revokeTokens({ userId: 'alice' }), 2)
          assert.equal(await s.openSession(a, session('a'), T0 + 1), null)
          const c = await issued(s, 'bob')
          assert.equal(await s.revokeTokens({ sessionHash: c.sessionHash }), 1)
          assert.equal(await s.openSession(c, session('c'), T0 + 1), null)
          assert.equal(await s.openSession(b, session('b'), T0 + 1), null)
          assert.deepEqual(await s.listConnections({ all: true }), [])
        }))

      test('racing a revocation: the session is written iff the revocation then lists it', () =>
        withStore(open, async (s) => {
          for (let i = 0; i < 30; i++) {
            const userId = `racer-${i}`
            const claim = await issued(s, userId)
            const revoking = s.revokeTokens({ userId }).then(() => s.listConnections({ userId }))
            const id = `race-${i}`
            const [owner, listed] = await Promise.all([
              s.openSession(claim, session(id, { userId }), T0 + 1),
              revoking,
            ])
            if (owner !== null) assert.deepEqual(listed, [id], `run ${i}: opened but not listed`)
            else assert.equal(await s.getSession(id), null, `run ${i}: refused but stored`)
          }
        }))
    })

    describe('nonces', () => {
      test('a nonce is claimed once until it expires, then can be claimed again', () =>
        withStore(open, async (s) => {
          const key = `sig:${hashOf('n')}`
          assert.equal(await s.claimNonce(key, T0 + 30_000, T0), true)
          assert.equal(await s.claimNonce(key, T0 + 30_000, T0 + 1), false, 'a replay')
          assert.equal(await s.claimNonce(key, T0 + 90_000, T0 + 29_999), false, 'still held')
          assert.equal(await s.claimNonce(`sig:${hashOf('other')}`, T0 + 30_000, T0), true)
          // Held while expiresAt > now, as tokens: at expiresAt it is free again.
          assert.equal(await s.claimNonce(key, T0 + 60_000, T0 + 30_000), true, 'expired')
          assert.equal(await s.claimNonce(key, T0 + 60_000, T0 + 30_001), false, 'held anew')
        }))

      test('50 concurrent claims of one key: exactly one succeeds', () =>
        withStore(open, async (s) => {
          const key = `sig:${hashOf('race')}`
          const results = await Promise.all(
            Array.from({ length: 50 }, () => s.claimNonce(key, T0 + 30_000, T0)),
          )
          assert.equal(results.filter(Boolean).length, 1)
        }))

      test('cleanup leaves held nonces held and expired ones claimable', () =>
        withStore(open, async (s) => {
          const live = `sig:${hashOf('live')}`
          const dead = `sig:${hashOf('dead')}`
          await s.claimNonce(live, T0 + 100_000, T0)
          await s.claimNonce(dead, T0 + 10, T0)
          await s.cleanup({
            tokensCreatedBefore: 0,
            rateLimitsBefore: 0,
            sessionsDisconnectedBefore: 0,
            noncesExpiredBefore: T0 + 50,
          })
          assert.equal(await s.claimNonce(live, T0 + 100_000, T0 + 60), false)
          assert.equal(await s.claimNonce(dead, T0 + 100_000, T0 + 60), true)
        }))

      test('malformed keys and times are rejected, never claimed', () =>
        withStore(open, async (s) => {
          for (const [key, exp, now] of [
            ['', T0 + 1, T0],
            ['x'.repeat(201), T0 + 1, T0],
            ['a\nb', T0 + 1, T0],
            ['k', Number.NaN, T0],
            ['k', T0 + 1, 1.5],
          ] as const) {
            await assert.rejects(s.claimNonce(key, exp, now), (err) =>
              isGatehouseError(err, 'ERR_INVALID_OPTION'),
            )
          }
          assert.equal(typeof s.shared, 'boolean')
        }))
    })

    describe('history', () => {
      const L = { size: 5, ttlMs: 60_000 }
      test('offsets are consecutive per channel under one epoch; a read returns what came after', () =>
        withStore(open, async (s) => {
          const empty = await s.readHistory('lobby', 0, L, T0)
          assert.deepEqual(empty, { epoch: null, offset: 0, entries: [], complete: true })
          const a = await s.appendHistory('lobby', '{"n":1}', L, T0)
          const b = await s.appendHistory('lobby', '{"n":2}', L, T0 + 1)
          const other = await s.appendHistory('games', '{"g":1}', L, T0 + 2)
          const c = await s.appendHistory('lobby', '{"n":3}', L, T0 + 3)
          assert.deepEqual([a.offset, b.offset, c.offset, other.offset], [1, 2, 3, 1])
          assert.equal(a.epoch, b.epoch)
          assert.equal(a.epoch, c.epoch)
          assert.match(a.epoch, /^[A-Za-z0-9_-]{16}$/)
          assert.notEqual(other.epoch, a.epoch, 'each channel has its own epoch')
          const read = await s.readHistory('lobby', 1, L, T0 + 4)
          assert.deepEqual(read, {
            epoch: a.epoch,
            offset: 3,
            entries: [
              { offset: 2, message: '{"n":2}', at: T0 + 1 },
              { offset: 3, message: '{"n":3}', at: T0 + 3 },
            ],
            complete: true,
          })
          const upToDate = await s.readHistory('lobby', 3, L, T0 + 4)
          assert.deepEqual([upToDate.entries, upToDate.complete], [[], true])
          const ahead = await s.readHistory('lobby', 9, L, T0 + 4)
          assert.equal(ahead.complete, false, 'an offset from the future is no position here')
        }))

      test('only the last `size` entries are kept: a gap beyond them is incomplete', () =>
        withStore(open, async (s) => {
          for (let i = 1; i <= 12; i++) await s.appendHistory('c', `{"n":${i}}`, L, T0 + i)
          const all = await s.readHistory('c', 0, L, T0 + 20)
          assert.deepEqual(
            all.entries.map((e) => e.offset),
            [8, 9, 10, 11, 12],
          )
          assert.equal(all.complete, false)
          assert.equal(
            (await s.readHistory('c', 6, L, T0 + 20)).complete,
            false,
            'offset 7 is gone',
          )
          const ok = await s.readHistory('c', 7, L, T0 + 20)
          assert.deepEqual([ok.complete, ok.entries.length], [true, 5])
        }))

      test('entries older than `ttlMs` are not returned', () =>
        withStore(open, async (s) => {
          await s.appendHistory('c', '"old"', L, T0)
          await s.appendHistory('c', '"new"', L, T0 + 50_000)
          const read = await s.readHistory('c', 0, L, T0 + 60_000)
          assert.deepEqual(
            read.entries.map((e) => e.message),
            ['"new"'],
          )
          assert.equal(read.complete, false)
          assert.equal((await s.readHistory('c', 1, L, T0 + 60_000)).complete, true)
        }))

      test('concurrent appends get distinct consecutive offsets', () =>
        withStore(open, async (s) => {
          const big = { size: 100, ttlMs: 60_000 }
          const got = await Promise.all(
            Array.from({ length: 40 }, (_, i) => s.appendHistory('c', `${i}`, big, T0)),
          )
          assert.deepEqual(
            got.map((g) => g.offset).sort((x, y) => x - y),
            Array.from({ length: 40 }, (_, i) => i + 1),
          )
          assert.equal(new Set(got.map((g) => g.epoch)).size, 1)
          const read = await s.readHistory('c', 0, big, T0)
          assert.equal(read.entries.length, 40)
          for (const e of read.entries) {
            assert.equal(got.find((g) => g.offset === e.offset) !== undefined, true)
          }
        }))

      test('bad limits and offsets are refused', () =>
        withStore(open, async (s) => {
          for (const limits of [
            { size: 0, ttlMs: 1 },
            { size: 1.5, ttlMs: 1 },
            { size: 10_001, ttlMs: 1 },
            { size: 1, ttlMs: 0 },
          ]) {
            await assert.rejects(s.appendHistory('c', 'x', limits, T0), (e) =>
              isGatehouseError(e, 'ERR_INVALID_OPTION'),
            )
          }
          for (const since of [-1, 1.5, Number.NaN]) {
            await assert.rejects(s.readHistory('c', since, L, T0), (e) =>
              isGatehouseError(e, 'ERR_INVALID_OPTION'),
            )
          }
        }))
    })

    describe('cleanup', () => {
      test('removes exactly what the cut-offs name and reports the counts', () =>
        withStore(open, async (s) => {
          const sh = hashOf('s')
          const cut = T0 + 100_000
          const tok = (createdAt: number) => {
            const hash = sha256(rawToken())
            return s
              .insertToken({
                hash,
                userId: 'u',
                sessionHash: sh,
                appId: APP,
                createdAt,
                expiresAt: createdAt + 60_000,
              })
              .then(() => hash)
          }
          const oldUsed = await tok(cut - 50_000)
          await s.consumeToken(claim(oldUsed, sh), cut - 49_000)
          await tok(cut - 1) // old, unused: removed too
          const atCut = await tok(cut)
          const young = await tok(cut + 1)

          // Rate counters: a bucket matters until one window after it ends.
          const W = 1_000
          const gone: RateKey = { key: 'gone', limit: 1, windowMs: W }
          const kept: RateKey = { key: 'kept', limit: 1, windowMs: W }
          const goneAt = cut - 2 * W - 1 - (cut % W) // bucket start + 2W < cut
          const keptAt = cut - W // still the "previous" bucket at the cut
          await s.hit([gone], goneAt)
          await s.hit([kept], keptAt)

          await s.createSession(session('old-gone', { connectedAt: cut - 9_000 }))
          await s.createSession(session('at-cut', { connectedAt: cut - 9_000 }))
          await s.createSession(session('recent', { connectedAt: cut - 9_000 }))
          await s.createSession(session('live', { connectedAt: cut - 9_000 }))
          await s.markDisconnected(['old-gone'], cut - 1)
          await s.markDisconnected(['at-cut'], cut)
          await s.markDisconnected(['recent'], cut + 5)

          const result = await s.cleanup({
            tokensCreatedBefore: cut,
            rateLimitsBefore: cut,
            sessionsDisconnectedBefore: cut,
            noncesExpiredBefore: 0,
          })
          assert.deepEqual(result, { tokens: 2, rateLimits: 1, sessions: 1, nonces: 0 })
          assert.deepEqual(
            await s.cleanup({
              tokensCreatedBefore: cut,
              rateLimitsBefore: cut,
              sessionsDisconnectedBefore: cut,
              noncesExpiredBefore: 0,
            }),
            { tokens: 0, rateLimits: 0, sessions: 0, nonces: 0 },
          )

          // Survivors are intact; removed rows are gone.
          assert.notEqual(await s.consumeToken(claim(atCut, sh), cut + 2), null)
          assert.notEqual(await s.consumeToken(claim(young, sh), cut + 2), null)
          assert.equal((await s.hit([gone], goneAt)).allowed, true) // its count was reset
          assert.equal((await s.hit([kept], keptAt)).allowed, false) // its count survived
          assert.equal(await s.getSession('old-gone'), null)
          assert.notEqual(await s.getSession('at-cut'), null)
          assert.notEqual(await s.getSession('recent'), null)
          assert.equal((await s.getSession('live'))?.connected, true)
        }))
    })
  })
}

/**
 * An exact model of the sliding window, written from the definition rather than from any
 * store: it keeps every attempt time, counts the two buckets from that log, compares with
 * exact integer arithmetic, and finds `msBeforeNext` by trying each later millisecond.
 */
class RateModel {
  readonly #log = new Map<string, number[]>()

  // Keys in order; the first refusing key ends the walk (later keys are not counted). A key
  // with `charge: false` is judged as if this attempt were logged, and is not logged.
  hit(keys: readonly RateKey[], now: number) {
    for (const k of keys) {
      const log = [...(this.#log.get(k.key) ?? []), now]
      if (k.charge !== false) this.#log.set(k.key, log)
      if (this.#passes(k, log, now, 0)) continue
      let d = 1
      while (d <= 3 * k.windowMs && !this.#passes(k, log, now + d, 1)) d++
      return { allowed: false, key: k.key, msBeforeNext: d }
    }
    return { allowed: true, msBeforeNext: 0 }
  }

  #passes(k: RateKey, log: readonly number[], at: number, extra: number): boolean {
    const w = k.windowMs
    const cur = Math.floor(at / w) * w
    const count = log.filter((t) => Math.floor(t / w) * w === cur).length + extra
    const prev = log.filter((t) => Math.floor(t / w) * w === cur - w).length
    return prev * (w - (at - cur)) + count * w <= k.limit * w
  }
}
