/**
 * @module gateway/connection-id
 * Connection, request and message ids shaped like AWS API Gateway's: 16 URL-safe base64
 * characters ending in `=` (e.g. `R1kmxc2VNjMCFIA=`), so code that validates or stores AWS ids
 * works unchanged against the bundled gateway.
 *
 * Sixteen characters with a trailing `=` are the base64 of 11 bytes, so an id holds 88 random
 * bits from the CSPRNG: not guessable in practice (2^88 values), and never the only guard — the
 * `@connections` API and the integration calls are authenticated on their own.
 */
import { randomBytes } from 'node:crypto'

/** Random bytes per id: 11 bytes encode to exactly 15 base64 characters plus one `=`. */
const ID_BYTES = 11

/** How many ids one `randomBytes` call prepares, so a connection burst costs few syscalls. */
const POOL_IDS = 256

let pool = Buffer.alloc(0)
let offset = 0

/**
 * A fresh AWS-shaped id: 16 characters of `[A-Za-z0-9_-]` ending in `=`.
 *
 * @example
 * ```ts
 * const id = newId() // e.g. 'Qm9vbXNfd0FhYWE='
 * /^[A-Za-z0-9_-]{15}=$/.test(id) // true
 * ```
 */
export function newId(): string {
  if (offset + ID_BYTES > pool.length) {
    pool = randomBytes(ID_BYTES * POOL_IDS)
    offset = 0
  }
  const bytes = pool.subarray(offset, offset + ID_BYTES)
  offset += ID_BYTES
  // base64url drops padding; AWS ids keep their one `=`.
  const id = `${bytes.toString('base64url')}=`
  // Each id's bytes are used once: wipe them so a later read of the pool cannot recover an id.
  bytes.fill(0)
  return id
}

/**
 * The shape every id {@link newId} returns.
 *
 * @example
 * ```ts
 * ID_PATTERN.test(event.connectionId) // true for ids this gateway issued
 * ```
 */
export const ID_PATTERN = /^[A-Za-z0-9_-]{15}=$/
