/**
 * @module gatehouse/client
 * The browser client for Gatehouse apps: a fresh single-use token before every connection
 * attempt, jittered backoff, explicit states and events, a bounded send queue, keep-alive.
 * No dependencies; runs in browsers and on Node's global `WebSocket`.
 *
 * @example
 * ```ts
 * import { GatehouseClient } from 'gatehouse/client'
 * const client = new GatehouseClient({ url: 'wss://gw.example/', channel: 'lobby' }).connect()
 * client.on('message', (msg) => console.log(msg))
 * ```
 */
export { backoffDelayMs } from './backoff.ts'
export { GatehouseClient } from './client.ts'
export { readCookie } from './cookie.ts'
export type { HistoryPoint, RecoveredDetail } from './history.ts'
export { CLIENT_DEFAULTS } from './options.ts'
export { parseRetryAfterMs, requestToken, type TokenOutcome, type TokenRequest } from './token.ts'
export type {
  BodyOf,
  ClientErrorReason,
  ClientEventMap,
  ClientOptions,
  ClientState,
  ClientTimers,
  CloseDetail,
  ErrorDetail,
  FailedDetail,
  FailReason,
  FetchLike,
  OutgoingMap,
  ReplyOf,
  StateDetail,
  WebSocketConstructor,
  WebSocketLike,
} from './types.ts'
export type { TokenTransport } from './url.ts'
export type { WakeEnvironment, WakeTarget } from './wake.ts'
