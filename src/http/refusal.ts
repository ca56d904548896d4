/**
 * @module http/refusal
 * The one refusal vocabulary of Gatehouse. The app (`$connect`, messages), the token endpoint
 * and the bundled gateway refuse with a reason from one closed list and answer with one body
 * shape, `{"message": <status text>}`, from one status-text table. Clients never learn which
 * check failed beyond the status; operators read the reason in the log (`reason` field).
 *
 * The texts are AWS API Gateway's (`Internal server error`, `Endpoint request timed out`), so
 * a client sees the same answers behind AWS and behind the bundled gateway.
 */
import type { GatewayResponse } from '../events/event.ts'

/**
 * Why the app refused a `$connect` or a message.
 *
 * @example
 * ```ts
 * const reason: AppRefusalReason = 'origin_forbidden'
 * ```
 */
export type AppRefusalReason =
  | 'gateway_unsigned'
  | 'gateway_signature'
  | 'gateway_replayed'
  | 'gateway_static_refused'
  | 'rate_limited'
  | 'headers_missing'
  | 'host_forbidden'
  | 'origin_forbidden'
  | 'origin_missing'
  | 'channel_invalid'
  | 'channel_required'
  | 'channel_forbidden'
  | 'recovery_invalid'
  | 'token_missing'
  | 'token_invalid'
  | 'token_revoked'
  | 'user_unknown'
  | 'user_inactive'
  | 'permission_denied'
  | 'check_failed'
  | 'store_unavailable'
  | 'event_invalid'
  | 'body_invalid'
  | 'connection_unknown'
  | 'internal_error'

/**
 * Why the token endpoint refused to issue a token.
 *
 * @example
 * ```ts
 * const reason: TokenRefusalReason = 'csrf_mismatch'
 * ```
 */
export type TokenRefusalReason =
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'fetch_site_forbidden'
  | 'origin_forbidden'
  | 'csrf_mismatch'
  | 'unauthenticated'
  | 'rate_limited'
  | 'store_unavailable'
  | 'internal_error'

/**
 * Why the bundled gateway refused an upgrade itself, or relayed a refusal of `$connect`.
 *
 * @example
 * ```ts
 * const reason: GatewayRefusalReason = 'max_connections_per_ip'
 * ```
 */
export type GatewayRefusalReason =
  | 'gateway_closing'
  | 'upgrade_required'
  | 'url_too_long'
  | 'path_forbidden'
  | 'method_not_allowed'
  | 'handshake_invalid'
  | 'pending_handshakes'
  | 'pending_handshakes_per_ip'
  | 'max_connections'
  | 'max_connections_per_ip'
  | 'upgrade_rate_per_ip'
  | 'connect_refused'
  | 'integration_failed'
  | 'integration_timeout'
  | 'cluster_unavailable'
  | 'internal_error'

/**
 * Every refusal reason, closed: what the `reason` field of a refusal's log line holds. Each one
 * is listed in `docs/errors.md`, and a test fails when the two disagree.
 *
 * @example
 * ```ts
 * function onRefusal(reason: RefusalReason) { metrics.increment(`refused.${reason}`) }
 * ```
 */
export type RefusalReason = AppRefusalReason | TokenRefusalReason | GatewayRefusalReason

/**
 * The list form of {@link RefusalReason}, for code that must enumerate it (the docs check).
 * `satisfies` keeps the list and the union equal: a reason missing here, or one here that
 * the union lacks, is a type error.
 *
 * @example
 * ```ts
 * REFUSAL_REASONS.includes('token_invalid') // true
 * ```
 */
export const REFUSAL_REASONS = Object.freeze([
  'gateway_unsigned',
  'gateway_signature',
  'gateway_replayed',
  'gateway_static_refused',
  'rate_limited',
  'headers_missing',
  'host_forbidden',
  'origin_forbidden',
  'origin_missing',
  'channel_invalid',
  'channel_required',
  'channel_forbidden',
  'recovery_invalid',
  'token_missing',
  'token_invalid',
  'token_revoked',
  'user_unknown',
  'user_inactive',
  'permission_denied',
  'check_failed',
  'store_unavailable',
  'event_invalid',
  'body_invalid',
  'connection_unknown',
  'internal_error',
  'method_not_allowed',
  'payload_too_large',
  'fetch_site_forbidden',
  'csrf_mismatch',
  'unauthenticated',
  'gateway_closing',
  'upgrade_required',
  'url_too_long',
  'path_forbidden',
  'handshake_invalid',
  'pending_handshakes',
  'pending_handshakes_per_ip',
  'max_connections',
  'max_connections_per_ip',
  'upgrade_rate_per_ip',
  'connect_refused',
  'integration_failed',
  'integration_timeout',
  'cluster_unavailable',
] as const satisfies readonly RefusalReason[])

