import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, describe, test } from 'node:test'
import type { Redis } from 'ioredis'
import { DEFAULTS } from '../../src/defaults.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { createRedisStore } from '../../src/store/redis.ts'
import { REDIS_SCRIPTS } from '../../src/store/redis-scripts.ts'
import { runRevocationConformance } from '../conformance/app-revocation.ts'
import { runStoreConformance } from '../conformance/store.ts'
import { claim } from '../support/claim.ts'
import { startPrivateRedis } from '../support/private-redis.ts'

const T0 = 1_700_000_000_000
const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const unavailable = (e: unknown) => isGatehouseError(e, 'ERR_STORE_UNAVAILABLE')

// Never print a password that REDIS_URL may carry.
function redact(u: string): string {
  try {
    const parsed = new URL(u)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '<unparseable REDIS_URL>'
  }
}

async function connect(): Promise<Redis | null> {
  const { Redis } = await import('ioredis')
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.ping()
    return client
  } catch {
    client.disconnect()
    return null
  }
}

const client = await connect()

if (client === null) {
  test('redis store', (t) => {
    if (process.env.CI === 'true') assert.fail(`Redis not reachable at ${redact(url)}`)
    t.skip(`Redis not reachable at ${redact(url)}: redis store tests SKIPPED`)
  })
} else {
  const redis = client
  // One prefix per test run; each opened store gets its own prefix inside it.
  const run = `gh-test:${process.pid}:${randomBytes(4).toString('hex')}:`
  let opened = 0
  const fresh = (): string => `${run}${++opened}:`

  after(async () => {
    // Delete every key of this run; SCAN is bounded by the cursor returning to 0.
    let cursor = '0'
    for (let i = 0; i < 100_000; i++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${run}*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
      if (cursor === '0') break
    }
    await redis.quit()
  })

  runStoreConformance('redis', () => createRedisStore({ redis, prefix: fresh() }))
  runRevocationConformance('redis', () => createRedisStore({ redis, prefix: fresh() }))

  describe('redis store', () => {
    test('a store on its own URL works, and close() disconnects it', async () => {
      const store = await createRedisStore({ url, prefix: fresh() })
      const hash = sha256('own')
      await store.insertToken({
        hash,
        userId: 'u',
        sessionHash: 's',
        appId: DEFAULTS.appId,
        createdAt: T0,
        expiresAt: T0 + 60_000,
      })
      assert.deepEqual(await store.consumeToken(claim(hash, 's'), T0 + 1), {
        userId: 'u',
        sessionHash: 's',
      })
      await store.close()
      await store.close()
      await assert.rejects(store.consumeToken(claim(hash, 's'), T0 + 2), unavailable)
    })

    test('an unreachable server fails as unavailable', async () => {
      await assert.rejects(
        createRedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 1_000 }),
        unavailable,
      )
    })

    test('a client that lost its connection fails as unavailable, never allows', async () => {
      const { Redis } = await import('ioredis')
      const lost = new Redis(url, {
        lazyConnect: true,
        enableOfflineQueue: false,
        retryStrategy: () => null,
      })
      lost.on('error', () => {})
      await lost.connect()
      const store = await createRedisStore({ redis: lost, prefix: fresh() })
      assert.equal((await store.hit([{ key: 'k', limit: 1, windowMs: 1000 }], T0)).allowed, true)
      lost.disconnect()
      await assert.rejects(store.hit([{ key: 'k', limit: 1, windowMs: 1000 }], T0), unavailable)
      await assert.rejects(store.consumeToken(claim(sha256('x'), 's'), T0), unavailable)
      await store.close()
    })

    // SCRIPT FLUSH empties the script cache of every client of a server, so it runs on a
    // server of this test's own, never on the shared one.
    test('scripts are reloaded after SCRIPT FLUSH (on a private redis-server)', async (t) => {
      const server = await startPrivateRedis()
      if (server === null) {
        if (process.env.CI === 'true') assert.fail('redis-server is not installed')
        t.skip('redis-server is not installed')
        return
      }
      const store = await createRedisStore({ url: server.url, prefix: 'flush:' })
      const { Redis } = await import('ioredis')
      const admin = new Redis(server.url, { lazyConnect: true, enableOfflineQueue: false })
      admin.on('error', () => {})
      try {
        await admin.connect()
        const hash = sha256('flush')
        await store.insertToken({
          hash,
          userId: 'u',
          sessionHash: 's',
          appId: DEFAULTS.appId,
          createdAt: T0,
          expiresAt: T0 + 60_000,
        })
        const sha = REDIS_SCRIPTS.consumeToken.sha
        await store.consumeToken(claim(sha256('other'), 's'), T0) // loads the script
        assert.deepEqual(await admin.script('EXISTS', sha), [1])
        await admin.script('FLUSH')
        assert.deepEqual(await admin.script('EXISTS', sha), [0], 'the cache really is empty')
        assert.deepEqual(await store.consumeToken(claim(hash, 's'), T0 + 1), {
          userId: 'u',
          sessionHash: 's',
        })
        assert.equal(await store.consumeToken(claim(hash, 's'), T0 + 2), null)
      } finally {
        await store.close()
        admin.disconnect()
        await server.stop()
      }
    })

    test('a token written before audiences (no app field) belongs to the default app only', async () => {
      const prefix = fresh()
      const store = await createRedisStore({ redis, prefix })
      const hash = sha256('legacy')
      // The record as the previous insertToken script wrote it.
      await redis.hset(`${prefix}t:${hash}`, 'u', 'alice', 's', 's', 'c', T0, 'e', T0 + 60_000)
      await redis.sadd(`${prefix}tu:alice`, hash)
      await redis.sadd(`${prefix}ts:s`, hash)
      await redis.zadd(`${prefix}tc`, T0, hash)
      assert.equal(await store.consumeToken(claim(hash, 's', 'chat'), T0 + 1), null)
      assert.deepEqual(await store.consumeToken(claim(hash, 's', 'default'), T0 + 2), {
        userId: 'alice',
        sessionHash: 's',
      })
      assert.equal(await store.consumeToken(claim(hash, 's', 'default'), T0 + 3), null)
      // New records carry the field.
      await store.insertToken({
        hash: sha256('new'),
        userId: 'bob',
        sessionHash: 's',
        appId: 'chat',
        createdAt: T0,
        expiresAt: T0 + 60_000,
      })
      assert.equal(await redis.hget(`${prefix}t:${sha256('new')}`, 'a'), 'chat')
      await store.close()
    })

    test('keys stay under the prefix and hold no raw token', async () => {
      const prefix = fresh()
      const store = await createRedisStore({ redis, prefix })
      const raw = randomBytes(32).toString('base64url')
      await store.insertToken({
        hash: sha256(raw),
        userId: 'u',
        sessionHash: 's',
        appId: DEFAULTS.appId,
        createdAt: T0,
        expiresAt: T0 + 60_000,
      })
      await store.createSession({
        connectionId: 'c',
        userId: 'u',
        sessionHash: 's',
        channel: 'x',
        connectedAt: T0,
      })
      await store.hit([{ key: 'k', limit: 1, windowMs: 1000 }], T0)
      const [, keys] = await redis.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 10_000)
      assert.ok(keys.length > 0)
      assert.ok(keys.some((k) => k.includes(sha256(raw))))
      for (const k of keys) {
        assert.ok(!k.includes(raw))
        const type = await redis.type(k)
        const dump = JSON.stringify(
          type === 'hash'
            ? await redis.hgetall(k)
            : type === 'set'
              ? await redis.smembers(k)
              : await redis.zrange(k, '0', '-1'),
        )
        assert.ok(!dump.includes(raw))
      }
      await store.close()
    })

    test('bad options are programmer errors', async () => {
      const invalid = (e: unknown) => isGatehouseError(e, 'ERR_INVALID_OPTION')
      await assert.rejects(createRedisStore({ redis, prefix: '' }), invalid)
      // @ts-expect-error neither redis nor url
      await assert.rejects(createRedisStore({}), invalid)
    })
  })
}
