import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { abandonConnect } from '../../src/app/abandon.ts'
import { manualClock } from '../../src/clock.ts'
import { GatehouseError } from '../../src/errors.ts'
import { silentLogger } from '../../src/logger.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import { createPostgresStore } from '../../src/store/postgres.ts'
import { createRedisStore } from '../../src/store/redis.ts'
import type { Store } from '../../src/store/store.ts'
import { appFixture } from '../support/app-fixture.ts'
import { startPrivateRedis } from '../support/private-redis.ts'

describe('abandonConnect', () => {
  test('retries until the store confirms, then stops', async () => {
    const inner = createMemoryStore()
    let calls = 0
    const store: Store = {
      ...inner,
      markDisconnected: (...args) => {
        calls++
        return calls < 3
          ? Promise.reject(new GatehouseError('ERR_STORE_UNAVAILABLE', 'down'))
          : inner.markDisconnected(...args)
      },
    }
    await inner.createSession({
      connectionId: 'c1',
      userId: 'alice',
      sessionHash: null,
      channel: null,
      connectedAt: 0,
    })
    const ctx = { store, clock: manualClock(), logger: silentLogger, retryDelaysMs: [1, 1, 1, 1] }
    assert.equal(await abandonConnect(ctx, 'c1'), true)
    assert.equal(calls, 3)
    assert.equal((await inner.getSession('c1'))?.connected, false)
  })

  test('gives up after the last pause and says so', async () => {
    const store: Store = {
      ...createMemoryStore(),
      markDisconnected: () => Promise.reject(new GatehouseError('ERR_STORE_UNAVAILABLE', 'down')),
    }
    const logged: unknown[] = []
    const logger = { ...silentLogger, error: (fields: unknown) => void logged.push(fields) }
    const ctx = { store, clock: manualClock(), logger, retryDelaysMs: [1, 1] }
    assert.equal(await abandonConnect(ctx, 'c2'), false)
    assert.deepEqual(logged, [{ event: 'abandon_failed', connectionId: 'c2' }])
  })
})

// The red-team case: Redis runs the openSession script after ioredis has given up on it.
// CLIENT PAUSE holds every other client's commands on a server of this test's own (never the
// shared one) past the store's command timeout; then Redis runs them, in order.
test('Redis: an openSession held past the command timeout answers 503 and leaves no ghost session', async (t) => {
  const server = await startPrivateRedis()
  if (server === null) {
    if (process.env.CI === 'true') assert.fail('redis-server is not installed')
    t.skip('redis-server is not installed')
    return
  }
  const store = await createRedisStore({ url: server.url, prefix: 'ghost:', commandTimeoutMs: 300 })
  const { Redis } = await import('ioredis')
  const admin = new Redis(server.url, { lazyConnect: true, enableOfflineQueue: false })
  admin.on('error', () => {})
  try {
    await admin.connect()
    // The last check before openSession pauses Redis, so it is that call which is held.
    let hold = false
    const f = await appFixture(
      {
        connectChecks: [
          async () => {
            if (hold) await admin.call('CLIENT', 'PAUSE', '1500', 'ALL')
            return true
          },
        ],
      },
      { store },
    )
    // A first connect loads the script, so the held EVALSHA really runs later.
    await f.connect('bob')
    const token = await f.issue('alice')
    const event = f.connectEvent({ token })
    hold = true
    const started = Date.now()
    const response = await f.app.handle(event)
    assert.equal(response.status, 503)
    assert.ok(Date.now() - started < 1_400, 'answered at the command timeout, not after the pause')
    // Past the pause: the script has run by now, and so has the undo queued behind it.
    await sleep(2_000 - (Date.now() - started))
    assert.deepEqual(await store.listConnections({ userId: 'alice' }), [])
    const session = await store.getSession(event.connectionId)
    assert.notEqual(session, null, 'the held script did run (else this test proves nothing)')
    assert.equal(session?.connected, false)
    assert.equal((await store.listConnections({ userId: 'bob' })).length, 1)
  } finally {
    await store.close()
    admin.disconnect()
    await server.stop()
  }
})

// PostgreSQL enforces statement_timeout in the server: the statement is cancelled and its
// transaction rolled back, so a timed-out openSession commits nothing (the undo is a no-op).
test('PostgreSQL: an openSession cancelled by statement_timeout commits nothing', async (t) => {
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const schema = `gh_abandon_${process.pid}_${randomBytes(3).toString('hex')}`
  let store: Store
  try {
    store = await createPostgresStore({ connectionString: url, schema, statementTimeoutMs: 300 })
  } catch (err) {
    if (process.env.CI === 'true') throw err
    t.skip('PostgreSQL not reachable')
    return
  }
  const { default: pg } = await import('pg')
  const holder = new pg.Client({ connectionString: url })
  await holder.connect()
  try {
    const f = await appFixture({}, { store })
    const token = await f.issue('alice')
    // Lock every token row, so the openSession statement waits past its timeout.
    await holder.query('BEGIN')
    await holder.query(`SELECT hash FROM "${schema}".tokens FOR UPDATE`)
    const event = f.connectEvent({ token })
    assert.equal((await f.app.handle(event)).status, 503)
    await holder.query('COMMIT')
    await sleep(200)
    assert.equal(await store.getSession(event.connectionId), null)
    assert.deepEqual(await store.listConnections({ userId: 'alice' }), [])
    // And the token was not burnt: the statement that would have used it was rolled back.
    assert.equal((await f.app.handle(f.connectEvent({ token }))).status, 200)
  } finally {
    await holder.query('ROLLBACK').catch(() => {})
    await holder.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {})
    await holder.end()
    await store.close()
  }
})
