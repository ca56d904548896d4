/**
 * `gatehouse cleanup --store …` on each store, run as the real executable: an SQLite path,
 * a `postgres://` URL and a `redis://` URL, each seeded with the same rows; plus the
 * progress lines of a long (many-batch) run and a password that never reaches the output.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { runCleanup } from '../../src/cli/cleanup.ts'
import { createPostgresStore } from '../../src/store/postgres.ts'
import { createRedisStore } from '../../src/store/redis.ts'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import type { Store } from '../../src/store/store.ts'
import { connectPostgres, connectRedis, gatehouse, REDIS_URL } from '../support/backends.ts'

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const EXPECTED = 'removed 2 tokens, 1 rate-limit records, 2 sessions\n'

// Rows relative to the wall clock, with margins of minutes so the command's clock agrees:
// with the default ages, 2 tokens, 1 rate counter and 2 sessions are old.
async function seed(store: Store): Promise<void> {
  const now = Date.now()
  for (const [label, age] of [
    ['a', 600_000],
    ['b', 400_000],
    ['c', 1_000],
  ] as const) {
    await store.insertToken({
      hash: sha256(label),
      userId: 'u',
      sessionHash: 's',
      appId: 'default',
      createdAt: now - age,
      expiresAt: now - age + 60_000,
    })
  }
  await store.hit([{ key: 'old', limit: 5, windowMs: 60_000 }], now - 10 * 86_400_000)
  await store.hit([{ key: 'new', limit: 5, windowMs: 60_000 }], now)
  for (const id of ['old1', 'old2', 'recent', 'live']) {
    await store.createSession({
      connectionId: id,
      userId: 'u',
      sessionHash: 's',
      channel: 'lobby',
      connectedAt: now - 200_000_000,
    })
  }
  await store.markDisconnected(['old1', 'old2'], now - 2 * 86_400_000)
  await store.markDisconnected(['recent'], now - 3_600_000)
}

async function survivors(store: Store): Promise<void> {
  assert.equal(await store.getSession('old1'), null)
  assert.notEqual(await store.getSession('recent'), null)
  assert.equal((await store.getSession('live'))?.connected, true)
}

describe('gatehouse cleanup --store (spawned)', () => {
  test('an SQLite path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cleanup-stores-'))
    try {
      const path = join(dir, 'gatehouse.db')
      const store = await openSqliteStore({ path })
      await seed(store)
      await store.close()
      const r = await gatehouse(['cleanup', `--store=${path}`])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout, EXPECTED)
      const again = await openSqliteStore({ path })
      await survivors(again)
      await again.close()
      // --db keeps working, and a missing file is still an error.
      const old = await gatehouse(['cleanup', `--db=${path}`])
      assert.equal(old.stdout, 'removed 0 tokens, 0 rate-limit records, 0 sessions\n')
      const missing = await gatehouse(['cleanup', `--store=${join(dir, 'nope.db')}`])
      assert.equal(missing.code, 1)
      assert.match(missing.stderr, /no database at/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('usage errors: an unknown scheme, --schema or --prefix on the wrong store, --store with --db', async () => {
    for (const args of [
      ['--store=mysql://x/y'],
      ['--store=x.db', '--schema=s'],
      ['--store=x.db', '--prefix=p:'],
      ['--store=postgres://h/d', '--prefix=p:'],
      ['--store=a.db', '--db=b.db'],
    ]) {
      const r = await gatehouse(['cleanup', ...args])
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    }
  })

  test('a password in the URL never reaches the output', async () => {
    const r = await gatehouse([
      'cleanup',
      '--store=postgres://postgres:hunter2secret@127.0.0.1:1/test',
    ])
    assert.equal(r.code, 1)
    assert.doesNotMatch(r.stdout + r.stderr, /hunter2secret/)
    assert.match(r.stderr, /postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test/)
    assert.match(r.stderr, /ERR_STORE_UNAVAILABLE/)
  })
})

const pg = await connectPostgres()
describe('gatehouse cleanup --store=postgres://… (spawned)', { skip: pg === null }, () => {
  const run = `gh_cli_clean_${process.pid}_${randomBytes(3).toString('hex')}`
  after(async () => {
    if (pg === null) return
    await pg.pool.query(`DROP SCHEMA IF EXISTS ${run}_a CASCADE`)
    await pg.pool.query(`DROP SCHEMA IF EXISTS ${run}_b CASCADE`)
    await pg.pool.end()
  })

  test('removes old rows of the named schema', async () => {
    const { url, pool } = pg!
    const store = await createPostgresStore({ pool, schema: `${run}_a` })
    await seed(store)
    const r = await gatehouse(['cleanup', `--store=${url}`, `--schema=${run}_a`])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, EXPECTED)
    await survivors(store)
    await store.close()
  })

  test('a schema never migrated is reported, not created', async () => {
    const { url, pool } = pg!
    const r = await gatehouse(['cleanup', `--store=${url}`, `--schema=${run}_b`])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /ERR_STORE_MIGRATION_REQUIRED/)
    assert.match(r.stderr, /gatehouse migrate/)
    const { rows } = await pool.query('SELECT to_regnamespace($1) AS ns', [`${run}_b`])
    assert.equal(rows[0]?.ns, null)
  })
})

const redis = await connectRedis()
describe('gatehouse cleanup --store=redis://… (spawned)', { skip: redis === null }, () => {
  const run = `gh-cli-clean:${process.pid}:${randomBytes(3).toString('hex')}:`
  after(async () => {
    if (redis === null) return
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${run}*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
    } while (cursor !== '0')
    await redis.quit()
  })

  test('removes old rows under the named prefix', async () => {
    const prefix = `${run}a:`
    const store = await createRedisStore({ redis: redis!, prefix })
    await seed(store)
    const r = await gatehouse(['cleanup', `--store=${REDIS_URL}`, `--prefix=${prefix}`])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, EXPECTED)
    await survivors(store)
    await store.close()
  })

  test('a run of many batches reports its progress on stderr, then the summary', async () => {
    const prefix = `${run}b:`
    const store = await createRedisStore({ redis: redis!, prefix })
    const old = Date.now() - 3_600_000
    const n = 2_100
    for (let i = 0; i < n; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, n - i) }, (_, j) =>
          store.insertToken({
            hash: sha256(`bulk${i + j}`),
            userId: `u${(i + j) % 7}`,
            sessionHash: 's',
            appId: 'default',
            createdAt: old,
            expiresAt: old + 60_000,
          }),
        ),
      )
    }
    await store.close()
    const out: string[] = []
    const err: string[] = []
    const io = {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
      env: {},
    }
    const code = await runCleanup([`--store=${REDIS_URL}`, `--prefix=${prefix}`], io, {
      progressEveryMs: 0,
    })
    assert.equal(code, 0, err.join(''))
    assert.equal(out.join(''), `removed ${n} tokens, 0 rate-limit records, 0 sessions\n`)
    const progress = err.filter((l) => /running for \d+ s, removed so far \d+ tokens/.test(l))
    assert.ok(progress.length >= 3, err.join(''))
    assert.match(progress[0]!, /removed so far 1000 tokens/)
  })
})
