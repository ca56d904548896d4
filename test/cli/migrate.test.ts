/**
 * `gatehouse migrate` (spawned) on an SQLite file and a PostgreSQL schema: `--status`,
 * `--dry-run` (whose SQL, run by hand, gives a schema the code accepts) and apply; and
 * `migrate: false` stores under a PostgreSQL role that has only DML rights.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, describe, test } from 'node:test'
import { MIGRATE_STATUS_PENDING, runMigrate } from '../../src/cli/migrate.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { createPostgresStore } from '../../src/store/postgres.ts'
import { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from '../../src/store/postgres-schema.ts'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from '../../src/store/sqlite-schema.ts'
import { asUser, connectPostgres, gatehouse } from '../support/backends.ts'

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const required = (e: unknown) => isGatehouseError(e, 'ERR_STORE_MIGRATION_REQUIRED')
const allSqlite = SQLITE_MIGRATIONS.map((m) => m.version).join(', ')
const allPg = POSTGRES_MIGRATIONS.map((m) => m.version).join(', ')

// The command in process (the same code the executable runs), where a spawn adds nothing.
async function inProcess(args: readonly string[], env: Record<string, string> = {}) {
  let stdout = ''
  let stderr = ''
  const io = {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env,
  }
  const code = await runMigrate(args.slice(1), io)
  return { code, stdout, stderr }
}

describe('gatehouse migrate on SQLite (spawned)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-migrate-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('--status and --dry-run on a missing file change nothing; the dry-run SQL is the schema', async () => {
    const path = join(dir, 'absent.db')
    const status = await gatehouse(['migrate', `--store=${path}`, '--status'])
    assert.equal(status.code, MIGRATE_STATUS_PENDING, status.stderr)
    assert.match(
      status.stdout,
      new RegExp(`version 0, this Gatehouse needs ${SQLITE_SCHEMA_VERSION}; pending: ${allSqlite}`),
    )
    const dry = await gatehouse(['migrate', `--store=${path}`, '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.match(dry.stdout, /CREATE TABLE tokens/)
    assert.equal(existsSync(path), false)

    // The printed SQL, run by hand, gives a file a `migrate: false` store accepts.
    const byHand = join(dir, 'by-hand.db')
    const db = new DatabaseSync(byHand)
    db.exec(dry.stdout)
    db.close()
    const store = await openSqliteStore({ path: byHand, migrate: false })
    await store.insertToken({
      hash: sha256('t'),
      userId: 'u',
      sessionHash: 's',
      appId: 'a',
      createdAt: 1,
      expiresAt: 2,
    })
    await store.close()
  })

  test('apply migrates once; --status is then 0; a second apply does nothing', async () => {
    const path = join(dir, 'app.db')
    const r = await gatehouse(['migrate', `--store=${path}`])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`migrated from version 0 to ${SQLITE_SCHEMA_VERSION}`))
    const status = await gatehouse(['migrate', `--store=${path}`, '--status'])
    assert.equal(status.code, 0)
    assert.match(status.stdout, /up to date/)
    const again = await inProcess(['migrate'], { GATEHOUSE_STORE: path })
    assert.match(again.stdout, /already at version/)
    const dry = await inProcess(['migrate', `--store=${path}`, '--dry-run'])
    assert.equal(dry.code, 0)
    assert.equal(dry.stdout, '')
    const store = await openSqliteStore({ path, migrate: false })
    await store.close()
  })

  test('migrate: false refuses a file without the schema, an older one and a newer one', async () => {
    const empty = join(dir, 'empty.db')
    new DatabaseSync(empty).close()
    await assert.rejects(openSqliteStore({ path: empty, migrate: false }), required)

    // A file stopped at version 2, as an older Gatehouse left it.
    const old = join(dir, 'old.db')
    const db = new DatabaseSync(old)
    db.exec(
      'CREATE TABLE gatehouse_schema (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)',
    )
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 2)) {
      db.exec(m.sql)
      db.prepare('INSERT INTO gatehouse_schema VALUES (?, 0)').run(m.version)
    }
    db.close()
    await assert.rejects(openSqliteStore({ path: old, migrate: false }), (e) => {
      return required(e) && /version 2/.test((e as Error).message)
    })
    const status = await inProcess(['migrate', `--store=${old}`, '--status'])
    assert.equal(status.code, MIGRATE_STATUS_PENDING)
    assert.match(status.stdout, /version 2, .*pending: 3, 4/)
    const dry = await inProcess(['migrate', `--store=${old}`, '--dry-run'])
    assert.doesNotMatch(dry.stdout, /-- version [12]\n/)
    assert.match(dry.stdout, /-- version 3\n/)
    assert.equal((await inProcess(['migrate', `--store=${old}`])).code, 0)
    await (await openSqliteStore({ path: old, migrate: false })).close()

    const newer = join(dir, 'newer.db')
    await (await openSqliteStore({ path: newer })).close()
    const n = new DatabaseSync(newer)
    n.prepare('INSERT INTO gatehouse_schema VALUES (?, 0)').run(SQLITE_SCHEMA_VERSION + 1)
    n.close()
    await assert.rejects(openSqliteStore({ path: newer, migrate: false }), (e) =>
      isGatehouseError(e, 'ERR_STORE_SCHEMA'),
    )
    const refused = await inProcess(['migrate', `--store=${newer}`])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /ERR_STORE_SCHEMA/)
  })

  test('usage: --status with --dry-run, --schema on SQLite, a bad schema name; Redis has nothing to migrate', async () => {
    for (const args of [
      ['--status', '--dry-run'],
      ['--store=x.db', '--schema=s'],
      ['--store=postgres://h/d', '--schema=bad-name'],
      ['--nope'],
    ]) {
      assert.equal((await inProcess(['migrate', ...args])).code, 2, args.join(' '))
    }
    const redis = await inProcess(['migrate', '--store=redis://127.0.0.1:6379'])
    assert.equal(redis.code, 0)
    assert.match(redis.stdout, /nothing to migrate/)
  })
})

const pg = await connectPostgres()
describe('gatehouse migrate on PostgreSQL (spawned) and a DML-only role', {
  skip: pg === null,
}, () => {
  const tag = `${process.pid}_${randomBytes(3).toString('hex')}`
  const schemas: string[] = []
  const fresh = () => {
    const name = `gh_mig_${tag}_${schemas.length + 1}`
    schemas.push(name)
    return name
  }
  const role = `gh_dml_${tag}`
  after(async () => {
    if (pg === null) return
    // Only this test's own connections and objects.
    await pg.pool.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1',
      [role],
    )
    for (const s of schemas) await pg.pool.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`)
    const exists = await pg.pool.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])
    if (exists.rowCount) {
      await pg.pool.query(`DROP OWNED BY ${role}`)
      await pg.pool.query(`DROP ROLE ${role}`)
    }
    await pg.pool.end()
  })

  test('--status, --dry-run (its SQL gives an accepted schema) and apply', async () => {
    const { url, pool } = pg!
    const a = fresh()
    const status = await gatehouse(['migrate', `--store=${url}`, `--schema=${a}`, '--status'])
    assert.equal(status.code, MIGRATE_STATUS_PENDING, status.stderr)
    assert.match(
      status.stdout,
      new RegExp(
        `schema ${a}: version 0, this Gatehouse needs ${POSTGRES_SCHEMA_VERSION}; pending: ${allPg}`,
      ),
    )
    const dry = await gatehouse(['migrate', `--store=${url}`, `--schema=${a}`, '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.match(dry.stdout, new RegExp(`CREATE TABLE "${a}".tokens`))
    const ns = await pool.query('SELECT to_regnamespace($1) AS ns', [a])
    assert.equal(ns.rows[0]?.ns, null, 'a dry run created the schema')
    await pool.query(dry.stdout)
    await (await createPostgresStore({ pool, schema: a, migrate: false })).close()

    const b = fresh()
    const applied = await gatehouse(['migrate', `--store=${url}`, `--schema=${b}`])
    assert.equal(applied.code, 0, applied.stderr)
    assert.match(
      applied.stdout,
      new RegExp(`migrated from version 0 to ${POSTGRES_SCHEMA_VERSION}`),
    )
    const now = await inProcess(['migrate', `--store=${url}`, `--schema=${b}`, '--status'])
    assert.equal(now.code, 0)
    assert.match(now.stdout, /up to date/)
    const again = await inProcess(['migrate', `--store=${url}`, `--schema=${b}`])
    assert.match(again.stdout, /already at version/)
  })

  test('a role with only DML rights runs the store with migrate: false, and nothing else', async () => {
    const { url, pool } = pg!
    const s = fresh()
    const missing = fresh()
    assert.equal((await inProcess(['migrate', `--store=${url}`, `--schema=${s}`])).code, 0)
    await pool.query(`CREATE ROLE ${role} LOGIN`)
    await pool.query(`GRANT USAGE ON SCHEMA ${s} TO ${role}`)
    await pool.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${role}`)
    const dml = asUser(url, role)

    // Migrating on open needs DDL rights the role lacks.
    await assert.rejects(
      createPostgresStore({ connectionString: dml, schema: s, maxConnections: 1 }),
      (e) => isGatehouseError(e, 'ERR_STORE_UNAVAILABLE'),
    )
    // A schema nobody migrated is refused with the code that says what to do.
    await assert.rejects(
      createPostgresStore({
        connectionString: dml,
        schema: missing,
        migrate: false,
        maxConnections: 1,
      }),
      required,
    )

    const store = await createPostgresStore({
      connectionString: dml,
      schema: s,
      migrate: false,
      maxConnections: 2,
    })
    try {
      const hash = sha256(`dml-${tag}`)
      const now = Date.now()
      await store.insertToken({
        hash,
        userId: 'alice',
        sessionHash: 'sh',
        appId: 'app',
        createdAt: now,
        expiresAt: now + 60_000,
      })
      const owner = await store.openSession(
        { hash, sessionHash: 'sh', appId: 'app', userId: 'alice' },
        {
          connectionId: 'c1',
          userId: 'alice',
          sessionHash: 'sh',
          channel: 'lobby',
          connectedAt: now,
        },
        now,
      )
      assert.equal(owner?.userId, 'alice')
      assert.equal((await store.hit([{ key: 'k', limit: 5, windowMs: 60_000 }], now)).allowed, true)
      assert.deepEqual((await store.channelPresence('lobby')).members, [
        { userId: 'alice', connections: 1 },
      ])
      assert.equal(await store.markDisconnected(['c1'], now + 1), 1)
      await store.cleanup({
        tokensCreatedBefore: now + 1,
        rateLimitsBefore: 0,
        sessionsDisconnectedBefore: now + 2,
        noncesExpiredBefore: now,
      })
      assert.equal(await store.getSession('c1'), null)
    } finally {
      await store.close()
    }
    // The role can clean up but not migrate.
    const clean = await gatehouse(['cleanup', `--store=${dml}`, `--schema=${s}`])
    assert.equal(clean.code, 0, clean.stderr)
    const refused = await gatehouse(['migrate', `--store=${dml}`, `--schema=${missing}`])
    assert.equal(refused.code, 1)
  })
})
