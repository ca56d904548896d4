/**
 * @module store/schema-version
 * What the SQL stores share about schema versions: where a database stands against the
 * migrations this code knows, and the refusal of a store opened with `migrate: false` on a
 * schema it cannot run on.
 */
import { GatehouseError } from '../errors.ts'

/**
 * Where a database's Gatehouse schema stands: the version it is at (0 when the schema, file
 * or version table does not exist yet), the version this code needs, and the steps still to apply.
 *
 * @example
 * ```ts
 * const { version, latest, pending } = await postgresSchemaStatus(pool, 'gatehouse')
 * if (pending.length > 0) console.log(`run gatehouse migrate: ${pending.join(', ')} pending`)
 * ```
 */
export interface SchemaStatus {
  readonly version: number
  readonly latest: number
  /** Versions newer than `version`, oldest first; empty when up to date (or newer). */
  readonly pending: readonly number[]
}

/**
 * The shared verdict of the `migrate: false` checks: too old (or absent) or too new.
 *
 * @example
 * ```ts
 * assertVersion('SQLite file app.db', 2, 4) // throws ERR_STORE_MIGRATION_REQUIRED
 * ```
 */
export function assertVersion(what: string, version: number, latest: number): void {
  if (version > latest) {
    throw new GatehouseError(
      'ERR_STORE_SCHEMA',
      `${what} is at version ${version}, newer than this Gatehouse supports (${latest}); upgrade Gatehouse`,
    )
  }
  if (version < latest) {
    const found = version === 0 ? 'has no Gatehouse tables' : `is at version ${version}`
    throw new GatehouseError(
      'ERR_STORE_MIGRATION_REQUIRED',
      `${what} ${found}; this Gatehouse needs version ${latest}. Run \`gatehouse migrate\` with a role allowed to change the schema (the store was opened with migrate: false)`,
    )
  }
}

/**
 * {@link SchemaStatus} of a version against a migration list.
 *
 * @example
 * ```ts
 * statusOf(2, POSTGRES_MIGRATIONS, 4) // { version: 2, latest: 4, pending: [3, 4] }
 * ```
 */
export function statusOf(
  version: number,
  migrations: readonly { readonly version: number }[],
  latest: number,
): SchemaStatus {
  return {
    version,
    latest,
    pending: migrations.filter((m) => m.version > version).map((m) => m.version),
  }
}

/**
 * Migration SQL as printed by `gatehouse migrate --dry-run`: indented for reading in the
 * source, it starts at column 0 here, without blank lines.
 *
 * @example
 * ```ts
 * printableSql('\n    CREATE TABLE t (x int);\n') // 'CREATE TABLE t (x int);'
 * ```
 */
export function printableSql(sql: string): string {
  const lines = sql.split('\n').filter((l) => l.trim() !== '')
  const indent = Math.min(...lines.map((l) => l.length - l.trimStart().length))
  return lines.map((l) => l.slice(indent)).join('\n')
}
