/**
 * Recovery end to end on every production store: GatehouseClient (on `ws`) → the bundled
 * gateway → an app on SQLite, PostgreSQL (a schema of its own) and Redis (a prefix of its
 * own). A client kept disconnected while 50 messages go to its channel receives exactly those
 * 50, in order, after it reconnects, then the live ones (some sent while it recovers, to
 * exercise the race between the history read and live fan-out); with a history shorter than
 * the gap it gets `recovered: false` and only what came after.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { WebSocket } from 'ws'
import { type App, createApp } from '../../src/app/create-app.ts'
import type { RecoveredDetail } from '../../src/client/history.ts'
import { GatehouseClient } from '../../src/client/index.ts'
import type { WebSocketConstructor } from '../../src/client/types.ts'
import { createLocalGateway } from '../../src/gateway/local.ts'
import { parseCookies } from '../../src/http/cookies.ts'
import { createPostgresStore } from '../../src/store/postgres.ts'
import { createRedisStore } from '../../src/store/redis.ts'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import type { Store } from '../../src/store/store.ts'
import { connectPostgres, connectRedis } from '../support/backends.ts'

const cleanups: (() => Promise<unknown> | unknown)[] = []
after(async () => {
  for (const f of cleanups.reverse()) await f()
})

function withCookie(sid: string): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { headers: { cookie: `sessionid=${sid}` } })
    }
  } as unknown as WebSocketConstructor
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

/** A gate the client's getToken waits at, so it stays disconnected as long as a test needs. */
function gate() {
  let open = true
  let waiters: (() => void)[] = []
  return {
    close: () => {
      open = false
    },
    open: () => {
      open = true
      for (const w of waiters) w()
      waiters = []
    },
    pass: () => (open ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
  }
}

async function scenario(store: Store): Promise<void> {
  const { gateway, app } = createLocalGateway<App>({
    port: 0,
    host: '127.0.0.1',
    messageBurst: 1000,
    messagesPerSecond: 1000,
    app: (connections) =>
      createApp({
        store,
        connections,
        history: { size: 60, ttlMs: 60_000 },
        identify: (event) => {
          const sid = parseCookies(event.headers.cookie).get('sessionid') ?? null
          return { sessionId: sid, userId: sid === null ? null : sid.split('-')[0]! }
        },
        loadUser: (id) => ({ id, permissions: [] }),
        handlers: {},
      }),
  })
  cleanups.push(() => gateway.close({ drainMs: 0 }))
  const { port } = await gateway.listen()
  const sid = `alice-${randomBytes(8).toString('hex')}`
  const g = gate()
  const c = new GatehouseClient<{ n?: number; type?: string }>({
    url: `ws://127.0.0.1:${port}/`,
    channel: 'room',
    WebSocket: withCookie(sid),
    getToken: async () => {
      await g.pass()
      const r = await app.tokens.issue('alice', sid)
      if (!r.ok) throw new Error(r.reason)
      return r.token
    },
    minReconnectDelayMs: 10,
    maxReconnectDelayMs: 20,
  })
  cleanups.push(() => c.close())
  const got: unknown[] = []
  const recovered: RecoveredDetail[] = []
  c.on('message', (m) => got.push(m))
  c.on('recovered', (r) => recovered.push(r))
  let opens = 0
  c.on('open', () => opens++)
  c.connect()
  await until('open', () => c.state === 'open')

  let n = 0
  const publish = () => app.send.toChannel('room', { type: 'm', n: ++n }, { history: true })
  const ns = () => got.map((m) => (m as { n: number }).n)
  const upTo = (k: number) => Array.from({ length: k }, (_, i) => i + 1)

  for (let i = 0; i < 3; i++) await publish()
  await until('3 live messages', () => got.length === 3)
  assert.deepEqual(got[0], { type: 'm', n: 1 }, 'the app sees its message without `$history`')

  // Disconnected (kept so by the token gate) while 50 messages go to the channel.
  g.close()
  await app.send.close({ userId: 'alice' })
  await until('the client to notice', () => c.state !== 'open')
  for (let i = 0; i < 50; i++) await publish()
  assert.equal(got.length, 3)
  g.open()
  // Live messages race the recovery: sent while the client reconnects and recovers.
  const live = (async () => {
    for (let i = 0; i < 10; i++) {
      await publish()
      await sleep(3)
    }
  })()
  await until('recovered', () => recovered.length === 1)
  await live
  await until('63 messages', () => got.length >= 63)
  await sleep(50)
  assert.equal(recovered[0]!.recovered, true)
  assert.equal(recovered[0]!.channel, 'room')
  assert.deepEqual(ns(), upTo(63), 'every message once, in order: 3 live, 50 missed, 10 live')

  // A gap longer than the history (60): recovered false, then only what comes after.
  g.close()
  await app.send.close({ userId: 'alice' })
  await until('the client to notice', () => c.state !== 'open')
  for (let i = 0; i < 70; i++) await publish()
  g.open()
  await until('second recovery', () => recovered.length === 2)
  assert.equal(recovered[1]!.recovered, false)
  assert.equal(recovered[1]!.offset, 133)
  assert.equal(got.length, 63, 'nothing of the lost gap is delivered')
  await publish()
  await publish()
  await until('2 live after', () => got.length === 65)
  assert.deepEqual(ns().slice(63), [134, 135])
  assert.equal(opens, 3)
  await c.close()
}

describe('recovery after a reconnect, on every store', () => {
  it('SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-recovery-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const store = await openSqliteStore({ path: join(dir, 'g.db') })
    cleanups.push(() => store.close())
    await scenario(store)
  })

  it('PostgreSQL', async (t) => {
    const pg = await connectPostgres()
    if (pg === null) {
      if (process.env.CI === 'true') assert.fail('PostgreSQL not reachable')
      return t.skip('PostgreSQL not reachable: SKIPPED')
    }
    const schema = `gh_recovery_${process.pid}_${randomBytes(3).toString('hex')}`
    cleanups.push(async () => {
      await pg.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await pg.pool.end()
    })
    const store = await createPostgresStore({ pool: pg.pool, schema })
    cleanups.push(() => store.close())
    await scenario(store)
  })

  it('Redis', async (t) => {
    const redis = await connectRedis()
    if (redis === null) {
      if (process.env.CI === 'true') assert.fail('Redis not reachable')
      return t.skip('Redis not reachable: SKIPPED')
    }
    const prefix = `gh-recovery:${process.pid}:${randomBytes(4).toString('hex')}:`
    cleanups.push(async () => {
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
      await redis.quit()
    })
    const store = await createRedisStore({ redis, prefix })
    cleanups.push(() => store.close())
    await scenario(store)
  })
})
