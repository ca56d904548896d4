/**
 * @module client/options
 * Client options with their defaults filled in, checked once at construction.
 */
import { GatehouseError } from '../errors.ts'
import { documentCookie } from './cookie.ts'
import type { ClientOptions, ClientTimers, FetchLike, WebSocketConstructor } from './types.ts'
import { CHANNEL_PATTERN } from './url.ts'
import { browserEnvironment } from './wake.ts'

/**
 * The client's defaults.
 *
 * @example
 * ```ts
 * new GatehouseClient({ url, maxReconnectDelayMs: CLIENT_DEFAULTS.maxReconnectDelayMs * 1.5 })
 * ```
 */
export const CLIENT_DEFAULTS = Object.freeze({
  tokenUrl: '/api/ws-token/',
  tokenTransport: 'query',
  csrfCookieName: 'csrftoken',
  csrfHeaderName: 'X-CSRFToken',
  minReconnectDelayMs: 500,
  maxReconnectDelayMs: 20_000,
  minUptimeMs: 5000,
  connectTimeoutMs: 10_000,
  maxRetries: Number.POSITIVE_INFINITY,
  maxRetryAfterMs: 600_000,
  maxQueuedMessages: 100,
  maxQueuedBytes: 1_048_576,
  maxMessageBytes: 131_072,
  keepAliveMs: 0,
  reconnectOnWake: true,
  /** Longer than AWS's 29 s integration timeout, so a slow handler's reply is not given up early. */
  requestTimeoutMs: 30_000,
  keepAliveMessage: '{"action":"ping"}',
  recover: true,
  recoveryTimeoutMs: 10_000,
  authCloseCodes: Object.freeze([4401, 4403]),
} as const)

/**
 * Options with every default applied.
 *
 * @example
 * ```ts
 * const o: ResolvedOptions = resolveOptions({ url: 'wss://gw.example/' })
 * ```
 */
export type ResolvedOptions = Required<Omit<ClientOptions, 'getToken' | 'channel'>> &
  Pick<ClientOptions, 'getToken' | 'channel'>

const systemTimers: ClientTimers = {
  now: () => Date.now(),
  // Wrapped, not passed as is: a browser's `setTimeout` throws "Illegal invocation" when
  // called as a method of another object.
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
}

const globalFetch: FetchLike = (url, init) => globalThis.fetch(url, init)

/**
 * Fills in defaults and rejects nonsense (negative delays, min above max, a bad channel)
 * with `ERR_INVALID_OPTION` / `ERR_OPTION_CONFLICT`.
 *
 * @example
 * ```ts
 * const o = resolveOptions({ url: 'wss://gw.example/' })
 * o.maxReconnectDelayMs // 20000
 * ```
 */
