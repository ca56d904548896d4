import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, describe, test } from 'node:test'
import { DEFAULTS } from '../../src/defaults.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from '../../src/store/sqlite-schema.ts'
import { runRevocationConformance } from '../conformance/app-revocation.ts'
import { runStoreConformance } from '../conformance/store.ts'
import { claim } from '../support/claim.ts'

const T0 = 1_700_000_000_000
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sqlite-'))
after(() => rmSync(dir, { recursive: true, force: true }))

let files = 0
const freshPath = (): string => join(dir, `db-${++files}`, 'gatehouse.db')
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex')
const unavailable = (e: unknown) => isGatehouseError(e, 'ERR_STORE_UNAVAILABLE')

runStoreConformance('sqlite :memory:', () => openSqliteStore({ path: ':memory:' }))
runStoreConformance('sqlite file (WAL)', () => openSqliteStore({ path: freshPath() }))
runRevocationConformance('sqlite file (WAL)', () => openSqliteStore({ path: freshPath() }))

describe('sqlite store', () => {
  test('a file store keeps its rows across close and reopen', async () => {
    const path = freshPath()
    const hash = sha256('t')
    const first = await openSqliteStore({ path })
    await first.insertToken({
      hash,
      userId: 'alice',
      sessionHash: 's',
      appId: DEFAULTS.appId,
      createdAt: T0,
      expiresAt: T0 + 60_000,
    })
    await first.createSession({
      connectionId: 'c1',
      userId: 'alice',
      sessionHash: 's',
      channel: 'x',
      connectedAt: T0,
    })
    await first.close()

    const second = await openSqliteStore({ path })
    assert.deepEqual(await second.consumeToken(claim(hash, 's'), T0 + 1), {
      userId: 'alice',
      sessionHash: 's',
    })
    assert.equal((await second.getSession('c1'))?.channel, 'x')
    await second.close()

    const third = await openSqliteStore({ path })
    assert.equal(await third.consumeToken(claim(hash, 's'), T0 + 2), null) // the use persisted too
    await third.close()
  })

  test('the database files hold the token hash, never the raw token', async () => {
    const path = freshPath()
    const raw = randomBytes(32).toString('base64url')
    const hash = sha256(raw)
    const store = await openSqliteStore({ path })
    await store.insertToken({
      hash,
      userId: 'alice',
      sessionHash: sha256('sid'),
      appId: DEFAULTS.appId,
      createdAt: T0,
      expiresAt: T0 + 60_000,
    })
    await store.consumeToken(claim(hash, sha256('sid')), T0 + 1)

    const scan = () => {
      const folder = join(path, '..')
      const bytes = Buffer.concat(readdirSync(folder).map((f) => readFileSync(join(folder, f))))
      return { raw: bytes.includes(raw), hash: bytes.includes(hash) }
    }
    assert.deepEqual(scan(), { raw: false, hash: true }) // main file + WAL while open
    await store.close()
    assert.deepEqual(scan(), { raw: false, hash: true }) // after the checkpoint on close
  })

  test('uses WAL and records the schema version', async () => {
    const path = freshPath()
    await (await openSqliteStore({ path })).close()
    await (await openSqliteStore({ path })).close() // reopening applies nothing twice
    const db = new DatabaseSync(path)
    try {
      assert.deepEqual({ ...db.prepare('PRAGMA journal_mode').get() }, { journal_mode: 'wal' })
      const rows = db.prepare('SELECT version FROM gatehouse_schema ORDER BY version').all()
      assert.deepEqual(
        rows.map((r) => r.version),
        Array.from({ length: SQLITE_SCHEMA_VERSION }, (_, i) => i + 1),
      )
    } finally {
      db.close()
    }
  })

  test('a channel listing reads only the covering index of connected sessions', async () => {
    const path = freshPath()
    await (await openSqliteStore({ path })).close()
    const db = new DatabaseSync(path)
    try {
      const plan = db
        .prepare(
          'EXPLAIN QUERY PLAN SELECT connection_id FROM sessions WHERE channel = ? AND connected = 1',
        )
        .all('lobby')
        .map((r) => String(r.detail))
      assert.deepEqual(plan, [
        'SEARCH sessions USING COVERING INDEX sessions_channel_ids (channel=?)',
      ])
    } finally {
      db.close()
    }
  })

  test('version 4 gives tokens written before audiences to the default app, and only to it', async () => {
    const path = freshPath()
    // A file as version 3 left it, holding a token row (and a used one) without an audience.
    await (await openSqliteStore({ path })).close()
    const old = new DatabaseSync(path)
    // Every table a later version adds goes too (version 5: nonces; 6: history).
    old.exec(
      'DROP TABLE tokens; DROP TABLE rate_limits; DROP TABLE sessions; DROP TABLE nonces; DROP TABLE history_streams; DROP TABLE history',
    )
    old.exec('DELETE FROM gatehouse_schema')
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 3)) {
      old.exec(m.sql)
      old
        .prepare('INSERT INTO gatehouse_schema (version, applied_at) VALUES (?, ?)')
        .run(m.version, T0)
    }
    const insert = old.prepare(
      'INSERT INTO tokens (hash, user_id, session_hash, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?)',
    )
    insert.run(sha256('legacy'), 'alice', 's', T0, T0 + 60_000, null)
    insert.run(sha256('legacy-used'), 'alice', 's', T0, T0 + 60_000, T0 + 5)
    old.close()

    const store = await openSqliteStore({ path })
    assert.equal(await store.consumeToken(claim(sha256('legacy'), 's', 'chat'), T0 + 1), null)
    assert.deepEqual(await store.consumeToken(claim(sha256('legacy'), 's', 'default'), T0 + 2), {
      userId: 'alice',
      sessionHash: 's',
    })
    assert.equal(await store.consumeToken(claim(sha256('legacy-used'), 's'), T0 + 3), null)
    await store.close()

    const db = new DatabaseSync(path)
    try {
      const column = db
        .prepare(
          "SELECT \"notnull\" AS required, dflt_value AS fallback FROM pragma_table_info('tokens') WHERE name = 'app_id'",
        )
        .get()
      assert.deepEqual({ ...column }, { required: 1, fallback: null })
      // A new row must name its app: there is no implicit audience.
      assert.throws(() =>
        db
          .prepare(
            'INSERT INTO tokens (hash, user_id, session_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
          )
          .run(sha256('no-app'), 'u', 's', T0, T0 + 1),
      )
      const indexes = db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tokens' AND sql IS NOT NULL ORDER BY name",
        )
        .all()
        .map((r) => r.name)
      assert.deepEqual(indexes, ['tokens_created', 'tokens_session', 'tokens_user'])
    } finally {
      db.close()
    }
  })

  test('refuses a database written by a newer schema version', async () => {
    const path = freshPath()
    await (await openSqliteStore({ path })).close()
    const db = new DatabaseSync(path)
    db.prepare('INSERT INTO gatehouse_schema (version, applied_at) VALUES (?, ?)').run(
      SQLITE_SCHEMA_VERSION + 1,
      T0,
    )
    db.close()
    await assert.rejects(openSqliteStore({ path }), (e) => isGatehouseError(e, 'ERR_STORE_SCHEMA'))
  })

  test('a locked database fails as unavailable and leaves the token unused', async () => {
    const path = freshPath()
    const store = await openSqliteStore({ path, busyTimeoutMs: 50 })
    const hash = sha256('locked')
    await store.insertToken({
      hash,
      userId: 'alice',
      sessionHash: 's',
      appId: DEFAULTS.appId,
      createdAt: T0,
      expiresAt: T0 + 60_000,
    })

    const other = new DatabaseSync(path)
    other.exec('BEGIN EXCLUSIVE')
    try {
      await assert.rejects(store.consumeToken(claim(hash, 's'), T0 + 1), unavailable)
      await assert.rejects(store.hit([{ key: 'k', limit: 5, windowMs: 1000 }], T0), unavailable)
      await assert.rejects(
        store.hit(
          [
            { key: 'k1', limit: 5, windowMs: 1000 },
            { key: 'k2', limit: 5, windowMs: 1000 },
          ],
          T0,
        ),
        unavailable,
      )
      await assert.rejects(
        store.createSession({
          connectionId: 'c',
          userId: 'alice',
          sessionHash: 's',
          channel: null,
          connectedAt: T0,
        }),
        unavailable,
      )
    } finally {
      other.exec('ROLLBACK')
      other.close()
    }
    // After the lock is gone: the token was not half-consumed and no session row was written.
    assert.equal(await store.getSession('c'), null)
    assert.deepEqual(await store.consumeToken(claim(hash, 's'), T0 + 2), {
      userId: 'alice',
      sessionHash: 's',
    })
    assert.equal((await store.hit([{ key: 'k1', limit: 1, windowMs: 1000 }], T0)).allowed, true)
    await store.close()
  })

  test('calls after close() fail as unavailable; close is idempotent', async () => {
    const store = await openSqliteStore({ path: ':memory:' })
    await store.close()
    await store.close()
    await assert.rejects(store.consumeToken(claim('h', 's'), T0), unavailable)
    await assert.rejects(store.hit([{ key: 'k', limit: 1, windowMs: 1000 }], T0), unavailable)
    await assert.rejects(store.listConnections({ all: true }), unavailable)
  })

  test('bad options are programmer errors', async () => {
    const invalid = (e: unknown) => isGatehouseError(e, 'ERR_INVALID_OPTION')
    await assert.rejects(openSqliteStore({ path: '' }), invalid)
    await assert.rejects(openSqliteStore({ path: ':memory:', busyTimeoutMs: -1 }), invalid)
    await assert.rejects(openSqliteStore({ path: ':memory:', busyTimeoutMs: 1.5 }), invalid)
  })

  test('an unopenable path fails as unavailable', async () => {
    const blocker = join(dir, 'not-a-dir')
    const store = await openSqliteStore({ path: blocker }) // a file where a folder is needed
    await store.close()
    await assert.rejects(openSqliteStore({ path: join(blocker, 'x.db') }), unavailable)
  })

  test('claims across a moving clock keep the nonces table bounded without cleanup', async () => {
    const path = freshPath()
    const store = await openSqliteStore({ path })
    // 1 000 claims 10 ms apart, each held 300 ms: about 30 are live at any time.
    const claims = 1_000
    let now = T0
    for (let i = 0; i < claims; i++) {
      now = T0 + i * 10
      assert.equal(await store.claimNonce(`sig:${i}`, now + 300, now), true)
    }
    await store.close()
    const db = new DatabaseSync(path)
    const count = (sql: string, ...args: number[]) =>
      Number((db.prepare(sql).get(...args) as { n: number }).n)
    const rows = count('SELECT count(*) AS n FROM nonces')
    const live = count('SELECT count(*) AS n FROM nonces WHERE expires_at >= ?', now)
    db.close()
    assert.ok(live >= 30, 'live claims are kept')
    assert.ok(
      rows <= 31 + DEFAULTS.nonceSweepEveryClaims,
      `bounded by the live claims plus one sweep interval (${rows} rows)`,
    )
  })
})