// Compile-time check of the other direction: every member of the union is in the list.
type Missing = Exclude<RefusalReason, (typeof REFUSAL_REASONS)[number]>
const everyReasonListed: [Missing] extends [never] ? true : Missing = true
void everyReasonListed

/**
 * The one status-text table: the `message` of every refusal body and error frame, worded as
 * AWS API Gateway words them. A status missing here is answered `Error`.
 *
 * @example
 * ```ts
 * STATUS_TEXT[504] // 'Endpoint request timed out'
 * ```
 */
export const STATUS_TEXT: Readonly<Record<number, string>> = Object.freeze({
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  405: 'Method Not Allowed',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  500: 'Internal server error',
  502: 'Internal server error',
  503: 'Service Unavailable',
  504: 'Endpoint request timed out',
})

/**
 * The text for `status` from {@link STATUS_TEXT}; `Error` for a status it does not hold
 * (an app's own `check` may refuse with any 4xx).
 *
 * @example
 * ```ts
 * statusText(401) // 'Unauthorized'
 * statusText(418) // 'Error'
 * ```
 */
export function statusText(status: number): string {
  return Object.hasOwn(STATUS_TEXT, status) ? (STATUS_TEXT[status] as string) : 'Error'
}

/** Bodies of the table's statuses, built once: refusals are answered without a stringify. */
const BODIES = new Map<number, string>(
  Object.keys(STATUS_TEXT).map((s) => [Number(s), JSON.stringify({ message: statusText(+s) })]),
)

/**
 * The body of every refusal, whoever sends it: `{"message": <status text>}`.
 *
 * @example
 * ```ts
 * refusalBody(403) // '{"message":"Forbidden"}'
 * ```
 */
export function refusalBody(status: number): string {
  return BODIES.get(status) ?? JSON.stringify({ message: statusText(status) })
}

/**
 * A refusal of the app: what the client gets, and the reason the log gets.
 *
 * @example
 * ```ts
 * const rejection: Rejection = { status: 429, reason: 'rate_limited', retryAfterSec: 12 }
 * ```
 */
export interface Rejection {
  readonly status: number
  readonly reason: AppRefusalReason
  readonly retryAfterSec?: number
}

/**
 * Make a rejection.
 *
 * @example
 * ```ts
 * return reject(403, 'origin_forbidden')
 * ```
 */
export function reject(
  status: number,
  reason: AppRefusalReason,
  retryAfterSec?: number,
): Rejection {
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
  const body = refusalBody(rejection.status)
  return rejection.retryAfterSec === undefined
    ? { status: rejection.status, body }
    : {
        status: rejection.status,
        body,
        headers: { 'retry-after': String(rejection.retryAfterSec) },
      }
}

function errorReply(status: number): string {
  return JSON.stringify({ type: 'error', message: statusText(status) })
}

/**
 * The generic error reply of message routes (unknown, hostile, forbidden or malformed).
 *
 * @example
 * ```ts
 * return { status: 403, body: FORBIDDEN_REPLY } // {"type":"error","message":"Forbidden"}
 * ```
 */
export const FORBIDDEN_REPLY: string = errorReply(403)
/**
 * The reply when a handler throws; details go to the log only.
 *
 * @example
 * ```ts
 * return { status: 500, body: INTERNAL_ERROR_REPLY } // {"type":"error","message":"Internal server error"}
 * ```
 */
export const INTERNAL_ERROR_REPLY: string = errorReply(500)
/**
 * The reply when the store is unavailable.
 *
 * @example
 * ```ts
 * return { status: 503, body: UNAVAILABLE_REPLY } // {"type":"error","message":"Service Unavailable"}
 * ```
 */
export const UNAVAILABLE_REPLY: string = errorReply(503)

/**
 * The reply to a body that fails its handler's schema: status 400's text and the paths that
 * failed (`''` is the body itself), never the values or the schema's messages.
 *
 * @example
 * ```ts
 * validationReply(['text']) // {"type":"error","message":"Bad Request","paths":["text"]}
 * ```
 */
export function validationReply(paths: readonly string[]): string {
  return JSON.stringify({ type: 'error', message: statusText(400), paths })
}
