/**
 * @module client/url
 * Where a connection attempt goes and how its token travels.
 */

/**
 * Query parameter carrying the token (equals `DEFAULTS.tokenQueryParam`).
 *
 * @example
 * ```ts
 * new URL(socket.url).searchParams.get(TOKEN_QUERY_PARAM)
 * ```
 */
export const TOKEN_QUERY_PARAM = 'ws_token'
/**
 * Subprotocol entry prefix carrying the token (equals `DEFAULTS.tokenProtocolPrefix`).
 *
 * @example
 * ```ts
 * const entry = TOKEN_PROTOCOL_PREFIX + token // 'gatehouse.token.<t>'
 * ```
 */
export const TOKEN_PROTOCOL_PREFIX = 'gatehouse.token.'
/**
 * The application subprotocol offered with a protocol token (equals `DEFAULTS.appProtocol`).
 *
 * @example
 * ```ts
 * new WebSocket(url, [APP_PROTOCOL, TOKEN_PROTOCOL_PREFIX + token])
 * ```
 */
export const APP_PROTOCOL = 'gatehouse.v1'
/**
 * Query parameter naming the channel (equals `DEFAULTS.channelQueryParam`).
 *
 * @example
 * ```ts
 * url.searchParams.set(CHANNEL_QUERY_PARAM, 'lobby')
 * ```
 */
export const CHANNEL_QUERY_PARAM = 'channel'
/**
 * Query parameters of a reconnect's history position (equal `DEFAULTS.historySinceQueryParam`
 * and `DEFAULTS.historyEpochQueryParam`).
 *
 * @example
 * ```ts
 * url.searchParams.set(SINCE_QUERY_PARAM, '41')
 * ```
 */
export const SINCE_QUERY_PARAM = 'since'
/** See {@link SINCE_QUERY_PARAM}. */
export const EPOCH_QUERY_PARAM = 'epoch'

/**
 * Valid channel names (equals `DEFAULTS.channelPattern`).
 *
 * @example
 * ```ts
 * CHANNEL_PATTERN.test('room-2') // true
 * ```
 */
export const CHANNEL_PATTERN: RegExp = /^[A-Za-z0-9_-]{1,128}$/

/**
 * How the token reaches the gateway.
 *
 * @example
 * ```ts
 * new GatehouseClient({ url, tokenTransport: 'protocol' })
 * ```
 */
export type TokenTransport = 'query' | 'protocol'

/**
 * The arguments of one `new WebSocket(url, protocols)`.
 *
 * @example
 * ```ts
 * const { url, protocols } = socketTarget(base, token, 'lobby', 'query')
 * ```
 */
export interface SocketTarget {
  url: string
  protocols: string[]
}

/**
 * Resolves `base` (absolute, or relative to the page), maps `http(s)` to `ws(s)`, and returns
 * the URL as a string. Throws `TypeError` for anything that is not a WebSocket URL.
 *
 * @example
 * ```ts
 * resolveSocketUrl('/ws', 'https://chat.example/') // 'wss://chat.example/ws'
 * ```
 */
export function resolveSocketUrl(base: string, pageHref?: string): string {
  const u = new URL(base, pageHref)
  if (u.protocol === 'http:') u.protocol = 'ws:'
  else if (u.protocol === 'https:') u.protocol = 'wss:'
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw new TypeError(`not a WebSocket URL: ${u.protocol}`)
  }
  // A fragment is never sent and a WebSocket constructor rejects it.
  u.hash = ''
  return u.href
}

/**
 * The URL and subprotocols for one attempt. Any `ws_token` already in `base` is replaced,
 * so a stale token can never ride along with a fresh one.
 *
 * @example
 * ```ts
 * socketTarget('wss://gw.example/', 'tok', 'lobby', 'query')
 * // { url: 'wss://gw.example/?channel=lobby&ws_token=tok', protocols: [] }
 * ```
 */
export function socketTarget(
  base: string,
  token: string,
  channel: string | undefined,
  transport: TokenTransport,
  point?: { readonly epoch: string; readonly offset: number },
): SocketTarget {
  const u = new URL(base)
  u.searchParams.delete(TOKEN_QUERY_PARAM)
  // Only this client's own position rides along, never one left in `base`.
  u.searchParams.delete(SINCE_QUERY_PARAM)
  u.searchParams.delete(EPOCH_QUERY_PARAM)
  if (channel !== undefined) u.searchParams.set(CHANNEL_QUERY_PARAM, channel)
  if (channel !== undefined && point !== undefined) {
    u.searchParams.set(SINCE_QUERY_PARAM, String(point.offset))
    u.searchParams.set(EPOCH_QUERY_PARAM, point.epoch)
  }
  if (transport === 'protocol') {
    return { url: u.href, protocols: [APP_PROTOCOL, TOKEN_PROTOCOL_PREFIX + token] }
  }
  u.searchParams.set(TOKEN_QUERY_PARAM, token)
  return { url: u.href, protocols: [] }
}
