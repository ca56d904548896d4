/**
 * @module bench/replay-check
 * `node bench/replay-check.ts [--store=postgres,redis,memory] [--messages=5000]`
 *
 * What `sharedReplayCheck` costs: signed messages through one app, with the store-backed
 * replay claim on and off, on each store. Messages run one after another (the latency a
 * connection sees) on a fresh PostgreSQL schema or Redis prefix, removed afterwards (never
 * a FLUSH). Prints messages per second and microseconds per message.
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { createApp } from '../src/app/create-app.ts'
import type { GatewayEvent } from '../src/events/event.ts'
import { hashSignedHeaders, signEvent } from '../src/events/signing.ts'
import { createMemoryStore } from '../src/store/memory.ts'
import type { Store } from '../src/store/store.ts'

const SECRET = 'bench-replay-secret-0123456789abcdef'
const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'postgres,redis' },
    messages: { type: 'string', default: '5000' },
  },
})
const messages = Number(values.messages)
const run = `bench_replay_${randomBytes(4).toString('hex')}`

interface Opened {
  readonly store: Store
  dispose(): Promise<void>
}

async function open(kind: string): Promise<Opened> {
  if (kind === 'memory') {
    const store = { ...createMemoryStore(), shared: true }
    return { store, dispose: () => store.close() }
  }
  if (kind === 'postgres') {
    const { default: pg } = await import('pg')
    const { createPostgresStore } = await import('../src/store/postgres.ts')
    const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
    const pool = new pg.Pool({ connectionString: url, max: 4 })
    const store = await createPostgresStore({ pool, schema: run })
    return {
      store,
      async dispose() {
        await store.close()
        await pool.query(`DROP SCHEMA "${run}" CASCADE`)
        await pool.end()
      },
    }
  }
  const { Redis } = await import('ioredis')
  const { createRedisStore } = await import('../src/store/redis.ts')
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
  const store = await createRedisStore({ redis, prefix: `${run}:` })
  return {
    store,
    async dispose() {
      await store.close()
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${run}:*`, 'COUNT', 1000)
        if (keys.length > 0) await redis.del(...keys)
        cursor = next
      } while (cursor !== '0')
      redis.disconnect()
    },
  }
}

/** A message as decodeHttpEvent hands a signed call to the app. */
function signedMessage(connectionId: string, n: number): GatewayEvent {
  const now = Date.now()
  const request = {
    method: 'POST',
    path: '/ws/default',
    rawQuery: '',
    headersHash: hashSignedHeaders([]),
  }
  const body = '{"action":"ping"}'
  const event = {
    eventType: 'MESSAGE',
    routeKey: '$default',
    connectionId,
    headers: {},
    query: {},
    rawQuery: '',
    body,
    sourceIp: '203.0.113.7',
    apiId: 'bench',
    stage: 'production',
    domainName: '127.0.0.1',
    requestId: `r${n}`,
    connectedAt: now,
    requestTimeEpoch: now,
  } as const
  const { timestamp, signature } = signEvent({ timestamp: now, ...event, ...request, body }, SECRET)
  return { ...event, transport: { via: 'http', signature, timestamp, request } }
}

async function measure(store: Store, sharedReplayCheck: boolean): Promise<number> {
  const app = createApp({
    store,
    gatewaySecret: SECRET,
    useToken: false,
    sharedReplayCheck,
    handlers: { ping: () => undefined },
  })
  const id = `${randomBytes(9).toString('base64url')}=`
  await store.createSession({
    connectionId: id,
    userId: null,
    sessionHash: null,
    channel: null,
    connectedAt: Date.now(),
  })
  for (let i = 0; i < 200; i++) await app.handle(signedMessage(id, -i - 1)) // warm-up
  const start = performance.now()
  for (let i = 0; i < messages; i++) {
    const r = await app.handle(signedMessage(id, i))
    if (r.status !== 200) throw new Error(`message ${i}: ${r.status}`)
  }
  return (performance.now() - start) / messages
}

for (const kind of String(values.store).split(',')) {
  const opened = await open(kind)
  try {
    const off = await measure(opened.store, false)
    const on = await measure(opened.store, true)
    const line = (label: string, ms: number) =>
      `${kind.padEnd(9)} ${label.padEnd(24)} ${Math.round(1000 / ms)
        .toString()
        .padStart(7)} msg/s ${(ms * 1000).toFixed(0).padStart(6)} µs/msg`
    console.log(line('sharedReplayCheck off', off))
    console.log(line('sharedReplayCheck on', on))
    console.log(`${kind.padEnd(9)} cost ${((on / off - 1) * 100).toFixed(0)}% per message`)
  } finally {
    await opened.dispose()
  }
}
