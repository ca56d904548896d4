/**
 * @module cli/cleanup
 * `gatehouse cleanup`: delete old tokens, rate-limit counters and disconnected sessions
 * from the SQLite store. Run it from cron, or rely on the app's built-in timer.
 */
import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { systemClock } from '../clock.ts'
import { isGatehouseError } from '../errors.ts'
import { CLEANUP_DEFAULTS, cleanupStore } from '../store/cleanup.ts'
import { openSqliteStore } from '../store/sqlite.ts'
import type { CliIo } from './io.ts'

/**
 * The database file `gatehouse cleanup` opens when neither `--db` nor `GATEHOUSE_DB` is given.
 *
 * @example
 * ```ts
 * await openSqliteStore({ path: process.env.GATEHOUSE_DB || DEFAULT_DB_PATH })
 * ```
 */
export const DEFAULT_DB_PATH = '.data/gatehouse.db'

const USAGE = `Usage: gatehouse cleanup [options]

Delete old rows from the Gatehouse SQLite store.

Options:
  --db=<path>              SQLite file (default: $GATEHOUSE_DB or ${DEFAULT_DB_PATH})
  --token-age=<seconds>    tokens created this long ago or earlier (default ${CLEANUP_DEFAULTS.tokenAgeSec})
  --rate-limit-age=<days>  rate-limit counters unused this long (default ${CLEANUP_DEFAULTS.rateLimitAgeDays})
  --session-age=<seconds>  sessions disconnected this long ago (default ${CLEANUP_DEFAULTS.sessionAgeSec})
  -h, --help               show this help
`

/**
 * Run `gatehouse cleanup` with the arguments after the command name; resolves to the exit
 * code: 0 done, 1 store failure (missing file, locked, newer schema), 2 bad usage.
 *
 * @example
 * ```ts
 * process.exitCode = await runCleanup(['--token-age=300', '--db=.data/gatehouse.db'], process)
 * // stdout: removed 3 tokens, 1 rate-limit records, 2 sessions
 * ```
 */
export async function runCleanup(argv: readonly string[], io: CliIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        db: { type: 'string' },
        'token-age': { type: 'string' },
        'rate-limit-age': { type: 'string' },
        'session-age': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values
  } catch (err) {
    io.stderr.write(`gatehouse cleanup: ${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (values.help === true) {
    io.stdout.write(USAGE)
    return 0
  }

  const ages = {
    tokenAgeSec: count(values['token-age'], CLEANUP_DEFAULTS.tokenAgeSec),
    rateLimitAgeDays: count(values['rate-limit-age'], CLEANUP_DEFAULTS.rateLimitAgeDays),
    sessionAgeSec: count(values['session-age'], CLEANUP_DEFAULTS.sessionAgeSec),
  }
  for (const [flag, v] of Object.entries(ages)) {
    if (Number.isNaN(v)) {
      const name = {
        tokenAgeSec: 'token-age',
        rateLimitAgeDays: 'rate-limit-age',
        sessionAgeSec: 'session-age',
      }[flag]
      io.stderr.write(`gatehouse cleanup: --${name} must be a whole number >= 0\n\n${USAGE}`)
      return 2
    }
  }

  const env = io.env ?? process.env
  const db = typeof values.db === 'string' ? values.db : env.GATEHOUSE_DB || DEFAULT_DB_PATH
  if (db.length === 0) {
    io.stderr.write(`gatehouse cleanup: --db must not be empty\n\n${USAGE}`)
    return 2
  }
  // Cleaning a file that is not there would create an empty database and report success.
  if (db !== ':memory:' && !existsSync(db)) {
    io.stderr.write(`gatehouse cleanup: no database at ${db}\n`)
    return 1
  }

  try {
    const store = await openSqliteStore({ path: db })
    try {
      const r = await cleanupStore(store, ages, systemClock)
      io.stdout.write(
        `removed ${r.tokens} tokens, ${r.rateLimits} rate-limit records, ${r.sessions} sessions\n`,
      )
      return 0
    } finally {
      await store.close()
    }
  } catch (err) {
    const code = isGatehouseError(err) ? ` (${err.code})` : ''
    io.stderr.write(`gatehouse cleanup: ${(err as Error).message}${code}\n`)
    return 1
  }
}

// A whole number of units, or NaN; absent means the default.
function count(text: string | boolean | undefined, fallback: number): number {
  if (text === undefined) return fallback
  return typeof text === 'string' && /^\d{1,12}$/.test(text) ? Number(text) : Number.NaN
}
