/**
 * @module errors
 * The one error class Gatehouse throws, with a closed set of codes.
 *
 * Programmer mistakes (bad options, calls in the wrong order) throw a `GatehouseError`.
 * Protocol rejections (a bad token, a foreign Origin) never throw across the wire: they are
 * statuses and close codes. Every code is listed in `docs/errors.md` with its fix.
 */

/** Every code a {@link GatehouseError} can carry. */
export type GatehouseErrorCode =
  | 'ERR_INVALID_OPTION'
  | 'ERR_OPTION_CONFLICT'
  | 'ERR_HANDLER_INVALID'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_STORE_SCHEMA'
  | 'ERR_STORE_MIGRATION_REQUIRED'
  | 'ERR_MESSAGE_TOO_LARGE'
  | 'ERR_INVALID_EVENT'
  | 'ERR_INTEGRATION_FAILED'
  | 'ERR_INTEGRATION_TIMEOUT'
  | 'ERR_GATEWAY_CLOSED'
  | 'ERR_AUTH_FAILED'
  | 'ERR_BODY_CONSUMED'
  | 'ERR_REVOCATION_INCOMPLETE'
  | 'ERR_REQUEST_TIMEOUT'
  | 'ERR_REQUEST_DISCONNECTED'
  | 'ERR_REQUEST_REJECTED'
  | 'ERR_CLUSTER_UNAVAILABLE'

/**
 * The error Gatehouse throws. Switch on `code`; the message is for humans.
 *
 * @example
 * ```ts
 * try {
 *   createApp({ store, handlers: { __proto__: run } })
 * } catch (err) {
 *   if (err instanceof GatehouseError && err.code === 'ERR_HANDLER_INVALID') console.error(err.message)
 * }
 * ```
 */
export class GatehouseError extends Error {
  readonly code: GatehouseErrorCode
  /** Facts about what happened, for the caller (e.g. what a half-done revocation did do). */
  readonly details: Readonly<Record<string, unknown>> | undefined

  constructor(
    code: GatehouseErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Readonly<Record<string, unknown>> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'GatehouseError'
    this.code = code
    this.details = options?.details
    Error.captureStackTrace?.(this, GatehouseError)
  }
}

/**
 * True when `err` is a {@link GatehouseError}, across module copies too.
 *
 * @example
 * ```ts
 * if (isGatehouseError(err, 'ERR_STORE_UNAVAILABLE')) return retryLater()
 * ```
 */
export function isGatehouseError(err: unknown, code?: GatehouseErrorCode): err is GatehouseError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { name?: unknown }).name === 'GatehouseError' &&
    (code === undefined || (err as { code?: unknown }).code === code)
  )
}
