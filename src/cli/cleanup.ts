/**
 * @module cli/cleanup
 * `gatehouse cleanup`: delete old tokens, rate-limit counters and disconnected sessions from
 * the SQLite, PostgreSQL or Redis store. Run it from cron, or rely on the app's built-in
 * timer (`startMaintenance`). On Redis every key also has a TTL, so this only removes rows
 * earlier than their TTL would.
 */
import { existsSync } from 'node:fs'
import { systemClock } from '../clock.ts'
import { isGatehouseError } from '../errors.ts'
import { CLEANUP_DEFAULTS, cleanupStore } from '../store/cleanup.ts'
import type { CleanupResult, Store } from '../store/store.ts'
import { parseCommand } from './args.ts'
import type { CliIo } from './io.ts'
import { describeTarget, parseStoreTarget, redactIn, type StoreTarget } from './store-target.ts'

/**
 * The database file `gatehouse cleanup` opens when neither `--store`, `--db`,
 * `GATEHOUSE_STORE` nor `GATEHOUSE_DB` is given.
 *
 * @example
 * ```ts
 * await openSqliteStore({ path: process.env.GATEHOUSE_DB || DEFAULT_DB_PATH })
 * ```
 */
export const DEFAULT_DB_PATH = '.data/gatehouse.db'

/**
 * How often `gatehouse cleanup` reports progress on stderr while a run lasts.
 *
 * @example
 * ```ts
 * await runCleanup(argv, io, { progressEveryMs: CLEANUP_PROGRESS_EVERY_MS })
 * ```
 */
export const CLEANUP_PROGRESS_EVERY_MS = 2_000

const USAGE = `Usage: gatehouse cleanup [options]

Delete old rows from the Gatehouse store (SQLite, PostgreSQL or Redis).

Options:
  --store=<path|url>       SQLite file, postgres://… or redis://… (default: $GATEHOUSE_STORE,
                           $GATEHOUSE_DB or ${DEFAULT_DB_PATH}); --db=<…> is the same
  --schema=<name>          PostgreSQL schema of the tables (default gatehouse)
  --prefix=<prefix>        Redis key prefix (default gatehouse:)
  --token-age=<seconds>    tokens created this long ago or earlier (default ${CLEANUP_DEFAULTS.tokenAgeSec})
  --rate-limit-age=<days>  rate-limit counters unused this long (default ${CLEANUP_DEFAULTS.rateLimitAgeDays})
  --session-age=<seconds>  sessions disconnected this long ago (default ${CLEANUP_DEFAULTS.sessionAgeSec})
  -h, --help               show this help

A run longer than ${CLEANUP_PROGRESS_EVERY_MS / 1000} s reports its progress on stderr; the summary goes to stdout.
Exit status: 0 done, 1 store failure, 2 bad usage.
`

/**
 * Tuning of {@link runCleanup} that has no flag.
 *
 * @example
 * ```ts
 * await runCleanup(['--store=redis://127.0.0.1:6379'], io, { progressEveryMs: 500 })
 * ```
 */
export interface CleanupRunOptions {
  /** Report progress on stderr at most this often. Default {@link CLEANUP_PROGRESS_EVERY_MS}. */
  readonly progressEveryMs?: number
}

/**
 * Run `gatehouse cleanup` with the arguments after the command name; resolves to the exit
 * code: 0 done, 1 store failure (missing file, unreachable server, schema not migrated),
 * 2 bad usage.
 *
 * @example
 * ```ts
 * process.exitCode = await runCleanup(['--token-age=300', '--store=postgres://app@db/app'], process)
 * // stdout: removed 3 tokens, 1 rate-limit records, 2 sessions
 * ```
 */
