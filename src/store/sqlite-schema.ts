/**
 * @module store/sqlite-schema
 * The SQLite schema as numbered migrations, and the runner that applies them once per
 * database file. Applied versions are recorded in `gatehouse_schema`; a file written by a
 * newer Gatehouse (a version we do not know) is refused rather than guessed at.
 */
import type { DatabaseSync } from 'node:sqlite'
import { GatehouseError } from '../errors.ts'
import { assertVersion, printableSql, type SchemaStatus, statusOf } from './schema-version.ts'

/** One schema step: applied in a transaction, recorded with its version. */
export interface SqliteMigration {
  readonly version: number
  readonly sql: string
}

/**
 * Every migration, oldest first. Append only: a released step never changes.
 *
 * @example
 * ```ts
 * const latest = SQLITE_MIGRATIONS.at(-1)!.version
 * ```
 */
export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        session_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX tokens_unused_user ON tokens (user_id) WHERE used_at IS NULL;
      CREATE INDEX tokens_unused_session ON tokens (session_hash) WHERE used_at IS NULL;
      CREATE INDEX tokens_created ON tokens (created_at);

      -- One row per key: the current bucket and the count of the one before it.
      CREATE TABLE rate_limits (
        key TEXT PRIMARY KEY,
        window_ms INTEGER NOT NULL,
        window_start INTEGER NOT NULL,
        count INTEGER NOT NULL,
        prev_count INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX rate_limits_expiry ON rate_limits (window_start + 2 * window_ms);

      CREATE TABLE sessions (
        connection_id TEXT PRIMARY KEY,
        user_id TEXT,
        session_hash TEXT,
        channel TEXT,
        connected INTEGER NOT NULL,
        request_count INTEGER NOT NULL,
        connected_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        disconnected_at INTEGER
      );
      -- Partial indexes: pushes and revocations only ever look for connected rows.
      CREATE INDEX sessions_channel ON sessions (channel) WHERE connected = 1;
      CREATE INDEX sessions_user ON sessions (user_id) WHERE connected = 1;
      CREATE INDEX sessions_session_hash ON sessions (session_hash) WHERE connected = 1;
      CREATE INDEX sessions_disconnected ON sessions (disconnected_at) WHERE connected = 0;
    `,
  },
  {
    // Revocation deletes used tokens too (so a $connect in flight cannot write its session),
    // so its lookups by user and by session need indexes over every row, not just unused ones.
    version: 2,
    sql: `
      DROP INDEX tokens_unused_user;
      DROP INDEX tokens_unused_session;
      CREATE INDEX tokens_user ON tokens (user_id);
      CREATE INDEX tokens_session ON tokens (session_hash);
    `,
  },
  {
    // Fan-out lists a channel's connected ids; with the id in the index the listing never
    // reads the table (a covering index). The narrower index it replaces is then redundant.
    version: 3,
    sql: `
      CREATE INDEX sessions_channel_ids ON sessions (channel, connection_id) WHERE connected = 1;
      DROP INDEX sessions_channel;
    `,
  },
  {
    // Tokens record their audience, the id of the app that issued them. The table is rebuilt
    // because SQLite cannot drop a column default: new rows must name their app (an insert
    // that forgets it fails), while rows written before this step belong to the default app,
    // 'default' (fixed here, whatever DEFAULTS.appId later says), so an app with another id
    // never accepts them, and no row matches every app.
    version: 4,
    sql: `
      CREATE TABLE tokens_v4 (
        hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        session_hash TEXT NOT NULL,
        app_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER
      ) WITHOUT ROWID;
      INSERT INTO tokens_v4 (hash, user_id, session_hash, app_id, created_at, expires_at, used_at)
        SELECT hash, user_id, session_hash, 'default', created_at, expires_at, used_at FROM tokens;
      DROP TABLE tokens;
      ALTER TABLE tokens_v4 RENAME TO tokens;
      CREATE INDEX tokens_user ON tokens (user_id);
      CREATE INDEX tokens_session ON tokens (session_hash);
      CREATE INDEX tokens_created ON tokens (created_at);
    `,
  },
  {
    // One-time keys (Store.claimNonce): signed gateway calls already seen, so a replay to
    // another process sharing this file is refused. Expired rows go at cleanup.
    version: 5,
    sql: `
      CREATE TABLE nonces (
        key TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX nonces_expiry ON nonces (expires_at);
    `,
  },
  {
    // Channel history (Store.appendHistory): a stream per channel with its epoch and last
    // offset, and the retained messages by (channel, offset), trimmed at each append.
    version: 6,
    sql: `
      CREATE TABLE history_streams (
        channel TEXT PRIMARY KEY,
        epoch TEXT NOT NULL,
        last_seq INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE history (
        channel TEXT NOT NULL,
        seq INTEGER NOT NULL,
        message TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (channel, seq)
      ) WITHOUT ROWID;
    `,
  },
]

/**
 * The schema version this code reads and writes.
 *
 * @example
 * ```ts
 * migrateSqlite(db, Date.now()) === SQLITE_SCHEMA_VERSION // true
 * ```
 */
export const SQLITE_SCHEMA_VERSION: number = SQLITE_MIGRATIONS.at(-1)!.version

/**
 * Bring `db` to {@link SQLITE_SCHEMA_VERSION}. Safe when several processes open the same
 * file at once: the check is repeated under `BEGIN IMMEDIATE` (the write lock). Throws
 * `ERR_STORE_SCHEMA` when the file is newer than this code.
 *
 * @example
 * ```ts
 * const db = new DatabaseSync('.data/gatehouse.db')
 * migrateSqlite(db, Date.now()) // 5
 * ```
 */
export function migrateSqlite(db: DatabaseSync, now: number): number {
  db.exec(
    'CREATE TABLE IF NOT EXISTS gatehouse_schema (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)',
  )
  const current = readVersion(db)
  refuseNewer(current)
  if (current === SQLITE_SCHEMA_VERSION) return current

  db.exec('BEGIN IMMEDIATE')
  try {
    const locked = readVersion(db)
    refuseNewer(locked)
    const record = db.prepare('INSERT INTO gatehouse_schema (version, applied_at) VALUES (?, ?)')
    for (const m of SQLITE_MIGRATIONS) {
      if (m.version <= locked) continue
      db.exec(m.sql)
      record.run(m.version, now)
    }
    db.exec('COMMIT')
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK')
    throw err
  }
  return SQLITE_SCHEMA_VERSION
}

/**
 * Where the file's schema stands, without changing it (a file without the version table is
 * at version 0).
 *
 * @example
 * ```ts
 * sqliteSchemaStatus(new DatabaseSync('.data/gatehouse.db')) // { version: 4, latest: 4, pending: [] }
 * ```
 */
export function sqliteSchemaStatus(db: DatabaseSync): SchemaStatus {
  const table = db
    .prepare(
      "SELECT 1 AS present FROM sqlite_master WHERE type = 'table' AND name = 'gatehouse_schema'",
    )
    .get()
  const version = table === undefined ? 0 : readVersion(db)
  return statusOf(version, SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION)
}

/**
 * The SQL `gatehouse migrate --dry-run` prints for a file at `fromVersion`: the version
 * table, then each pending step with the row that records it, in one transaction (what
 * {@link migrateSqlite} runs).
 *
 * @example
 * ```ts
 * console.log(sqliteMigrationSql(0, Date.now()))
 * ```
 */
export function sqliteMigrationSql(fromVersion: number, now: number): string {
  const steps = SQLITE_MIGRATIONS.filter((m) => m.version > fromVersion)
  const parts = [
    'CREATE TABLE IF NOT EXISTS gatehouse_schema (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);',
    'BEGIN IMMEDIATE;',
    ...steps.map(
      (m) =>
        `-- version ${m.version}\n${printableSql(m.sql)}\nINSERT INTO gatehouse_schema (version, applied_at) VALUES (${m.version}, ${Math.trunc(now)});`,
    ),
    'COMMIT;',
  ]
  return `${parts.join('\n')}\n`
}

/**
 * Refuse a file this code cannot run on, without changing it (`migrate: false`):
 * `ERR_STORE_MIGRATION_REQUIRED` when its schema is missing or older, `ERR_STORE_SCHEMA`
 * when newer.
 *
 * @example
 * ```ts
 * assertSqliteSchema(db, '.data/gatehouse.db')
 * ```
 */
export function assertSqliteSchema(db: DatabaseSync, label: string): void {
  const { version, latest } = sqliteSchemaStatus(db)
  assertVersion(`SQLite file ${label}`, version, latest)
}

function readVersion(db: DatabaseSync): number {
  const row = db.prepare('SELECT max(version) AS v FROM gatehouse_schema').get() as
    | { v: number | null }
    | undefined
  return row?.v ?? 0
}

function refuseNewer(version: number): void {
  if (version > SQLITE_SCHEMA_VERSION) {
    throw new GatehouseError(
      'ERR_STORE_SCHEMA',
      `SQLite schema version ${version} is newer than this Gatehouse supports (${SQLITE_SCHEMA_VERSION}); upgrade Gatehouse or use another database file`,
    )
  }
}
