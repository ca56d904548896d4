/**
 * Redis stays bounded without any cleanup: every key the store writes carries a TTL, each
 * within the bound its kind documents, and index entries whose rows have expired are
 * trimmed by later writes and reads. Runs on the shared Redis under a prefix of its own.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { DEFAULTS } from '../../src/defaults.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { createRedisStore } from '../../src/store/redis.ts'
import { RATE_TTL_SLACK_MS } from '../../src/store/redis-scripts.ts'
import { appFixture } from '../support/app-fixture.ts'

const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const T0 = 1_700_000_000_000
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

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
    return client
  } catch {
    client.disconnect()
    return null
  }
}

const client = await connect()
const run = `gh-ttl:${process.pid}:${randomBytes(4).toString('hex')}:`
let opened = 0
const fresh = (): string => `${run}${++opened}:`

async function keysOf(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = []
  let cursor = '0'
  for (let i = 0; i < 10_000; i++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    out.push(...keys)
    cursor = next
    if (cursor === '0') break
  }
  return out.sort()
}

if (client === null) {
  test('redis TTLs', (t) => {
    if (process.env.CI === 'true') assert.fail('Redis not reachable')
    t.skip('Redis not reachable: redis TTL tests SKIPPED')
  })
} else {
  const redis = client
  after(async () => {
    const keys = await keysOf(redis, run)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })

  test('after issue, connect, message, channel change, disconnect and refused hits, every key has a bounded TTL', async () => {
    const prefix = fresh()
    const store = await createRedisStore({ redis, prefix })
    try {
      const f = await appFixture({}, { store })
      const alice = await f.connect('alice')
      const bob = await f.connect('bob', { channel: 'games' })
      const reply = await f.app.handle(f.messageEvent(alice, '{"action":"nothing"}'))
      assert.ok(reply.status < 500)
      await store.setChannel(bob, 'lobby-2')
      // Channel history: a stream and its hash, both with the history's age as their TTL.
      await f.app.send.toChannel('lobby-2', { type: 'kept' }, { history: true })
      await f.app.handle(f.disconnectEvent(alice))
      // Spend bob's issue rate: refused hits are written too.
      let refused = 0
      for (let i = 0; i < DEFAULTS.tokenIssueLimit + 2; i++) {
        if (!(await f.app.tokens.issue('bob', 'sid-bob-00000000000000000000')).ok) refused++
      }
      assert.ok(refused >= 2)
      // A connect refused by its rate (per IP), after the limit.
      for (let i = 0; i < DEFAULTS.connectLimitPerIp + 1; i++) {
        await f.app.handle(f.connectEvent({ ip: '198.51.100.9', token: 'x'.repeat(43) }))
      }

      const keys = await keysOf(redis, prefix)
      const kinds = new Set(keys.map((k) => k.slice(prefix.length).split(':')[0]))
      // The scenario reached every kind of key the store writes.
      for (const kind of [
        't',
        'tu',
        'ts',
        'tc',
        'r',
        'rx',
        's',
        'su',
        'sh',
        'sc',
        'sa',
        'sd',
        'hs',
        'hm',
      ]) {
        assert.ok(kinds.has(kind), `no ${kind} key written: ${[...kinds].join(',')}`)
      }
      const tokenMax = DEFAULTS.tokenTtlMs + DEFAULTS.tokenRetentionGraceMs
      const rateMax = 2 * DEFAULTS.connectWindowMs + RATE_TTL_SLACK_MS
      for (const key of keys) {
        const ttl = await redis.pttl(key)
        assert.ok(ttl > 0, `${key} has no TTL (${ttl})`)
        const kind = key.slice(prefix.length).split(':')[0]!
        const bound =
          kind === 't' || kind === 'tu' || kind === 'ts' || kind === 'tc'
            ? tokenMax
            : kind === 'r' || kind === 'rx'
              ? rateMax
              : kind === 'hs' || kind === 'hm'
                ? DEFAULTS.historyTtlMs
                : kind === 'sd' || (kind === 's' && key.endsWith(alice))
                  ? DEFAULTS.disconnectedSessionRetentionMs
                  : DEFAULTS.connectedSessionRetentionMs
        assert.ok(ttl <= bound, `${key}: TTL ${ttl} above its bound ${bound}`)
      }
      // The disconnected session keeps the (shorter) retention of a disconnected row, not
      // the connected one; the connected one has the connected bound.
      assert.ok(
        (await redis.pttl(`${prefix}s:${alice}`)) <= DEFAULTS.disconnectedSessionRetentionMs,
      )
      assert.ok(
        (await redis.pttl(`${prefix}s:${bob}`)) > DEFAULTS.disconnectedSessionRetentionMs / 24,
      )
    } finally {
      await store.close()
    }
  })

  test('retention options set the TTLs; unknown or bad ones are refused', async () => {
    const prefix = fresh()
    const store = await createRedisStore({
      redis,
      prefix,
      retention: { tokenGraceMs: 1_000, connectedSessionMs: 50_000, disconnectedSessionMs: 9_000 },
    })
    try {
      const hash = sha256('t')
      await store.insertToken({
        hash,
        userId: 'u',
        sessionHash: 'h',
        appId: 'a',
        createdAt: T0,
        expiresAt: T0 + 2_000,
      })
      const tokenTtl = await redis.pttl(`${prefix}t:${hash}`)
      assert.ok(tokenTtl > 2_000 && tokenTtl <= 3_000, String(tokenTtl))
      const s = { userId: 'u', sessionHash: null, channel: 'c', connectedAt: T0 }
      await store.createSession({ connectionId: 'c1', ...s })
      const live = await redis.pttl(`${prefix}s:c1`)
      assert.ok(live > 40_000 && live <= 50_000, String(live))
      await store.markDisconnected(['c1'], T0 + 1)
      const gone = await redis.pttl(`${prefix}s:c1`)
      assert.ok(gone > 8_000 && gone <= 9_000, String(gone))
    } finally {
      await store.close()
    }
    for (const retention of [
      { tokenGraceMS: 1 },
      { connectedSessionMs: 0 },
      { disconnectedSessionMs: -5 },
      { tokenGraceMs: 1.5 },
      'long',
    ]) {
      await assert.rejects(
        createRedisStore({ redis, prefix: fresh(), retention: retention as never }),
        (e) => isGatehouseError(e, 'ERR_INVALID_OPTION'),
        JSON.stringify(retention),
      )
    }
  })

  test('index entries of expired rows are trimmed by later writes and reads', async () => {
    const prefix = fresh()
    // Two stores on one prefix: one writes rows that expire within 300 ms, the other long-lived ones.
    const brief = await createRedisStore({
      redis,
      prefix,
      retention: { tokenGraceMs: 0, connectedSessionMs: 300 },
    })
    const store = await createRedisStore({ redis, prefix })
    try {
      const tok = (s: typeof store, label: string, createdAt: number, lifetime: number) =>
        s.insertToken({
          hash: sha256(label),
          userId: 'u',
          sessionHash: 'h',
          appId: 'a',
          createdAt,
          expiresAt: createdAt + lifetime,
        })
      const sess = (s: typeof store, connectionId: string, userId: string, channel: string) =>
        s.createSession({ connectionId, userId, sessionHash: null, channel, connectedAt: T0 })
      // Long-lived rows first, so the indexes carry their long TTL; then rows that expire soon.
      await tok(store, 'live0', T0 + 100, 60_000)
      await sess(store, 'live', 'v', 'lobby')
      await sess(store, 'live-u', 'u', 'games')
      for (let i = 0; i < 5; i++) await tok(brief, `dead${i}`, T0, 300)
      await sess(brief, 'dead', 'u', 'lobby')
      await sleep(400)
      assert.equal(await redis.exists(`${prefix}s:dead`), 0)
      assert.equal(await redis.zcard(`${prefix}tc`), 6)
      // Each write trims up to four dead entries from the oldest end.
      await tok(store, 'live1', T0 + 200, 60_000)
      assert.equal(await redis.zcard(`${prefix}tc`), 3)
      await tok(store, 'live2', T0 + 300, 60_000)
      assert.equal(await redis.zcard(`${prefix}tc`), 3)
      // The token sets lose their dead members to the random draws of later inserts.
      let live = 3
      // Each set is drawn from on its own, so wait for both to lose their dead members.
      while (
        live < 200 &&
        ((await redis.scard(`${prefix}ts:h`)) > live || (await redis.scard(`${prefix}tu:u`)) > live)
      ) {
        await tok(store, `more${live}`, T0 + 400 + live, 60_000)
        live++
      }
      assert.equal(await redis.scard(`${prefix}ts:h`), live)
      assert.equal(await redis.scard(`${prefix}tu:u`), live)

      assert.equal(await redis.scard(`${prefix}sc:lobby`), 2)
      assert.deepEqual(await store.channelPresence('lobby'), {
        channel: 'lobby',
        members: [{ userId: 'v', connections: 1 }],
        anonymous: 0,
      })
      assert.equal(await redis.scard(`${prefix}sc:lobby`), 1)
      // A listing drops the dead id from the set it reads.
      assert.equal(await redis.sismember(`${prefix}su:u`, 'dead'), 1)
      assert.deepEqual(await store.listConnections({ userId: 'u' }), ['live-u'])
      assert.equal(await redis.sismember(`${prefix}su:u`, 'dead'), 0)
      assert.equal(await redis.sismember(`${prefix}sa`, 'dead'), 1)
      assert.deepEqual((await store.listConnections({ all: true })).sort(), ['live', 'live-u'])
      assert.equal(await redis.sismember(`${prefix}sa`, 'dead'), 0)
    } finally {
      await brief.close()
      await store.close()
    }
  })
}