export async function runCleanup(
  argv: readonly string[],
  io: CliIo,
  run: CleanupRunOptions = {},
): Promise<number> {
  const parsed = parseCommand(
    'cleanup',
    argv,
    {
      store: { type: 'string' },
      db: { type: 'string' },
      schema: { type: 'string' },
      prefix: { type: 'string' },
      'token-age': { type: 'string' },
      'rate-limit-age': { type: 'string' },
      'session-age': { type: 'string' },
    },
    USAGE,
    io,
  )
  if (typeof parsed === 'number') return parsed
  const { values, usage } = parsed

  const ages = {
    tokenAgeSec: count(values['token-age'], CLEANUP_DEFAULTS.tokenAgeSec),
    rateLimitAgeDays: count(values['rate-limit-age'], CLEANUP_DEFAULTS.rateLimitAgeDays),
    sessionAgeSec: count(values['session-age'], CLEANUP_DEFAULTS.sessionAgeSec),
  }
  const flags = {
    tokenAgeSec: 'token-age',
    rateLimitAgeDays: 'rate-limit-age',
    sessionAgeSec: 'session-age',
  } as const
  for (const [name, v] of Object.entries(ages)) {
    if (Number.isNaN(v)) {
      return usage(`--${flags[name as keyof typeof flags]} must be a whole number >= 0`)
    }
  }
  if (typeof values.store === 'string' && typeof values.db === 'string') {
    return usage('give --store or --db, not both')
  }

  const env = io.env ?? process.env
  const text =
    (values.store as string | undefined) ??
    (values.db as string | undefined) ??
    (env.GATEHOUSE_STORE || env.GATEHOUSE_DB || DEFAULT_DB_PATH)
  if (text.length === 0) return usage('--store must not be empty')
  let target: StoreTarget
  try {
    target = parseStoreTarget(text)
  } catch (err) {
    return usage((err as Error).message)
  }
  if (target.kind !== 'postgres' && values.schema !== undefined) {
    return usage('--schema applies to a postgres:// store only')
  }
  if (target.kind !== 'redis' && values.prefix !== undefined) {
    return usage('--prefix applies to a redis:// store only')
  }
  // Cleaning a file that is not there would create an empty database and report success.
  if (target.kind === 'sqlite' && target.path !== ':memory:' && !existsSync(target.path)) {
    io.stderr.write(`gatehouse cleanup: no database at ${target.path}\n`)
    return 1
  }

  const progressEveryMs = run.progressEveryMs ?? CLEANUP_PROGRESS_EVERY_MS
  try {
    const store = await openForCleanup(target, values)
    const started = Date.now()
    let last = started
    let soFar: CleanupResult = { tokens: 0, rateLimits: 0, sessions: 0, nonces: 0 }
    const report = () => {
      const now = Date.now()
      if (now - last < progressEveryMs) return
      last = now
      io.stderr.write(
        `gatehouse cleanup: ${describeTarget(target)}: running for ${Math.round((now - started) / 1000)} s, removed so far ${summary(soFar)}\n`,
      )
    }
    // Batches report through onProgress; a single long statement (SQL) through the timer.
    const timer = setInterval(report, Math.max(progressEveryMs, 250))
    timer.unref()
    try {
      const r = await cleanupStore(store, ages, systemClock, (p) => {
        soFar = p
        report()
      })
      io.stdout.write(`removed ${summary(r)}\n`)
      return 0
    } finally {
      clearInterval(timer)
      await store.close()
    }
  } catch (err) {
    const code = isGatehouseError(err) ? ` (${err.code})` : ''
    const cause = (err as { cause?: unknown })?.cause
    const detail =
      cause instanceof Error && cause.message !== '' ? `: ${redactIn(target, cause.message)}` : ''
    io.stderr.write(
      `gatehouse cleanup: ${describeTarget(target)}: ${redactIn(target, (err as Error).message)}${detail}${code}\n`,
    )
    return 1
  }
}

function summary(r: CleanupResult): string {
  return `${r.tokens} tokens, ${r.rateLimits} rate-limit records, ${r.sessions} sessions`
}

// On PostgreSQL, cleanup changes rows, never the schema: it opens without migrating (its role
// may lack DDL rights), so a schema `gatehouse migrate` has not brought up to date is
// reported, not altered. An SQLite file migrates on open, as the app opening it would.
async function openForCleanup(
  target: StoreTarget,
  values: Record<string, string | boolean | undefined>,
): Promise<Store> {
  switch (target.kind) {
    case 'sqlite': {
      const { openSqliteStore } = await import('../store/sqlite.ts')
      return openSqliteStore({ path: target.path })
    }
    case 'postgres': {
      const { createPostgresStore } = await import('../store/postgres.ts')
      const schema = typeof values.schema === 'string' ? values.schema : undefined
      return createPostgresStore({
        connectionString: target.url,
        migrate: false,
        maxConnections: 1,
        // A cleanup of a large backlog is one statement; the runtime default would cut it.
        statementTimeoutMs: 600_000,
        ...(schema === undefined ? {} : { schema }),
      })
    }
    case 'redis': {
      const { createRedisStore } = await import('../store/redis.ts')
      const prefix = typeof values.prefix === 'string' ? values.prefix : undefined
      return createRedisStore({ url: target.url, ...(prefix === undefined ? {} : { prefix }) })
    }
  }
}

// A whole number of units, or NaN; absent means the default.
function count(text: string | boolean | undefined, fallback: number): number {
  if (text === undefined) return fallback
  return typeof text === 'string' && /^\d{1,12}$/.test(text) ? Number(text) : Number.NaN
}
