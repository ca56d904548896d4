/**
 * @module http/refusal
 * Rejections are values: a status, a generic body and a reason code for the log. Clients never
 * learn which check failed beyond the status; operators read the reason in the log.
 */
import type { GatewayResponse } from '../events/event.ts'

/** Why a request was refused; appears in logs and metrics, never in the response body. */
export type RejectReason =
  | 'gateway_unsigned'
  | 'gateway_signature'
  | 'gateway_overloaded'
  | 'rate_limited'
  | 'headers_missing'
  | 'host_forbidden'
  | 'origin_forbidden'
  | 'origin_missing'
  | 'channel_invalid'
  | 'channel_required'
  | 'channel_forbidden'
  | 'token_missing'
  | 'token_invalid'
  | 'token_revoked'
  | 'user_unknown'
  | 'user_inactive'
  | 'permission_denied'
  | 'check_failed'
  | 'store_unavailable'
  | 'event_invalid'
  | 'connection_unknown'
  | 'internal_error'

/** A refusal: what the client gets, and the reason the log gets. */
export interface Rejection {
  readonly status: number
  readonly reason: RejectReason
  readonly retryAfterSec?: number
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  429: 'Too Many Requests',
  500: 'Internal server error',
  503: 'Service Unavailable',
}

/**
 * Make a rejection.
 *
 * @example
 * ```ts
 * return reject(403, 'origin_forbidden')
 * ```
 */
export function reject(status: number, reason: RejectReason, retryAfterSec?: number): Rejection {
  return retryAfterSec === undefined ? { status, reason } : { status, reason, retryAfterSec }
}

/**
 * The response a rejection becomes: one generic body per status, whatever the reason.
 *
 * @example
 * ```ts
 * toResponse(reject(401, 'token_invalid')) // { status: 401, body: '{"message":"Unauthorized"}' }
 * ```
 */
export function toResponse(rejection: Rejection): GatewayResponse {
  const body = JSON.stringify({ message: STATUS_TEXT[rejection.status] ?? 'Error' })
  return rejection.retryAfterSec === undefined
    ? { status: rejection.status, body }
    : {
        status: rejection.status,
        body,
        headers: { 'retry-after': String(rejection.retryAfterSec) },
      }
}

/** The generic error reply of message routes (unknown, hostile, forbidden or malformed). */
export const FORBIDDEN_REPLY: string = JSON.stringify({ type: 'error', message: 'Forbidden' })
/** The reply when a handler throws; details go to the log only. */
export const INTERNAL_ERROR_REPLY: string = JSON.stringify({
  type: 'error',
  message: 'Internal server error',
})
/** The reply when the store is unavailable. */
export const UNAVAILABLE_REPLY: string = JSON.stringify({
  type: 'error',
  message: 'Service Unavailable',
})
