/**
 * @module client/types
 * The shapes of the browser client: options, states, events, and the small slices of
 * `WebSocket`, `fetch` and the timers it uses (so tests can inject fakes).
 */
import type { Clock } from '../clock.ts'
import type { RecoveredDetail } from './history.ts'
import type { TokenTransport } from './url.ts'
import type { WakeEnvironment } from './wake.ts'

/**
 * Where the client is.
 * `idle` (not started) → `connecting` (fetching a token, opening a socket) → `open` →
 * `reconnecting` (waiting out a backoff delay) → `connecting` … and finally `closed`
 * (after `close()`) or `failed` (authentication refused, or retries exhausted).
 *
 * @example
 * ```ts
 * if (client.state === 'failed') showLoginLink()
 * ```
 */
export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed' | 'failed'

/**
 * Why the client stopped for good.
 *
 * @example
 * ```ts
 * client.on('failed', ({ reason }) => { if (reason === 'auth') location.assign('/login') })
 * ```
 */
export type FailReason =
  /** The token endpoint answered 401/403, `getToken` threw `ERR_AUTH_FAILED`, or the server closed with an auth close code. */
  | 'auth'
  /** `maxRetries` consecutive attempts failed. */
  | 'gave-up'

/**
 * What went wrong, in an `error` event. None of these stops the client by itself.
 *
 * @example
 * ```ts
 * client.on('error', ({ reason }) => { if (reason === 'queue-full') showOfflineBanner() })
 * ```
 */
export type ClientErrorReason =
  /** The token endpoint failed (network, 5xx, 429, malformed body, a repeated token). */
  | 'token'
  /** No open socket within `connectTimeoutMs`. */
  | 'connect-timeout'
  /** The socket reported an error, or could not be created. */
  | 'socket'
  /** `send` found the queue full (count or bytes); the message was refused. */
  | 'queue-full'
  /** `send` was given a message over `maxMessageBytes`; the message was refused. */
  | 'message-too-large'
  /** An incoming frame was not JSON text; it was dropped. */
  | 'bad-message'
  /** `send` after `close()` or `failed`; the message was refused. */
  | 'not-connected'

/**
 * Details of a `state` event.
 *
 * @example
 * ```ts
 * client.on('state', ({ state, delayMs }) => console.log(state, delayMs ?? ''))
 * ```
 */
export interface StateDetail {
  state: ClientState
  previous: ClientState
  /** For `reconnecting`: how long until the next attempt. */
  delayMs?: number
}

/**
 * Details of a `close` event (one per socket that closed after it was created).
 *
 * @example
 * ```ts
 * client.on('close', ({ code, willReconnect }) => console.log(code, willReconnect))
 * ```
 */
export interface CloseDetail {
  code: number
  reason: string
  wasClean: boolean
  /** Whether another attempt follows. */
  willReconnect: boolean
}

/**
 * Details of an `error` event. Never contains the token.
 *
 * @example
 * ```ts
 * client.on('error', ({ reason, status }) => console.warn(reason, status ?? ''))
 * ```
 */
export interface ErrorDetail {
  reason: ClientErrorReason
  message: string
  /** HTTP status of the token endpoint, when that is what failed. */
  status?: number
  cause?: unknown
}

/**
 * Details of the `failed` event.
 *
 * @example
 * ```ts
 * client.on('failed', ({ reason, status, code }) => console.warn(reason, status ?? code))
 * ```
 */
export interface FailedDetail {
  reason: FailReason
  /** HTTP status of the token endpoint (401, 403). */
  status?: number
  /** Close code the server sent (`authCloseCodes`). */
  code?: number
}

/**
 * Every event the client dispatches, with the `detail` of its `CustomEvent`.
 *
 * @example
 * ```ts
 * const onMessage = (msg: ClientEventMap<ChatIn>['message']) => render(msg)
 * ```
 */
