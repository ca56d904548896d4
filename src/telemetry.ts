/**
 * @module telemetry
 * The one internal event stream of Gatehouse, on `node:diagnostics_channel` (channel
 * `gatehouse`): connects and their refusals, tokens, rate limits, messages, pushes, and the
 * latency of integrations and store calls. The Prometheus exporter (`gatehouse/metrics`) and
 * the admin page subscribe to it; so can OpenTelemetry or anything else, without a second
 * instrumentation.
 *
 * Call sites publish only when someone listens (`telemetry.hasSubscribers`), so without a
 * subscriber the hot paths build no event object and read no clock. Events carry no token,
 * cookie or session id; `key` (a rate-limit key) and nothing else may name a user or an IP,
 * for the admin page's hot keys — metrics never turn it into a label.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import type {
  AppRefusalReason,
  GatewayRefusalReason,
  RefusalReason,
  TokenRefusalReason,
} from './http/refusal.ts'

/** The name of the channel, for `diagnostics_channel.subscribe('gatehouse', …)`. */
export const TELEMETRY_CHANNEL = 'gatehouse'

/**
 * Which limit refused: the app's connect limits (per IP, failed tokens per IP, per user), the
 * token issue limit,
 * the gateway's per-connection message rate, or the management API's throttle.
 *
 * @example
 * ```ts
 * const kind: RateLimitKind = 'connect_ip'
 * ```
 */
export type RateLimitKind =
  | 'connect_ip'
  | 'connect_failures'
  | 'connect_user'
  | 'token_issue'
  | 'message'
  | 'management'

/**
 * The integration routes as telemetry groups them (a message route key is never a label).
 *
 * @example
 * ```ts
 * const route: IntegrationRoute = 'message'
 * ```
 */
export type IntegrationRoute = 'connect' | 'disconnect' | 'message'

/**
 * One event of the stream. A closed union: a subscriber can switch on `type` exhaustively.
 *
 * @example
 * ```ts
 * diagnostics_channel.subscribe('gatehouse', (message) => {
 *   const event = message as TelemetryEvent
 *   if (event.type === 'app_connect' && event.outcome === 'refused') console.log(event.reason)
 * })
 * ```
 */
export type TelemetryEvent =
  /** The bundled gateway opened a socket (the app accepted `$connect`). */
  | { readonly type: 'connection_opened' }
  /** A socket of the bundled gateway closed. */
  | { readonly type: 'connection_closed'; readonly code: number }
  /** The bundled gateway's view of an upgrade: accepted, or refused with its reason. */
  | {
      readonly type: 'gateway_connect'
      readonly outcome: 'accepted' | 'refused'
      readonly status: number
      readonly reason?: GatewayRefusalReason
    }
  /** The app's view of a `$connect`: accepted, or refused by a named check with a reason. */
  | {
      readonly type: 'app_connect'
      readonly outcome: 'accepted' | 'refused'
      readonly status: number
      readonly reason?: AppRefusalReason
      readonly check?: string
    }
  | { readonly type: 'token_issued' }
  | { readonly type: 'token_used' }
  /** A token refused at issue (the endpoint) or at use (`$connect`). */
  | {
      readonly type: 'token_refused'
      readonly stage: 'issue' | 'use'
      readonly reason: TokenRefusalReason | AppRefusalReason
    }
  /** A rate limit refused; `key` is the limited key (IP or user part), for the admin page. */
  | {
      readonly type: 'rate_limited'
      readonly kind: RateLimitKind
      readonly key?: string | undefined
    }
  /** A message arrived at the bundled gateway from a client. */
  | { readonly type: 'message_in' }
  /** A push reached `sent` connections (`recipients` were addressed). */
  | { readonly type: 'push'; readonly recipients: number; readonly sent: number }
  | { readonly type: 'push_failed'; readonly recipients: number }
  | { readonly type: 'push_gone'; readonly count: number }
  /** An integration call of the bundled gateway finished. */
  | {
      readonly type: 'integration'
      readonly route: IntegrationRoute
      readonly outcome: 'response' | 'timeout' | 'error'
      readonly durationMs: number
    }
  /** A store call finished (`ok: false` when it threw). */
  | {
      readonly type: 'store'
      readonly op: string
      readonly ok: boolean
      readonly durationMs: number
    }

/**
 * The channel itself. Publish as `if (telemetry.hasSubscribers) publish({...})`, so the event
 * object is only built when someone listens.
 *
 * @example
 * ```ts
 * if (telemetry.hasSubscribers) publish(FIXED_EVENTS.messageIn)
 * ```
 */
export const telemetry: diagnosticsChannel.Channel = diagnosticsChannel.channel(TELEMETRY_CHANNEL)

/**
 * The events whose fields never vary, built once and frozen: the hot paths (every connect,
 * every message) publish these without building an object. Subscribers get the same object
 * each time, so they must not keep it as a record of one occurrence by identity.
 *
 * @example
 * ```ts
 * if (telemetry.hasSubscribers) publish(FIXED_EVENTS.messageIn)
 * ```
 */
export const FIXED_EVENTS = Object.freeze({
  connectionOpened: Object.freeze({ type: 'connection_opened' }),
  gatewayAccepted: Object.freeze({ type: 'gateway_connect', outcome: 'accepted', status: 101 }),
  appAccepted: Object.freeze({ type: 'app_connect', outcome: 'accepted', status: 200 }),
  tokenIssued: Object.freeze({ type: 'token_issued' }),
  tokenUsed: Object.freeze({ type: 'token_used' }),
  messageIn: Object.freeze({ type: 'message_in' }),
} satisfies Record<string, TelemetryEvent>)

/**
 * Publish one event (callers check `telemetry.hasSubscribers` first on hot paths).
 *
 * @example
 * ```ts
 * publish({ type: 'token_issued' })
 * ```
 */
export function publish(event: TelemetryEvent): void {
  telemetry.publish(event)
}

/**
 * Subscribe to the stream; returns the unsubscribe function.
 *
 * @example
 * ```ts
 * const stop = subscribe((event) => { if (event.type === 'push_gone') gone += event.count })
 * stop()
 * ```
 */
export function subscribe(listener: (event: TelemetryEvent) => void): () => void {
  const handler = (message: unknown): void => listener(message as TelemetryEvent)
  telemetry.subscribe(handler)
  return () => {
    telemetry.unsubscribe(handler)
  }
}

/**
 * The limit kind of a refused rate-limit key (`connect:ip:…`, `connect:fail:…`,
 * `connect:user:…`, `token:user:…`).
 *
 * @example
 * ```ts
 * rateKindOf('connect:user:alice') // 'connect_user'
 * ```
 */
export function rateKindOf(key: string | undefined): RateLimitKind {
  if (key?.startsWith('connect:user:')) return 'connect_user'
  if (key?.startsWith('connect:fail:')) return 'connect_failures'
  if (key?.startsWith('token:')) return 'token_issue'
  return 'connect_ip'
}

/** A reason is any refusal reason (re-exported for subscribers). */
export type { RefusalReason }
