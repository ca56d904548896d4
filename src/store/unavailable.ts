/**
 * @module store/unavailable
 * The one way a Store reports a backend failure. Callers answer 503 on
 * `ERR_STORE_UNAVAILABLE` and never "allow", so every backend error must arrive in this shape.
 */
import { GatehouseError, isGatehouseError } from '../errors.ts'

/**
 * Wrap a backend error as `GatehouseError('ERR_STORE_UNAVAILABLE')`, keeping the original as
 * `cause`. A `GatehouseError` thrown on purpose (a bad option) passes through unchanged.
 * The message names the backend and operation only: driver messages can carry SQL or values,
 * and they stay reachable through `cause` for logs that want them.
 *
 * @example
 * ```ts
 * try {
 *   stmt.run(hash)
 * } catch (err) {
 *   throw storeUnavailable('sqlite', 'insertToken', err)
 * }
 * ```
 */
export function storeUnavailable(backend: string, op: string, cause: unknown): GatehouseError {
  if (isGatehouseError(cause)) return cause
  return new GatehouseError('ERR_STORE_UNAVAILABLE', `${backend} store: ${op} failed`, { cause })
}