export interface ClientEventMap<In = unknown> {
  state: StateDetail
  open: { protocol: string }
  /** A parsed JSON message from the server. */
  message: In
  close: CloseDetail
  error: ErrorDetail
  failed: FailedDetail
  /** A recovery after a reconnect ended (see the `recover` option). */
  recovered: RecoveredDetail
}

/**
 * Outgoing messages by action name: `{ send_message: { text: string } }` makes
 * `send('send_message', { text })` type-checked. The default accepts any object. The app's
 * own handler map (`typeof handlers`) works too: see {@link BodyOf} and {@link ReplyOf}.
 *
 * @example
 * ```ts
 * type Out = { send_message: { text: string }; kick: { user: string } }
 * const c = new GatehouseClient<unknown, Out>({ url })
 * c.send('kick', { user: 'bob' })
 * ```
 */
export type OutgoingMap = Record<string, Record<string, unknown> | undefined>

/**
 * The body a client sends for one entry of its `Out` map. An entry that is a handler of the
 * app (a function, or a `{ schema, run }` spec as `defineHandler` returns it) gives its
 * schema's input type, so `GatehouseClient<In, typeof handlers>` checks bodies against the
 * server's schemas; any other entry is the body type itself. Read structurally: the client
 * imports nothing from the server.
 *
 * @example
 * ```ts
 * type Body = BodyOf<typeof handlers.send_message> // { text: string }
 * ```
 */
export type BodyOf<E> = E extends (...args: never[]) => unknown
  ? Record<string, unknown> | undefined
  : E extends { readonly run: (...args: never[]) => unknown }
    ? E extends { readonly schema: { readonly '~standard': { readonly types?: infer T } } }
      ? NonNullable<T> extends { readonly input: infer I }
        ? I
        : Record<string, unknown>
      : Record<string, unknown> | undefined
    : E

/**
 * What `request()` resolves with for one entry of the `Out` map: the awaited return type of
 * the handler's `run` (or of the handler function); `unknown` for plain body types.
 *
 * @example
 * ```ts
 * type Reply = ReplyOf<typeof handlers.send_message> // { type: 'sent'; length: number }
 * ```
 */
export type ReplyOf<E> = E extends (...args: never[]) => infer R
  ? Awaited<R>
  : E extends { readonly run: (...args: never[]) => infer R }
    ? Awaited<R>
    : unknown

/**
 * The part of a WebSocket the client uses (the browser's, Node's global one, or `ws`).
 *
 * @example
 * ```ts
 * const ws: WebSocketLike = new WebSocket('wss://gw.example/?ws_token=t')
 * ```
 */
export interface WebSocketLike {
  readonly readyState: number
  readonly protocol: string
  // `never` parameters: the client only assigns these, and any real WebSocket's handler
  // types (MessageEvent, CloseEvent, `ws`'s own events) must fit.
  onopen: ((ev: never) => unknown) | null
  onmessage: ((ev: never) => unknown) | null
  onclose: ((ev: never) => unknown) | null
  onerror: ((ev: never) => unknown) | null
  send(data: string): void
  close(code?: number, reason?: string): void
}

/**
 * A WebSocket class: `globalThis.WebSocket`, `ws`'s `WebSocket`, or a test fake.
 *
 * @example
 * ```ts
 * import { WebSocket } from 'ws'
 * new GatehouseClient({ url, WebSocket })
 * ```
 */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike

/**
 * Time for the client: `now`, and one-shot timers. Tests pass a fake to need no waiting.
 *
 * @example
 * ```ts
 * const timers: ClientTimers = { now: Date.now, setTimeout: (f, ms) => setTimeout(f, ms),
 *   clearTimeout: (h) => clearTimeout(h as number) }
 * ```
 */
