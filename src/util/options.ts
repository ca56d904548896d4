/**
 * @module util/options
 * The one check behind every count, size and duration option, so each rejects bad values
 * the same way and with the same message shape.
 */
import { GatehouseError } from '../errors.ts'

/**
 * `value` when it is a safe integer ≥ `min`, else a `GatehouseError('ERR_INVALID_OPTION')`
 * naming the option.
 *
 * @example
 * ```ts
 * const ttlMs = positiveInt('ttlMs', options.ttlMs ?? 60_000, 1000)
 * ```
 */
export function positiveInt(name: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      `\`${name}\` must be an integer ≥ ${min}; got ${String(value)}.`,
    )
  }
  return value
}
