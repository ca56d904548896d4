/**
 * @module cli/migrate
 * `gatehouse migrate`: bring the PostgreSQL schema (or the SQLite file) to the version this
 * Gatehouse needs, show where it stands (`--status`), or print the SQL it would run
 * (`--dry-run`). Run it at deploy time with a role that owns the schema, and open the app's
 * store with `migrate: false` under a role that only reads and writes rows.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import type { Pool } from 'pg'
import { GatehouseError, isGatehouseError } from '../errors.ts'
import {
  migratePostgres,
  postgresMigrationSql,
  postgresSchemaStatus,
  quoteSchema,
} from '../store/postgres-schema.ts'
import type { SchemaStatus } from '../store/schema-version.ts'
import { statusOf } from '../store/schema-version.ts'
import {
  migrateSqlite,
  SQLITE_MIGRATIONS,
  SQLITE_SCHEMA_VERSION,
  sqliteMigrationSql,
  sqliteSchemaStatus,
} from '../store/sqlite-schema.ts'
import { importOptional } from '../util/optional.ts'
import { parseCommand } from './args.ts'
import { DEFAULT_DB_PATH } from './cleanup.ts'
import type { CliIo } from './io.ts'
import { describeTarget, parseStoreTarget, redactIn, type StoreTarget } from './store-target.ts'

/**
 * Exit status of `gatehouse migrate --status` when migrations are pending (or the schema is
 * newer than this Gatehouse), so a deploy script can tell "up to date" (0) from "run
 * migrate" without parsing the output.
 *
 * @example
 * ```ts
 * if ((await runMigrate(['--status'], io)) === MIGRATE_STATUS_PENDING) await runMigrate([], io)
 * ```
 */
export const MIGRATE_STATUS_PENDING = 3

const USAGE = `Usage: gatehouse migrate [options]

Bring the Gatehouse schema of a PostgreSQL database or an SQLite file to the version this
Gatehouse needs. Run it with a role allowed to change the schema; the app can then open its
store with \`migrate: false\` under a role that only reads and writes rows.

Options:
  --store=<path|url>  postgres://… or an SQLite file (default: $GATEHOUSE_STORE,
                      $GATEHOUSE_DB or ${DEFAULT_DB_PATH})
  --schema=<name>     PostgreSQL schema of the tables (default gatehouse)
  --status            print the current and needed versions and what is pending; change nothing
  --dry-run           print the SQL that would run; change nothing
  -h, --help          show this help

Exit status: 0 done (or up to date), 1 failure, 2 bad usage, ${MIGRATE_STATUS_PENDING} --status found pending steps.
A Redis store has no schema: there is nothing to migrate.
`

/**
 * Run `gatehouse migrate` with the arguments after the command name; resolves to the exit
 * status (see the usage text).
 *
 * @example
 * ```ts
 * process.exitCode = await runMigrate(['--store=postgres://owner@db/app', '--status'], process)
 * // stdout: postgres://owner@db/app schema gatehouse: version 0, this Gatehouse needs 4; pending: 1, 2, 3, 4
 * ```
 */
export async function runMigrate(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(
    'migrate',
    argv,
    {
      store: { type: 'string' },
      schema: { type: 'string' },
      status: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
    },
    USAGE,
    io,
  )
  if (typeof parsed === 'number') return parsed
  const { values, usage } = parsed
  if (values.status === true && values['dry-run'] === true) {
    return usage('give --status or --dry-run, not both')
  }
  const env = io.env ?? process.env
  const text =
    (values.store as string | undefined) ??
    (env.GATEHOUSE_STORE || env.GATEHOUSE_DB || DEFAULT_DB_PATH)
  if (text.length === 0) return usage('--store must not be empty')
  let target: StoreTarget
  try {
    target = parseStoreTarget(text)
    if (typeof values.schema === 'string') quoteSchema(values.schema)
  } catch (err) {
    return usage((err as Error).message)
  }
  if (target.kind !== 'postgres' && values.schema !== undefined) {
    return usage('--schema applies to a postgres:// store only')
  }
  const mode = values.status === true ? 'status' : values['dry-run'] === true ? 'dry-run' : 'apply'

  if (target.kind === 'redis') {
    io.stdout.write(`${describeTarget(target)}: a Redis store has no schema; nothing to migrate\n`)
    return 0
  }
  try {
    return target.kind === 'sqlite'
      ? migrateSqliteTarget(target.path, mode, io)
      : await migratePostgresTarget(
          target.url,
          typeof values.schema === 'string' ? values.schema : 'gatehouse',
          mode,
          io,
          describeTarget(target),
        )
  } catch (err) {
    const code = isGatehouseError(err) ? ` (${err.code})` : ''
    const cause = (err as { cause?: unknown })?.cause
    const detail =
      cause instanceof Error && cause.message !== '' ? `: ${redactIn(target, cause.message)}` : ''
    io.stderr.write(
      `gatehouse migrate: ${describeTarget(target)}: ${redactIn(target, (err as Error).message)}${detail}${code}\n`,
    )
    return 1
  }
}