export interface ClientTimers extends Clock {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/**
 * A `fetch` the client may call as a plain function.
 *
 * @example
 * ```ts
 * const f: FetchLike = (url, init) => fetch(url, init)
 * ```
 */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>

/**
 * Options of {@link GatehouseClient}. Every duration is in milliseconds.
 *
 * @example
 * ```ts
 * const options: ClientOptions = { url: 'wss://gw.example/', channel: 'lobby', keepAliveMs: 540_000 }
 * ```
 */
export interface ClientOptions {
  /**
   * The gateway's WebSocket URL, absolute or relative to the page (`http(s)` becomes `ws(s)`),
   * or a function returning one (called before every attempt).
   */
  url: string | (() => string | Promise<string>)
  /**
   * The token endpoint, POSTed once before every attempt. Default `/api/ws-token/` (relative
   * to the page; outside a browser pass an absolute URL).
   */
  tokenUrl?: string
  /** Channel to join at connect (`?channel=`); can be changed later through `client.channel`. */
  channel?: string
  /**
   * Replaces the token request: must return a fresh token on every call. Throw a
   * `GatehouseError` with code `ERR_AUTH_FAILED` to stop retrying.
   */
  getToken?: (ctx: { signal: AbortSignal }) => Promise<string>
  /** `query` (`?ws_token=`, the default, AWS compatible) or `protocol` (`Sec-WebSocket-Protocol`). */
  tokenTransport?: TokenTransport
  /** CSRF cookie read for the token request. Default `csrftoken`. */
  csrfCookieName?: string
  /** CSRF header sent with the token request. Default `X-CSRFToken`. */
  csrfHeaderName?: string
  /** Reads a cookie by name. Default: `document.cookie` when there is a document. */
  getCookie?: (name: string) => string | undefined
  /** Backoff floor. Default 500. */
  minReconnectDelayMs?: number
  /** Backoff cap. Default 20 000. */
  maxReconnectDelayMs?: number
  /** A connection must stay open this long before the backoff starts over. Default 5000. */
  minUptimeMs?: number
  /** Token request plus socket opening must finish within this. Default 10 000. */
  connectTimeoutMs?: number
  /** Consecutive failed attempts before giving up (`failed`, `gave-up`). Default Infinity. */
  maxRetries?: number
  /** Longest `Retry-After` honoured (a hostile or broken value cannot park the client). Default 600 000. */
  maxRetryAfterMs?: number
  /** Messages kept while not open. Default 100. */
  maxQueuedMessages?: number
  /** UTF-8 bytes kept while not open. Default 1 MiB. */
  maxQueuedBytes?: number
  /** Largest message `send` accepts (AWS: 128 KiB; larger closes the socket with 1009). */
  maxMessageBytes?: number
  /** Send a data frame after this long without one (AWS idle timeout counts data frames only). 0 = off (default). */
  keepAliveMs?: number
  /** How long `request()` waits for its reply unless given its own `timeoutMs`. Default 30 000. */
  requestTimeoutMs?: number
  /**
   * After a disconnect, reconnect at once (within a jittered `minReconnectDelayMs`, with a
   * fresh token, never before a `Retry-After`) when the browser goes `online` or the page
   * becomes visible again, instead of waiting out the backoff. Default true.
   */
  reconnectOnWake?: boolean
  /** Injectable: where `online` and `visibilitychange` come from. Default the page's `window` and `document`. */
  environment?: WakeEnvironment
  /**
   * Track channel history and recover after a reconnect: the client presents the last
   * offset and epoch it saw of its channel, holds that channel's history messages back
   * until the app's `recovered` notice, and delivers them in order, once each. Default true.
   */
  recover?: boolean
  /** How long a recovery waits for the app's notice before delivering what it holds. Default 10 000. */
  recoveryTimeoutMs?: number
  /** The keep-alive frame. Default `{"action":"ping"}`. */
  keepAliveMessage?: string
  /** Close codes from the server that mean "do not come back". Default `[4401, 4403]`. */
  authCloseCodes?: readonly number[]
  /** Injectable for tests and Node: the WebSocket class. Default `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor
  /** Injectable: `fetch`. Default `globalThis.fetch`. */
  fetch?: FetchLike
  /** Injectable: uniform numbers in `[0, 1)`. Default `Math.random`. */
  random?: () => number
  /** Injectable: clock and timers. Default `Date.now`, `setTimeout`, `clearTimeout`. */
  timers?: ClientTimers
}
