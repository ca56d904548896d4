import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, describe, test } from 'node:test'
import type { Pool } from 'pg'
import { DEFAULTS } from '../../src/defaults.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { createPostgresStore } from '../../src/store/postgres.ts'
import { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from '../../src/store/postgres-schema.ts'
import { runRevocationConformance } from '../conformance/app-revocation.ts'
import { runStoreConformance } from '../conformance/store.ts'
import { claim } from '../support/claim.ts'

const T0 = 1_700_000_000_000
const candidates = process.env.DATABASE_URL
  ? [process.env.DATABASE_URL]
  : ['postgres://postgres@127.0.0.1:5432/test', 'postgres://root@127.0.0.1:5432/test']
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const unavailable = (e: unknown) => isGatehouseError(e, 'ERR_STORE_UNAVAILABLE')

// Never print a password that DATABASE_URL may carry.
function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '<unparseable DATABASE_URL>'
  }
}

async function connect(): Promise<{ url: string; pool: Pool } | null> {
  const { default: pg } = await import('pg')
  for (const url of candidates) {
    const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 2_000, max: 6 })
    pool.on('error', () => {})
    try {
      await pool.query('SELECT 1')
      return { url, pool }
    } catch {
      await pool.end().catch(() => {})
    }
  }
  return null
}

const found = await connect()

