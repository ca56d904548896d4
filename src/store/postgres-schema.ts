/**
 * @module store/postgres-schema
 * The PostgreSQL schema as numbered migrations inside one PostgreSQL schema (namespace) of
 * the caller's choosing, and the runner. Every step runs as one multi-statement query, which
 * PostgreSQL executes as a single transaction, so it needs nothing but `query(text)` from
 * the pool: no dedicated client, no explicit BEGIN.
 */
import { GatehouseError } from '../errors.ts'
import { assertVersion, printableSql, type SchemaStatus, statusOf } from './schema-version.ts'

export type { SchemaStatus } from './schema-version.ts'

/**
 * The least a pool must offer: pg's `Pool`, `Client` and `PoolClient` all fit.
 *
 * @example
 * ```ts
 * const db: PgQueryable = new pg.Pool({ connectionString })
 * ```
 */
export interface PgQueryable {
  query(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>
}

/** One schema step; `sql` receives the quoted schema name. */
export interface PgMigration {
  readonly version: number
  readonly sql: (schema: string) => string
}

/**
 * Every migration, oldest first. Append only: a released step never changes.
 *
 * @example
 * ```ts
 * const latest = POSTGRES_MIGRATIONS.at(-1)!.version
 * ```
 */
export const POSTGRES_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: (s) => `
      CREATE TABLE ${s}.tokens (
        hash text PRIMARY KEY,
        user_id text NOT NULL,
        session_hash text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        used_at bigint
      );
      CREATE INDEX tokens_unused_user ON ${s}.tokens (user_id) WHERE used_at IS NULL;
      CREATE INDEX tokens_unused_session ON ${s}.tokens (session_hash) WHERE used_at IS NULL;
      CREATE INDEX tokens_created ON ${s}.tokens (created_at);

      CREATE TABLE ${s}.rate_limits (
        key text PRIMARY KEY,
        window_ms bigint NOT NULL,
        window_start bigint NOT NULL,
        count bigint NOT NULL,
        prev_count bigint NOT NULL
      );
      CREATE INDEX rate_limits_expiry ON ${s}.rate_limits ((window_start + 2 * window_ms));

      CREATE TABLE ${s}.sessions (
        connection_id text PRIMARY KEY,
        user_id text,
        session_hash text,
        channel text,
        connected boolean NOT NULL,
        request_count bigint NOT NULL,
        connected_at bigint NOT NULL,
        last_seen_at bigint NOT NULL,
        disconnected_at bigint
      );
      CREATE INDEX sessions_channel ON ${s}.sessions (channel) WHERE connected;
      CREATE INDEX sessions_user ON ${s}.sessions (user_id) WHERE connected;
      CREATE INDEX sessions_session_hash ON ${s}.sessions (session_hash) WHERE connected;
      CREATE INDEX sessions_disconnected ON ${s}.sessions (disconnected_at) WHERE NOT connected;
    `,
  },
  {
    // Revocation deletes used tokens too (so a $connect in flight cannot write its session),
    // so its lookups by user and by session need indexes over every row, not just unused ones.
    version: 2,
    sql: (s) => `
      DROP INDEX ${s}.tokens_unused_user;
      DROP INDEX ${s}.tokens_unused_session;
      CREATE INDEX tokens_user ON ${s}.tokens (user_id);
      CREATE INDEX tokens_session ON ${s}.tokens (session_hash);
    `,
  },
  {
    // Fan-out lists a channel's connected ids; with the id in the index the listing can be an
    // index-only scan. The narrower index it replaces is then redundant.
    version: 3,
    sql: (s) => `
      CREATE INDEX sessions_channel_ids ON ${s}.sessions (channel, connection_id) WHERE connected;
      DROP INDEX ${s}.sessions_channel;
    `,
  },
  {
    // Tokens record their audience, the id of the app that issued them. Rows written before
    // this step belong to the default app, 'default' (fixed here, whatever DEFAULTS.appId
    // later says), so an app with another id never accepts them and no row matches every
    // app. The default then goes: new rows must name their app (an insert that forgets it
    // fails). Existing rows keep the value they were given.
    version: 4,
    sql: (s) => `
      ALTER TABLE ${s}.tokens ADD COLUMN app_id text NOT NULL DEFAULT 'default';
      ALTER TABLE ${s}.tokens ALTER COLUMN app_id DROP DEFAULT;
    `,
  },
  {
    // One-time keys (Store.claimNonce): signed gateway calls already seen by any app process,
    // so a replay to another process is refused. Expired rows go at cleanup.
    version: 5,
    sql: (s) => `
      CREATE TABLE ${s}.nonces (
        key text PRIMARY KEY,
        expires_at bigint NOT NULL
      );
      CREATE INDEX nonces_expiry ON ${s}.nonces (expires_at);
    `,
  },
  {
    // Channel history (Store.appendHistory): a stream per channel with its epoch and last
    // offset, and the retained messages by (channel, offset), trimmed at each append.
    version: 6,
    sql: (s) => `
      CREATE TABLE ${s}.history_streams (
        channel text PRIMARY KEY,
        epoch text NOT NULL,
        last_seq bigint NOT NULL
      );
      CREATE TABLE ${s}.history (
        channel text NOT NULL,
        seq bigint NOT NULL,
        message text NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (channel, seq)
      );
    `,
  },
]

/**
 * The schema version this code reads and writes.
 *
 * @example
 * ```ts
 * (await migratePostgres(pool, 'gatehouse', Date.now())) === POSTGRES_SCHEMA_VERSION // true
 * ```
 */
export const POSTGRES_SCHEMA_VERSION: number = POSTGRES_MIGRATIONS.at(-1)!.version

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/

