/**
 * @module gateway/connection-id
 * Connection ids shaped like AWS API Gateway's: 16 URL-safe base64 characters ending in `=`
 * (e.g. `R1kmxc2VNjMCFIA=`), so code that validates or stores AWS ids works unchanged against
 * the bundled gateway. Request and message ids come from the same pooled generator
 * (`events/ids.ts`).
 *
 * Sixteen characters with a trailing `=` are the base64 of 11 bytes, so an id holds 88 random
 * bits from the CSPRNG: not guessable in practice (2^88 values), and never the only guard — the
 * `@connections` API and the integration calls are authenticated on their own.
 */
import { randomRequestId } from '../events/ids.ts'

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
  return randomRequestId()
}

/**
 * The shape of every id a gateway issues: AWS's (15 URL-safe characters and `=`, what
 * {@link newId} returns) or a cluster node's (16 URL-safe characters, the first naming the
 * node's slot; see `cluster/ids.ts`).
 *
 * @example
 * ```ts
 * ID_PATTERN.test(event.connectionId) // true for ids this gateway issued
 * ID_PATTERN.test('DbX2Lq0v9mTz_a8K') // true: a cluster node's id
 * ```
 */
export const ID_PATTERN = /^(?:[A-Za-z0-9_-]{15}=|[A-Za-z0-9_-]{16})$/