if (found === null) {
  test('postgres store', (t) => {
    const where = candidates.map(redact).join(' or ')
    if (process.env.CI === 'true') assert.fail(`PostgreSQL not reachable at ${where}`)
    t.skip(`PostgreSQL not reachable at ${where}: postgres store tests SKIPPED`)
  })
} else {
  const { url, pool } = found
  // One namespace per test run; each opened store gets its own schema inside it.
  const run = `gh_test_${process.pid}_${randomBytes(4).toString('hex')}`
  const schemas: string[] = []
  const fresh = (): string => {
    const name = `${run}_${schemas.length + 1}`
    schemas.push(name)
    return name
  }
  after(async () => {
    for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
    await pool.end()
  })

  runStoreConformance('postgres', () => createPostgresStore({ pool, schema: fresh() }))
  runRevocationConformance('postgres', () => createPostgresStore({ pool, schema: fresh() }))

  describe('postgres store', () => {
    test('a store on its own connection string works, and close() ends its pool', async () => {
      const store = await createPostgresStore({ connectionString: url, schema: fresh() })
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

    test('concurrent openers of one schema migrate it exactly once', async () => {
      const schema = fresh()
      const stores = await Promise.all(
        Array.from({ length: 5 }, () => createPostgresStore({ pool, schema })),
      )
      const { rows } = await pool.query(
        `SELECT version FROM "${schema}".gatehouse_schema ORDER BY version`,
      )
      assert.deepEqual(
        rows.map((r) => r.version),
        Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1),
      )
      for (const s of stores) await s.close()
    })

    test('version 4 gives tokens written before audiences to the default app, and only to it', async () => {
      const schema = fresh()
      const q = `"${schema}"`
      // A schema as version 3 left it, holding a token row (and a used one) without an audience.
      await pool.query(`CREATE SCHEMA ${q}; CREATE TABLE ${q}.gatehouse_schema (
        version integer PRIMARY KEY, applied_at bigint NOT NULL)`)
      for (const m of POSTGRES_MIGRATIONS.filter((m) => m.version <= 3)) {
        await pool.query(
          `INSERT INTO ${q}.gatehouse_schema VALUES (${m.version}, ${T0}); ${m.sql(q)}`,
        )
      }
      const insert = `INSERT INTO ${q}.tokens (hash, user_id, session_hash, created_at, expires_at, used_at)
        VALUES ($1, $2, $3, $4, $5, $6)`
      await pool.query(insert, [sha256('legacy'), 'alice', 's', T0, T0 + 60_000, null])
      await pool.query(insert, [sha256('legacy-used'), 'alice', 's', T0, T0 + 60_000, T0 + 5])

      const store = await createPostgresStore({ pool, schema })
      assert.equal(await store.consumeToken(claim(sha256('legacy'), 's', 'chat'), T0 + 1), null)
      assert.deepEqual(await store.consumeToken(claim(sha256('legacy'), 's', 'default'), T0 + 2), {
        userId: 'alice',
        sessionHash: 's',
      })
      assert.equal(await store.consumeToken(claim(sha256('legacy-used'), 's'), T0 + 3), null)
      await store.close()

      const { rows } = await pool.query(
        `SELECT is_nullable, column_default FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = 'tokens' AND column_name = 'app_id'`,
        [schema],
      )
      assert.deepEqual(rows, [{ is_nullable: 'NO', column_default: null }])
      // A new row must name its app: there is no implicit audience.
      await assert.rejects(
        pool.query(
          `INSERT INTO ${q}.tokens (hash, user_id, session_hash, created_at, expires_at) VALUES ($1, 'u', 's', 0, 1)`,
          [sha256('no-app')],
        ),
        (e) => (e as { code?: string }).code === '23502', // not_null_violation
      )
    })

    test('refuses a schema written by a newer version', async () => {
      const schema = fresh()
      await (await createPostgresStore({ pool, schema })).close()
      await pool.query(`INSERT INTO "${schema}".gatehouse_schema VALUES ($1, 0)`, [
        POSTGRES_SCHEMA_VERSION + 1,
      ])
      await assert.rejects(createPostgresStore({ pool, schema }), (e) =>
        isGatehouseError(e, 'ERR_STORE_SCHEMA'),
      )
    })

    test('an unreachable server fails as unavailable', async () => {
      await assert.rejects(
        createPostgresStore({
          connectionString: 'postgres://postgres@127.0.0.1:1/test',
          connectTimeoutMs: 1_000,
        }),
        unavailable,
      )
    })

    test('a locked table fails as unavailable and leaves the token unused', async () => {
      const schema = fresh()
      // Migrated first under the default timeout: on a loaded machine the DDL alone can take
      // longer than the 100 ms this test gives the statements it means to time out.
      await (await createPostgresStore({ connectionString: url, schema })).close()
      const store = await createPostgresStore({
        connectionString: url,
        schema,
        statementTimeoutMs: 100,
      })
      const hash = sha256('locked')
      await store.insertToken({
        hash,
        userId: 'u',
        sessionHash: 's',
        appId: DEFAULTS.appId,
        createdAt: T0,
        expiresAt: T0 + 60_000,
      })
      const locker = await pool.connect()
      try {
        await locker.query('BEGIN')
        await locker.query(
          `LOCK TABLE "${schema}".tokens, "${schema}".sessions IN ACCESS EXCLUSIVE MODE`,
        )
        await assert.rejects(store.consumeToken(claim(hash, 's'), T0 + 1), unavailable)
        await assert.rejects(
          store.createSession({
            connectionId: 'c',
            userId: 'u',
            sessionHash: 's',
            channel: null,
            connectedAt: T0,
          }),
          unavailable,
        )
      } finally {
        await locker.query('ROLLBACK')
        locker.release()
      }
      assert.equal(await store.getSession('c'), null)
      assert.deepEqual(await store.consumeToken(claim(hash, 's'), T0 + 2), {
        userId: 'u',
        sessionHash: 's',
      })
      await store.close()
    })

    test('a guarded createSession locks its token: a revocation waits for it, then lists the session', async () => {
      const schema = fresh()
      const client = await pool.connect()
      const inTx = await createPostgresStore({ pool: client, schema })
      const store = await createPostgresStore({ pool, schema })
      const hash = sha256(`guard-${randomBytes(8).toString('hex')}`)
      await store.insertToken({
        hash,
        userId: 'u',
        sessionHash: 's',
        appId: DEFAULTS.appId,
        createdAt: T0,
        expiresAt: T0 + 60_000,
      })
      assert.notEqual(await store.consumeToken(claim(hash, 's'), T0 + 1), null)
      const row = {
        connectionId: 'c',
        userId: 'u',
        sessionHash: 's',
        channel: null,
        connectedAt: T0,
      }
      let open = false
      try {
        await client.query('BEGIN')
        open = true
        // The insert has run but not committed: a plain snapshot read of the token would let
        // the revocation delete it now and list connections without seeing this session.
        assert.equal(await inTx.createSession(row, { tokenHash: hash }), true)
        let revoked = false
        const revoking = store.revokeTokens({ userId: 'u' }).then(() => {
          revoked = true
          return store.listConnections({ userId: 'u' })
        })
        let waiting = false
        for (let i = 0; i < 500 && !waiting && !revoked; i++) {
          const { rows } = await pool.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE wait_event_type = 'Lock' AND query LIKE $1`,
            [`DELETE FROM "${schema}".tokens%`],
          )
          waiting = Number(rows[0]?.n) > 0
          if (!waiting) await new Promise((resolve) => setTimeout(resolve, 10))
        }
        assert.equal(revoked, false, 'the revocation did not wait for the guarded insert')
        assert.ok(waiting, 'the revocation is waiting on the token row lock')
        await client.query('COMMIT')
        open = false
        assert.deepEqual(await revoking, ['c'])
      } finally {
        if (open) await client.query('ROLLBACK')
        client.release()
        await inTx.close()
        await store.close()
      }
    })

    test('bad options are programmer errors', async () => {
      const invalid = (e: unknown) => isGatehouseError(e, 'ERR_INVALID_OPTION')
      await assert.rejects(createPostgresStore({ pool, schema: 'x"; DROP TABLE y; --' }), invalid)
      await assert.rejects(createPostgresStore({ pool, schema: '' }), invalid)
      // @ts-expect-error neither pool nor connectionString
      await assert.rejects(createPostgresStore({}), invalid)
    })

    test('claims across a moving clock keep the nonces table bounded without cleanup', async () => {
      const schema = fresh()
      const store = await createPostgresStore({ pool, schema })
      // 1 000 claims 10 ms apart, each held 300 ms: about 30 are live at any time.
      const claims = 1_000
      let now = T0
      for (let i = 0; i < claims; i++) {
        now = T0 + i * 10
        assert.equal(await store.claimNonce(`sig:${i}`, now + 300, now), true)
      }
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".nonces`)
      const live = await pool.query(
        `SELECT count(*)::int AS n FROM "${schema}".nonces WHERE expires_at >= $1`,
        [now],
      )
      assert.ok(live.rows[0].n >= 30, 'live claims are kept')
      assert.ok(
        rows[0].n <= 31 + DEFAULTS.nonceSweepEveryClaims,
        `bounded by the live claims plus one sweep interval (${rows[0].n} rows)`,
      )
      // A held key is still refused after sweeps ran.
      assert.equal(await store.claimNonce(`sig:${claims - 1}`, now + 300, now), false)
      await store.close()
    })
  })
}