type Mode = 'status' | 'dry-run' | 'apply'

function statusLine(what: string, s: SchemaStatus): string {
  if (s.version > s.latest) {
    return `${what}: version ${s.version}, newer than this Gatehouse supports (${s.latest}); upgrade Gatehouse\n`
  }
  const pending = s.pending.length === 0 ? 'up to date' : `pending: ${s.pending.join(', ')}`
  return `${what}: version ${s.version}, this Gatehouse needs ${s.latest}; ${pending}\n`
}

function finish(mode: Mode, what: string, before: SchemaStatus, io: CliIo): number {
  if (mode === 'status') {
    io.stdout.write(statusLine(what, before))
    return before.version === before.latest ? 0 : MIGRATE_STATUS_PENDING
  }
  if (before.version > before.latest) {
    throw new GatehouseError('ERR_STORE_SCHEMA', statusLine(what, before).trim())
  }
  return -1
}

function migrateSqliteTarget(path: string, mode: Mode, io: CliIo): number {
  const what = `SQLite file ${path}`
  // Status and dry run never create the file they are asked about.
  const exists = path === ':memory:' || path.startsWith('file:') || existsSync(path)
  if (!exists && mode !== 'apply') {
    const before = statusOf(0, SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION)
    if (mode === 'status') return finish(mode, `${what} (absent)`, before, io)
    io.stdout.write(sqliteMigrationSql(0, Date.now()))
    return 0
  }
  if (!exists) {
    io.stderr.write(`gatehouse migrate: ${what} does not exist; creating it\n`)
    mkdirSync(dirname(path), { recursive: true })
  }
  // Opened the way the store opens it (WAL, busy timeout), so a running app is not disturbed.
  const db = new DatabaseSync(path)
  try {
    db.exec('PRAGMA busy_timeout = 5000')
    const before = sqliteSchemaStatus(db)
    const done = finish(mode, what, before, io)
    if (done >= 0) return done
    if (mode === 'dry-run') {
      io.stdout.write(
        before.pending.length === 0 ? '' : sqliteMigrationSql(before.version, Date.now()),
      )
      if (before.pending.length === 0) io.stderr.write(`${statusLine(what, before)}`)
      return 0
    }
    db.exec('PRAGMA journal_mode = WAL')
    const after = migrateSqlite(db, Date.now())
    io.stdout.write(applied(what, before.version, after))
    return 0
  } finally {
    db.close()
  }
}

async function migratePostgresTarget(
  url: string,
  schema: string,
  mode: Mode,
  io: CliIo,
  shown: string,
): Promise<number> {
  const what = `${shown} schema ${schema}`
  const pg = await importOptional('pg', 'gatehouse migrate', () => import('pg'))
  const PoolClass = (pg.default ?? pg).Pool
  const pool: Pool = new PoolClass({
    connectionString: url,
    max: 1,
    connectionTimeoutMillis: 5_000,
  })
  pool.on('error', () => {})
  try {
    const before = await postgresSchemaStatus(pool, schema)
    const done = finish(mode, what, before, io)
    if (done >= 0) return done
    if (mode === 'dry-run') {
      if (before.pending.length === 0) io.stderr.write(statusLine(what, before))
      else io.stdout.write(postgresMigrationSql(schema, before.version, Date.now()))
      return 0
    }
    const after = await migratePostgres(pool, schema, Date.now())
    io.stdout.write(applied(what, before.version, after))
    return 0
  } finally {
    await pool.end().catch(() => {})
  }
}

function applied(what: string, from: number, to: number): string {
  return from === to
    ? `${what}: already at version ${to}; nothing to do\n`
    : `${what}: migrated from version ${from} to ${to}\n`
}
