/**
 * examples/mint-token/mint.py, the reference minter of docs/tokens.md, run by Debian's
 * python3 against the real PostgreSQL and Redis: a token it mints opens a Gatehouse
 * connection once, from its own session only, for its own app only.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Store } from '../../src/store/store.ts'
import { appFixture, SID } from '../support/app-fixture.ts'

const run = promisify(execFile)
const PYTHON = '/usr/bin/python3'
const MINT = fileURLToPath(new URL('../../examples/mint-token/mint.py', import.meta.url))
const PG_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const tag = `${process.pid}_${randomBytes(4).toString('hex')}`

async function pythonReady(): Promise<string | null> {
  try {
    await run(PYTHON, ['-c', 'import psycopg2, redis'])
    return null
  } catch {
    return `${PYTHON} lacks python3-psycopg2 / python3-redis (apt-get install python3-psycopg2 python3-redis)`
  }
}

async function mint(args: string[]): Promise<{ token: string; expires_in: number }> {
  const { stdout } = await run(PYTHON, [MINT, ...args])
  return JSON.parse(stdout)
}

/** One store under test: how to open it, and the minter's arguments that reach it. */
interface Target {
  readonly name: string
  open(): Promise<Store | null>
  readonly args: string[]
  cleanup(): Promise<void>
}

const pgSchema = `gh_mint_${tag}`
const redisPrefix = `gh-mint:${tag}:`
const targets: Target[] = [
  {
    name: 'postgres',
    args: ['postgres', '--dsn', PG_URL, '--schema', pgSchema],
    async open() {
      const { createPostgresStore } = await import('../../src/store/postgres.ts')
      return createPostgresStore({ connectionString: PG_URL, schema: pgSchema }).catch(() => null)
    },
    async cleanup() {
      const { default: pg } = await import('pg')
      const pool = new pg.Pool({ connectionString: PG_URL })
      await pool.query(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`).catch(() => {})
      await pool.end()
    },
  },
  {
    name: 'redis',
    args: ['redis', '--url', REDIS_URL, '--prefix', redisPrefix],
    async open() {
      const { createRedisStore } = await import('../../src/store/redis.ts')
      return createRedisStore({ url: REDIS_URL, prefix: redisPrefix }).catch(() => null)
    },
    async cleanup() {
      const { Redis } = await import('ioredis')
      const redis = new Redis(REDIS_URL)
      let cursor = '0'
      for (let i = 0; i < 10_000; i++) {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000)
        if (keys.length > 0) await redis.del(...keys)
        cursor = next
        if (cursor === '0') break
      }
      await redis.quit()
    },
  },
]

const missing = await pythonReady()

for (const target of targets) {
  describe(`mint.py → ${target.name}`, async () => {
    const store = missing === null ? await target.open() : null
    after(async () => {
      await store?.close()
      await target.cleanup()
    })

    test('a minted token connects once, from its own session and app only', async (t) => {
      if (store === null) {
        const why = missing ?? `${target.name} not reachable`
        if (process.env.CI === 'true') assert.fail(why)
        t.skip(`${why}: mint.py test SKIPPED`)
        return
      }
      const f = await appFixture({ appId: 'chat' }, { store })
      f.clock.set(Date.now()) // the minter stamps real time
      const minted = await mint([
        ...target.args,
        '--user',
        'alice',
        '--session',
        SID.alice,
        '--app',
        'chat',
      ])
      assert.match(minted.token, /^[A-Za-z0-9_-]{43}$/)
      assert.equal(minted.expires_in, 60)
      const connect = async (sid: string) =>
        (await f.app.handle(f.connectEvent({ sid, token: minted.token }))).status

      // From another session (alice's second tab is another session): refused, and not burnt.
      assert.equal(await connect(SID.alice2), 401)
      assert.equal(await connect(SID.alice), 200)
      assert.equal(await connect(SID.alice), 401, 'single use')

      // Another app on the same store does not accept a token minted for `chat`.
      const other = await appFixture({ appId: 'billing' }, { store })
      other.clock.set(Date.now())
      const forChat = await mint([
        ...target.args,
        '--user',
        'alice',
        '--session',
        SID.alice,
        '--app',
        'chat',
      ])
      const refused = await other.app.handle(
        other.connectEvent({ sid: SID.alice, token: forChat.token }),
      )
      assert.equal(refused.status, 401)
      assert.equal(
        (await f.app.handle(f.connectEvent({ sid: SID.alice, token: forChat.token }))).status,
        200,
      )

      // Expired: the TTL the minter wrote is the one Gatehouse enforces.
      const short = await mint([
        ...target.args,
        '--user',
        'alice',
        '--session',
        SID.alice,
        '--app',
        'chat',
        '--ttl-ms',
        '1000',
      ])
      f.clock.set(Date.now() + 1500)
      assert.equal(
        (await f.app.handle(f.connectEvent({ sid: SID.alice, token: short.token }))).status,
        401,
      )
    })
  })
}

describe('docs/tokens.md and mint.py agree with the code', () => {
  test('the Redis script of the page and of mint.py is the store’s own insertToken', async () => {
    const { readFile } = await import('node:fs/promises')
    const { REDIS_SCRIPTS } = await import('../../src/store/redis-scripts.ts')
    const doc = await readFile(new URL('../../docs/tokens.md', import.meta.url), 'utf8')
    const py = await readFile(MINT, 'utf8')
    const lua = REDIS_SCRIPTS.insertToken.lua
    assert.ok(doc.includes(`\`\`\`lua\n${lua}\n\`\`\``), 'docs/tokens.md shows the script')
    assert.ok(py.includes(`REDIS_INSERT = """${lua}"""`), 'mint.py runs the script')
  })

  test('the page states the hashes and the PostgreSQL insert the store uses', async () => {
    const { readFile } = await import('node:fs/promises')
    const doc = await readFile(new URL('../../docs/tokens.md', import.meta.url), 'utf8')
    const token = await readFile(new URL('../../src/tokens/token.ts', import.meta.url), 'utf8')
    const pg = await readFile(new URL('../../src/store/postgres.ts', import.meta.url), 'utf8')
    assert.ok(token.includes("const SESSION_HASH_PREFIX = 'gatehouse:session:'"))
    assert.ok(doc.includes('SHA-256("gatehouse:session:" + session id)'))
    assert.ok(
      pg.includes('tokens (hash, user_id, session_hash, app_id, created_at, expires_at, used_at)'),
    )
    assert.ok(
      doc.includes('tokens (hash, user_id, session_hash, app_id, created_at, expires_at, used_at)'),
    )
    // The commands of the page are the ones the test above runs.
    assert.ok(doc.includes('/usr/bin/python3 examples/mint-token/mint.py postgres --dsn'))
    assert.ok(doc.includes('/usr/bin/python3 examples/mint-token/mint.py redis --url'))
  })
})
