/**
 * @module cli/store-target
 * Which store a CLI command works on, from one `--store` value: a `postgres://` or
 * `redis://` URL, or the path of an SQLite file. URLs are shown with their password masked,
 * so a command's output and errors never print a credential.
 */
import { GatehouseError } from '../errors.ts'

/**
 * A parsed `--store` value.
 *
 * @example
 * ```ts
 * parseStoreTarget('postgres://app@db/app') // { kind: 'postgres', url: 'postgres://app@db/app' }
 * parseStoreTarget('.data/gatehouse.db')    // { kind: 'sqlite', path: '.data/gatehouse.db' }
 * ```
 */
export type StoreTarget =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string }
  | { readonly kind: 'redis'; readonly url: string }

/**
 * Read a `--store` value: `postgres://` and `postgresql://` name PostgreSQL, `redis://`
 * and `rediss://` Redis, any other URL scheme is refused (`ERR_INVALID_OPTION`), and
 * anything else is an SQLite path.
 *
 * @example
 * ```ts
 * parseStoreTarget('redis://127.0.0.1:6379').kind // 'redis'
 * ```
 */
export function parseStoreTarget(text: string): StoreTarget {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase()
  if (scheme === undefined) return { kind: 'sqlite', path: text }
  if (scheme === 'postgres' || scheme === 'postgresql') return { kind: 'postgres', url: text }
  if (scheme === 'redis' || scheme === 'rediss') return { kind: 'redis', url: text }
  throw new GatehouseError(
    'ERR_INVALID_OPTION',
    `unsupported store URL scheme ${JSON.stringify(scheme.slice(0, 20))}: use postgres://, redis:// or an SQLite file path`,
  )
}

/**
 * The target as a command prints it: the path, or the URL with any password masked.
 *
 * @example
 * ```ts
 * describeTarget(parseStoreTarget('postgres://app:s3cret@db/app')) // 'postgres://app:***@db/app'
 * ```
 */
export function describeTarget(target: StoreTarget): string {
  if (target.kind === 'sqlite') return target.path
  try {
    const url = new URL(target.url)
    if (url.password !== '') url.password = '***'
    return url.toString()
  } catch {
    return `<unparseable ${target.kind} URL>`
  }
}

/**
 * Mask every occurrence of the target's password in a message (driver errors may quote the
 * connection string).
 *
 * @example
 * ```ts
 * redactIn(target, err.message)
 * ```
 */
export function redactIn(target: StoreTarget, text: string): string {
  if (target.kind === 'sqlite') return text
  let password = ''
  try {
    password = decodeURIComponent(new URL(target.url).password)
  } catch {
    return text.split(target.url).join(describeTarget(target))
  }
  let out = text.split(target.url).join(describeTarget(target))
  if (password !== '') out = out.split(password).join('***')
  return out
}
