/**
 * @module store/nonce
 * What every store checks before {@link Store.claimNonce} touches its backend, so the
 * implementations agree on what a nonce key is.
 */
import { GatehouseError } from '../errors.ts'

/** Longest nonce key: a prefix and a hex SHA-256 fit with room to spare. */
export const MAX_NONCE_KEY_LENGTH = 200

/**
 * Throw `ERR_INVALID_OPTION` unless `key` is a non-empty printable string of at most
 * {@link MAX_NONCE_KEY_LENGTH} characters and `expiresAt`, `now` are epoch milliseconds.
 *
 * @example
 * ```ts
 * validateNonce('sig:4f1c…', now + 60_000, now) // ok
 * validateNonce('', 1, 0) // throws
 * ```
 */
export function validateNonce(key: string, expiresAt: number, now: number): void {
  if (
    typeof key !== 'string' ||
    key.length === 0 ||
    key.length > MAX_NONCE_KEY_LENGTH ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
    /[\u0000-\u001f\u007f]/.test(key)
  ) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      'claimNonce: key must be 1-200 printable characters',
    )
  }
  if (!Number.isSafeInteger(expiresAt) || !Number.isSafeInteger(now)) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'claimNonce: expiresAt and now must be epoch ms')
  }
}
