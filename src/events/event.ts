/**
 * @module events/event
 * The one neutral event shape the app sees, whatever carried it: an API Gateway HTTP
 * integration request, a Lambda proxy event, or the bundled gateway's in-process call.
 * Codecs (`./http.ts`, `./lambda.ts`) turn each transport into a {@link GatewayEvent} and the
 * app's {@link GatewayResponse} back into that transport's answer.
 */

/** The three event types of an API Gateway WebSocket API. */
export type EventType = 'CONNECT' | 'MESSAGE' | 'DISCONNECT'

/**
 * How the event reached the app, which decides how its authenticity is checked.
 * - `in-process`: the bundled gateway called the app directly (no trust boundary crossed).
 * - `lambda`: AWS invoked the function (IAM already authenticated the caller).
 * - `http`: an HTTP integration request; authentic only with a valid signature or secret header.
 */
export type EventTransport =
  | { readonly via: 'in-process' }
  | { readonly via: 'lambda' }
  | {
      readonly via: 'http'
      /** `x-gatehouse-signature` set by the bundled gateway (HMAC, see `events/signing.ts`). */
      readonly signature?: string
      /** `x-gatehouse-timestamp`, epoch milliseconds, covered by the signature. */
      readonly timestamp?: string
      /** `x-gatehouse-secret`: the static secret header an AWS request parameter mapping sets. */
      readonly staticSecret?: string
      /**
       * What the signature covers of the HTTP request itself, as the app received it. Set
       * by `decodeHttpEvent` when the call carries a signature; a verifier refuses a signed
       * event without it.
       */
      readonly request?: SignedRequest
    }

/**
 * The parts of a received HTTP integration request the gateway's signature covers beyond the
 * event's own fields (see `events/signing.ts`).
 *
 * @example
 * ```ts
 * const request: SignedRequest = {
 *   method: 'POST', path: '/ws/connect', rawQuery: 'channel=lobby&ws_token=t',
 *   headersHash: hashSignedHeaders(fetchRequest.headers),
 * }
 * ```
 */
export interface SignedRequest {
  /** The request method as received. */
  readonly method: string
  /** The URL path as received (`URL.pathname`). */
  readonly path: string
  /** The URL query as received, without `?` (`URL.search`); on every route, not only `$connect`. */
  readonly rawQuery: string
  /** Hex SHA-256 of the canonical list of every header received (`hashSignedHeaders`). */
  readonly headersHash: string
}

/**
 * The neutral event. Header names are lower-case; a header sent twice keeps both values
 * joined by `", "` (as Fetch `Headers` does), so duplicates stay detectable.
 *
 * @example
 * ```ts
 * const event: GatewayEvent = {
 *   eventType: 'MESSAGE', routeKey: '$default', connectionId: 'R1kmxc2VNjMCFIA=',
 *   headers: {}, query: {}, rawQuery: '', body: '{"action":"ping"}', sourceIp: '127.0.0.1',
 *   apiId: 'local', stage: 'production', domainName: '127.0.0.1', requestId: 'abc',
 *   connectedAt: Date.now(), requestTimeEpoch: Date.now(), transport: { via: 'in-process' },
 * }
 * ```
 */
export interface GatewayEvent {
  readonly eventType: EventType
  /** `$connect`, `$disconnect`, `$default` or a custom route key. */
  readonly routeKey: string
  readonly connectionId: string
  /** Lower-case names. Only `$connect` carries the client's handshake headers. */
  readonly headers: Readonly<Record<string, string>>
  /** Decoded query parameters of the handshake (last value wins); empty after `$connect`. */
  readonly query: Readonly<Record<string, string>>
  /** The raw handshake query string without `?`. */
  readonly rawQuery: string
  /** The raw text of the client's message; `undefined` on `$connect` and `$disconnect`. */
  readonly body: string | undefined
  /** The client address as the gateway saw it. */
  readonly sourceIp: string
  readonly userAgent?: string
  readonly apiId: string
  readonly stage: string
  readonly domainName: string
  readonly requestId: string
  readonly messageId?: string
  /** Epoch ms; constant for one connection. */
  readonly connectedAt: number
  readonly requestTimeEpoch: number
  readonly disconnectStatusCode?: number
  readonly disconnectReason?: string
  readonly transport: EventTransport
}

/**
 * The app's answer to one event.
 * On `$connect` a 2xx completes the upgrade and any other status is what the client gets;
 * only a `sec-websocket-protocol` header is passed on. On message routes `body` is the
 * reply a two-way route sends back. On `$disconnect` it is ignored.
 *
 * @example
 * ```ts
 * const accepted: GatewayResponse = { status: 200, headers: { 'sec-websocket-protocol': 'gatehouse.v1' } }
 * const rejected: GatewayResponse = { status: 429, body: 'Too Many Requests', headers: { 'retry-after': '12' } }
 * ```
 */
export interface GatewayResponse {
  readonly status: number
  readonly body?: string
  readonly headers?: Readonly<Record<string, string>>
}

/**
 * Anything that answers gateway events: the core app, or a test double.
 *
 * @example
 * ```ts
 * const echo: EventHandler = { handle: async (e) => ({ status: 200, body: e.body }) }
 * ```
 */
export interface EventHandler {
  handle(event: GatewayEvent): Promise<GatewayResponse>
}

/**
 * The event type of a route key: `$connect` and `$disconnect` are reserved, anything else is a message.
 *
 * @example
 * ```ts
 * eventTypeOf('$connect') // 'CONNECT'
 * eventTypeOf('chat')     // 'MESSAGE'
 * ```
 */
export function eventTypeOf(routeKey: string): EventType {
  if (routeKey === '$connect') return 'CONNECT'
  if (routeKey === '$disconnect') return 'DISCONNECT'
  return 'MESSAGE'
}
