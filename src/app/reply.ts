/**
 * @module app/reply
 * The reply envelope of requests. A message whose body carries a request id
 * (`DEFAULTS.requestIdKey`, set by `client.request()`) gets its handler's result back as
 * `{"type":"reply","rid":…,"data":…}`, and an error reply carries the same id, so the client
 * can match replies to requests on one socket. Behind AWS this is the route response of a
 * two-way route; on the bundled gateway the same. Messages without an id are answered as
 * before: the handler's result as it is.
 */
import { DEFAULTS } from '../defaults.ts'

/**
 * The request id of a parsed body, when it has a well-formed one.
 *
 * @example
 * ```ts
 * readRequestId({ action: 'send', rid: 'k3x-1' }) // 'k3x-1'
 * readRequestId({ action: 'send', rid: '<b>' })  // undefined
 * ```
 */
export function readRequestId(body: Readonly<Record<string, unknown>>): string | undefined {
  if (!Object.hasOwn(body, DEFAULTS.requestIdKey)) return undefined
  const rid = body[DEFAULTS.requestIdKey]
  return typeof rid === 'string' && DEFAULTS.requestIdPattern.test(rid) ? rid : undefined
}

/**
 * The reply to a request: the handler's result as `data` (left out for `undefined`).
 *
 * @example
 * ```ts
 * replyEnvelope('k3x-1', { ok: true }) // {"type":"reply","rid":"k3x-1","data":{"ok":true}}
 * ```
 */
export function replyEnvelope(rid: string, result: unknown): string {
  return JSON.stringify(
    result === undefined ? { type: 'reply', rid } : { type: 'reply', rid, data: result },
  )
}

/**
 * An error reply (`{"type":"error",…}`) with the request id added, or as it is without one.
 *
 * @example
 * ```ts
 * withRequestId('{"type":"error","message":"Forbidden"}', 'k3x-1')
 * // {"type":"error","message":"Forbidden","rid":"k3x-1"}
 * ```
 */
export function withRequestId(errorReply: string, rid: string | undefined): string {
  // The id matched `requestIdPattern`, so it needs no escaping; no parse and re-stringify.
  return rid === undefined ? errorReply : `${errorReply.slice(0, -1)},"rid":"${rid}"}`
}