/**
 * Validate and double-quote a schema name. Identifiers cannot be bound as parameters, so
 * only a strict pattern ever reaches SQL text.
 *
 * @example
 * ```ts
 * quoteSchema('gatehouse') // '"gatehouse"'
 * ```
 */
export function quoteSchema(name: string): string {
  if (typeof name !== 'string' || !SCHEMA_NAME.test(name)) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      'postgres store: schema must match /^[A-Za-z_][A-Za-z0-9_]{0,47}$/',
    )
  }
  return `"${name}"`
}

/**
 * Read the schema's version without changing anything: needs no DDL rights, only `USAGE` on
 * the schema and `SELECT` on its `gatehouse_schema` table (or nothing at all when the
 * schema does not exist yet).
 *
 * @example
 * ```ts
 * await postgresSchemaStatus(pool, 'gatehouse') // { version: 4, latest: 4, pending: [] }
 * ```
 */
export async function postgresSchemaStatus(db: PgQueryable, schema: string): Promise<SchemaStatus> {
  const s = quoteSchema(schema)
  // to_regclass is NULL for a missing schema or table instead of an error.
  const { rows } = await db.query('SELECT to_regclass($1) IS NOT NULL AS present', [
    `${s}.gatehouse_schema`,
  ])
  let version = 0
  if (rows[0]?.present === true) {
    const res = await db.query(
      `SELECT coalesce(max(version), 0)::int AS v FROM ${s}.gatehouse_schema`,
    )
    version = Number(res.rows[0]?.v ?? 0)
  }
  return statusOf(version, POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION)
}

/**
 * The SQL `gatehouse migrate` would run to bring a schema from `fromVersion` to
 * {@link POSTGRES_SCHEMA_VERSION}, as one script (what `--dry-run` prints): the schema and
 * version table, then each pending step with the row that records it. `now` is the
 * `applied_at` recorded.
 *
 * @example
 * ```ts
 * console.log(postgresMigrationSql('gatehouse', 0, Date.now()))
 * ```
 */
export function postgresMigrationSql(schema: string, fromVersion: number, now: number): string {
  const s = quoteSchema(schema)
  const steps = POSTGRES_MIGRATIONS.filter((m) => m.version > fromVersion)
  const parts = [
    `CREATE SCHEMA IF NOT EXISTS ${s};`,
    `CREATE TABLE IF NOT EXISTS ${s}.gatehouse_schema (version integer PRIMARY KEY, applied_at bigint NOT NULL);`,
    ...steps.map(
      (m) =>
        `-- version ${m.version}\nBEGIN;\nINSERT INTO ${s}.gatehouse_schema (version, applied_at) VALUES (${m.version}, ${Math.trunc(now)});\n${printableSql(m.sql(s))}\nCOMMIT;`,
    ),
  ]
  return `${parts.join('\n')}\n`
}

/**
 * Refuse a schema this code cannot run on, without changing it (for stores opened with
 * `migrate: false`): `ERR_STORE_MIGRATION_REQUIRED` when it is missing or older than
 * {@link POSTGRES_SCHEMA_VERSION}, `ERR_STORE_SCHEMA` when newer.
 *
 * @example
 * ```ts
 * await assertPostgresSchema(pool, 'gatehouse') // throws unless `gatehouse migrate` has run
 * ```
 */
export async function assertPostgresSchema(db: PgQueryable, schema: string): Promise<void> {
  const { version, latest } = await postgresSchemaStatus(db, schema)
  assertVersion(`PostgreSQL schema ${schema}`, version, latest)
}

/**
 * Bring the schema to {@link POSTGRES_SCHEMA_VERSION}. Concurrent openers serialise on a
 * transaction-scoped advisory lock; each step records its version first, so a step another
 * process already applied fails on the primary key and rolls back whole, and we re-read.
 * Throws `ERR_STORE_SCHEMA` when the database is newer than this code.
 *
 * @example
 * ```ts
 * await migratePostgres(pool, 'gatehouse', Date.now())
 * ```
 */
export async function migratePostgres(
  db: PgQueryable,
  schema: string,
  now: number,
): Promise<number> {
  const s = quoteSchema(schema)
  const lock = `SELECT pg_advisory_xact_lock(1196573813, hashtext('${schema}'))`
  await db.query(`${lock};
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE IF NOT EXISTS ${s}.gatehouse_schema (
      version integer PRIMARY KEY,
      applied_at bigint NOT NULL
    )`)
  // Bounded: each pass applies one step or learns that another process did.
  for (let pass = 0; pass <= POSTGRES_MIGRATIONS.length + 1; pass++) {
    const { rows } = await db.query(
      `SELECT coalesce(max(version), 0)::int AS v FROM ${s}.gatehouse_schema`,
    )
    const current = Number(rows[0]?.v ?? 0)
    if (current > POSTGRES_SCHEMA_VERSION) {
      throw new GatehouseError(
        'ERR_STORE_SCHEMA',
        `PostgreSQL schema ${schema} is at version ${current}, newer than this Gatehouse supports (${POSTGRES_SCHEMA_VERSION}); upgrade Gatehouse or use another schema`,
      )
    }
    const next = POSTGRES_MIGRATIONS.find((m) => m.version > current)
    if (next === undefined) return current
    try {
      await db.query(`${lock};
        INSERT INTO ${s}.gatehouse_schema (version, applied_at) VALUES (${next.version}, ${Math.trunc(now)});
        ${next.sql(s)}`)
    } catch (err) {
      if ((err as { code?: unknown })?.code !== '23505') throw err // unique_violation: raced
    }
  }
  throw new GatehouseError(
    'ERR_STORE_SCHEMA',
    `PostgreSQL schema ${schema}: migration did not settle`,
  )
}