export function resolveOptions(opts: ClientOptions): ResolvedOptions {
  if (typeof opts !== 'object' || opts === null) invalid('options must be an object')
  if (typeof opts.url !== 'string' && typeof opts.url !== 'function') {
    invalid('url must be a string or a function')
  }
  const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (typeof WS !== 'function') invalid('no WebSocket class: pass options.WebSocket')
  const transport = opts.tokenTransport ?? CLIENT_DEFAULTS.tokenTransport
  if (transport !== 'query' && transport !== 'protocol') {
    invalid("tokenTransport must be 'query' or 'protocol'")
  }
  if (opts.channel !== undefined) checkChannel(opts.channel)

  const o: ResolvedOptions = {
    url: opts.url,
    tokenUrl: opts.tokenUrl ?? CLIENT_DEFAULTS.tokenUrl,
    tokenTransport: transport,
    csrfCookieName: opts.csrfCookieName ?? CLIENT_DEFAULTS.csrfCookieName,
    csrfHeaderName: opts.csrfHeaderName ?? CLIENT_DEFAULTS.csrfHeaderName,
    getCookie: opts.getCookie ?? documentCookie,
    minReconnectDelayMs: opts.minReconnectDelayMs ?? CLIENT_DEFAULTS.minReconnectDelayMs,
    maxReconnectDelayMs: opts.maxReconnectDelayMs ?? CLIENT_DEFAULTS.maxReconnectDelayMs,
    minUptimeMs: opts.minUptimeMs ?? CLIENT_DEFAULTS.minUptimeMs,
    connectTimeoutMs: opts.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs,
    maxRetries: opts.maxRetries ?? CLIENT_DEFAULTS.maxRetries,
    maxRetryAfterMs: opts.maxRetryAfterMs ?? CLIENT_DEFAULTS.maxRetryAfterMs,
    maxQueuedMessages: opts.maxQueuedMessages ?? CLIENT_DEFAULTS.maxQueuedMessages,
    maxQueuedBytes: opts.maxQueuedBytes ?? CLIENT_DEFAULTS.maxQueuedBytes,
    maxMessageBytes: opts.maxMessageBytes ?? CLIENT_DEFAULTS.maxMessageBytes,
    keepAliveMs: opts.keepAliveMs ?? CLIENT_DEFAULTS.keepAliveMs,
    requestTimeoutMs: opts.requestTimeoutMs ?? CLIENT_DEFAULTS.requestTimeoutMs,
    reconnectOnWake: opts.reconnectOnWake ?? CLIENT_DEFAULTS.reconnectOnWake,
    environment: opts.environment ?? browserEnvironment(),
    keepAliveMessage: opts.keepAliveMessage ?? CLIENT_DEFAULTS.keepAliveMessage,
    recover: opts.recover ?? CLIENT_DEFAULTS.recover,
    recoveryTimeoutMs: opts.recoveryTimeoutMs ?? CLIENT_DEFAULTS.recoveryTimeoutMs,
    authCloseCodes: opts.authCloseCodes ?? CLIENT_DEFAULTS.authCloseCodes,
    WebSocket: WS,
    fetch: opts.fetch ?? globalFetch,
    random: opts.random ?? Math.random,
    timers: opts.timers ?? systemTimers,
  }
  if (opts.getToken !== undefined) o.getToken = opts.getToken
  if (opts.channel !== undefined) o.channel = opts.channel

  for (const key of [
    'minReconnectDelayMs',
    'maxReconnectDelayMs',
    'connectTimeoutMs',
    'maxQueuedBytes',
    'maxMessageBytes',
    'requestTimeoutMs',
    'recoveryTimeoutMs',
  ] as const) {
    if (!(Number.isFinite(o[key]) && o[key] > 0)) invalid(`${key} must be a positive number`)
  }
  for (const key of [
    'minUptimeMs',
    'keepAliveMs',
    'maxRetryAfterMs',
    'maxQueuedMessages',
  ] as const) {
    if (!(Number.isFinite(o[key]) && o[key] >= 0)) invalid(`${key} must be a number >= 0`)
  }
  if (!(o.maxRetries >= 0)) invalid('maxRetries must be >= 0')
  if (o.minReconnectDelayMs > o.maxReconnectDelayMs) {
    throw new GatehouseError(
      'ERR_OPTION_CONFLICT',
      'minReconnectDelayMs must not exceed maxReconnectDelayMs',
    )
  }
  for (const key of ['tokenUrl', 'csrfCookieName', 'csrfHeaderName', 'keepAliveMessage'] as const) {
    if (typeof o[key] !== 'string' || o[key] === '') invalid(`${key} must be a non-empty string`)
  }
  for (const key of ['getCookie', 'fetch', 'random'] as const) {
    if (typeof o[key] !== 'function') invalid(`${key} must be a function`)
  }
  if (o.getToken !== undefined && typeof o.getToken !== 'function') {
    invalid('getToken must be a function')
  }
  if (typeof o.reconnectOnWake !== 'boolean') invalid('reconnectOnWake must be a boolean')
  if (typeof o.recover !== 'boolean') invalid('recover must be a boolean')
  if (typeof o.environment !== 'object' || o.environment === null) {
    invalid('environment must be an object ({ window, document })')
  }
  if (!Array.isArray(o.authCloseCodes)) invalid('authCloseCodes must be an array of close codes')
  return o
}

/**
 * Throws `ERR_INVALID_OPTION` unless `name` is a valid channel name.
 *
 * @example
 * ```ts
 * checkChannel('lobby') // ok
 * ```
 */
export function checkChannel(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !CHANNEL_PATTERN.test(name)) {
    invalid('channel must match ^[A-Za-z0-9_-]{1,128}$')
  }
}

function invalid(message: string): never {
  throw new GatehouseError('ERR_INVALID_OPTION', message)
}
