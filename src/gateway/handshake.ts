/**
 * @module gateway/handshake
 * What the gateway keeps from a client's upgrade request, and the events built from it.
 * Every event of a connection carries the same identity (`sourceIp`, `userAgent`) and the same
 * `connectedAt`; only `$connect` carries the handshake headers and query (as on AWS).
 */
import type { IncomingMessage } from 'node:http'
import { Server, type Socket } from 'node:net'
import type { EventTransport, GatewayEvent } from '../events/event.ts'
import { isGatewayOwnedHeader } from '../events/headers.ts'
import { randomRequestId } from '../events/ids.ts'

/**
 * What a connection keeps for its whole life: the facts every event carries. Small on
 * purpose — an open connection lives for up to 2 h, and the client-controlled handshake
 * (headers, query) is only read by `$connect`.
 *
 * @example
 * ```ts
 * const event = messageEvent(conn.identity, api, '$default', body, clock.now())
 * ```
 */
export interface ConnectionIdentity {
  readonly connectionId: string
  readonly connectedAt: number
  readonly sourceIp: string
  readonly userAgent: string | undefined
  readonly domainName: string
  /** The port the client connected to (`X-Forwarded-Port` of HTTP integration calls). */
  readonly localPort: number
}

/**
 * Everything the gateway reads from a client's upgrade request: the identity plus the
 * handshake headers and query, which only `$connect` carries and which are dropped once it
 * has run ({@link identityOf}).
 *
 * @example
 * ```ts
 * const event = connectEvent(handshake, api, clock.now())
 * ```
 */
export interface Handshake extends ConnectionIdentity {
  /** Lower-case names; a header sent twice keeps both values joined by `", "`. */
  readonly headers: Readonly<Record<string, string>>
  /** Node's `req.rawHeaders`: the client's casing and order, for the HTTP and Lambda codecs. */
  readonly rawHeaders: readonly string[]
  readonly query: Readonly<Record<string, string>>
  readonly rawQuery: string
}

/**
 * What an integration call is made for: a connection's identity and, on `$connect` only, the
 * client's raw handshake headers (their casing and order, for the HTTP and Lambda codecs).
 * A {@link Handshake} is one; so is a {@link ConnectionIdentity}.
 *
 * @example
 * ```ts
 * const facts: ConnectionFacts = event.eventType === 'CONNECT' ? handshake : conn.identity
 * ```
 */
export type ConnectionFacts = ConnectionIdentity & { readonly rawHeaders?: readonly string[] }

/**
 * A connection's identity alone, as a new object: nothing of the handshake's headers or
 * query stays reachable from it.
 *
 * @example
 * ```ts
 * const conn = { id, identity: identityOf(handshake), ... }
 * ```
 */
export function identityOf(h: ConnectionIdentity): ConnectionIdentity {
  return {
    connectionId: h.connectionId,
    connectedAt: h.connectedAt,
    sourceIp: h.sourceIp,
    userAgent: h.userAgent,
    domainName: h.domainName,
    localPort: h.localPort,
  }
}

/**
 * Where the API lives: the same on every event.
 *
 * @example
 * ```ts
 * const api: ApiContext = { apiId: 'abc123defg', stage: 'production' }
 * ```
 */
export interface ApiContext {
  readonly apiId: string
  readonly stage: string
}

const IN_PROCESS: EventTransport = Object.freeze({ via: 'in-process' })
const EMPTY: Readonly<Record<string, string>> = Object.freeze({})

/**
 * Lower-case a raw header list. Built with `Object.fromEntries`, so a header named
 * `__proto__` becomes an ordinary own key and cannot touch the object's prototype.
 *
 * @example
 * ```ts
 * lowerCaseHeaders(['Host', 'a', 'X-A', '1', 'x-a', '2']) // { host: 'a', 'x-a': '1, 2' }
 * ```
 */
export function lowerCaseHeaders(rawHeaders: readonly string[]): Record<string, string> {
  const map = new Map<string, string>()
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase()
    const value = rawHeaders[i + 1] ?? ''
    const seen = map.get(name)
    map.set(name, seen === undefined ? value : `${seen}, ${value}`)
  }
  return Object.fromEntries(map)
}

/**
 * Decode a raw query string, last value winning (what AWS does for `queryStringParameters`).
 * Malformed percent-escapes are kept as written rather than failing the handshake.
 *
 * @example
 * ```ts
 * parseQuery('ws_token=a&channel=x&channel=y') // { ws_token: 'a', channel: 'y' }
 * ```
 */
export function parseQuery(rawQuery: string): Record<string, string> {
  const map = new Map<string, string>()
  for (const [key, value] of new URLSearchParams(rawQuery)) map.set(key, value)
  return Object.fromEntries(map)
}

/**
 * Where a client connected: the domain name (`address:port`) and the local port.
 *
 * @example
 * ```ts
 * const endpoint: LocalEndpoint = { domainName: '127.0.0.1:3001', localPort: 3001 }
 * ```
 */
export interface LocalEndpoint {
  readonly domainName: string
  readonly localPort: number
}

function endpointOf(address: string | undefined, port: number | undefined): LocalEndpoint {
  const a = address ?? '127.0.0.1'
  const host = a.includes(':') ? `[${a}]` : a
  return { domainName: `${host}:${port ?? 0}`, localPort: port ?? 0 }
}

/** Per server: its endpoint when it listens on one address, `null` on a wildcard address. */
const serverEndpoints = new WeakMap<Server, LocalEndpoint | null>()

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '::ffff:0.0.0.0'
}

/**
 * {@link LocalEndpoint} of a socket. A socket accepted by a server bound to one address has
 * that server's address: computed once per server and shared by its connections (no
 * `getsockname` and no new string per connection). A server on a wildcard address, or a
 * socket no server accepted, is asked per connection.
 *
 * @example
 * ```ts
 * localEndpoint(req.socket) // { domainName: '127.0.0.1:3001', localPort: 3001 }
 * ```
 */
export function localEndpoint(socket: Socket): LocalEndpoint {
  const server = (socket as Socket & { server?: unknown }).server
  if (server instanceof Server) {
    let endpoint = serverEndpoints.get(server)
    if (endpoint === undefined) {
      const address = server.address()
      endpoint =
        address !== null && typeof address === 'object' && !isWildcard(address.address)
          ? endpointOf(address.address, address.port)
          : null
      serverEndpoints.set(server, endpoint)
      // Listening again may bind another address.
      server.once('listening', () => serverEndpoints.delete(server))
    }
    if (endpoint !== null) return endpoint
  }
  return endpointOf(socket.localAddress, socket.localPort)
}

/**
 * The headers an in-process `$connect` event carries: the client's, minus every header the
 * gateway owns (a client-written `X-Forwarded-For`, `X-Real-Ip`, `connectionId`, `X-Amzn-*`,
 * `x-gatehouse-*`, `Forwarded`, `Via`), plus `x-forwarded-for` set to the address the gateway
 * resolved — what an app behind AWS or the HTTP integration sees too.
 *
 * @example
 * ```ts
 * eventHeaders({ 'x-forwarded-for': '6.6.6.6', cookie: 'a=b' }, '127.0.0.1')
 * // { cookie: 'a=b', 'x-forwarded-for': '127.0.0.1' }
 * ```
 */
export function eventHeaders(
  headers: Readonly<Record<string, string>>,
  sourceIp: string,
): Record<string, string> {
  const map = new Map<string, string>()
  for (const name of Object.keys(headers)) {
    if (name === 'host' || !isGatewayOwnedHeader(name)) map.set(name, headers[name] ?? '')
  }
  map.set('x-forwarded-for', sourceIp)
  return Object.fromEntries(map)
}

/**
 * The headers of a `$connect` event straight from the raw header list, in one pass: what
 * `eventHeaders(lowerCaseHeaders(rawHeaders), sourceIp)` gives (same keys, values and
 * order), without building the intermediate map.
 *
 * @example
 * ```ts
 * handshakeHeaders(['Cookie', 'a=b', 'X-Forwarded-For', '6.6.6.6'], '127.0.0.1')
 * // { cookie: 'a=b', 'x-forwarded-for': '127.0.0.1' }
 * ```
 */
export function handshakeHeaders(
  rawHeaders: readonly string[],
  sourceIp: string,
): Record<string, string> {
  const map = new Map<string, string>()
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase()
    if (name !== 'host' && isGatewayOwnedHeader(name)) continue
    const value = rawHeaders[i + 1] ?? ''
    const seen = map.get(name)
    map.set(name, seen === undefined ? value : `${seen}, ${value}`)
  }
  map.set('x-forwarded-for', sourceIp)
  return Object.fromEntries(map)
}

/**
 * Capture a handshake.
 *
 * @example
 * ```ts
 * const handshake = readHandshake(req, { connectionId: newId(), connectedAt: clock.now(), sourceIp, domainName, localPort })
 * ```
 */
export function readHandshake(
  req: IncomingMessage,
  facts: {
    readonly connectionId: string
    readonly connectedAt: number
    readonly sourceIp: string
    readonly domainName: string
    readonly localPort: number
  },
): Handshake {
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  const rawQuery = q === -1 ? '' : url.slice(q + 1)
  const headers = handshakeHeaders(req.rawHeaders, facts.sourceIp)
  return {
    ...facts,
    headers,
    rawHeaders: req.rawHeaders,
    query: parseQuery(rawQuery),
    rawQuery,
    userAgent: headers['user-agent'],
  }
}

function base(
  h: ConnectionIdentity,
  api: ApiContext,
  now: number,
): Omit<GatewayEvent, 'eventType' | 'routeKey' | 'headers' | 'query' | 'rawQuery' | 'body'> {
  return {
    connectionId: h.connectionId,
    sourceIp: h.sourceIp,
    ...(h.userAgent === undefined ? {} : { userAgent: h.userAgent }),
    apiId: api.apiId,
    stage: api.stage,
    domainName: h.domainName,
    requestId: randomRequestId(),
    connectedAt: h.connectedAt,
    requestTimeEpoch: now,
    transport: IN_PROCESS,
  }
}

/**
 * The `$connect` event: the handshake headers and query.
 *
 * @example
 * ```ts
 * const event = connectEvent(handshake, { apiId, stage }, clock.now())
 * ```
 */
export function connectEvent(h: Handshake, api: ApiContext, now: number): GatewayEvent {
  return {
    ...base(h, api, now),
    eventType: 'CONNECT',
    routeKey: '$connect',
    headers: h.headers,
    query: h.query,
    rawQuery: h.rawQuery,
    body: undefined,
  }
}

/**
 * A message event: the selected route key, a fresh message id, the raw text.
 *
 * @example
 * ```ts
 * const event = messageEvent(conn.identity, api, '$default', '{"action":"ping"}', clock.now())
 * ```
 */
export function messageEvent(
  h: ConnectionIdentity,
  api: ApiContext,
  routeKey: string,
  body: string,
  now: number,
): GatewayEvent {
  return {
    ...base(h, api, now),
    eventType: 'MESSAGE',
    routeKey,
    headers: EMPTY,
    query: EMPTY,
    rawQuery: '',
    body,
    messageId: randomRequestId(),
  }
}

/**
 * The `$disconnect` event, with the close code and reason.
 *
 * @example
 * ```ts
 * const event = disconnectEvent(conn.identity, api, 1000, 'Connection Closed Normally', clock.now())
 * ```
 */
export function disconnectEvent(
  h: ConnectionIdentity,
  api: ApiContext,
  code: number,
  reason: string,
  now: number,
): GatewayEvent {
  return {
    ...base(h, api, now),
    eventType: 'DISCONNECT',
    routeKey: '$disconnect',
    headers: EMPTY,
    query: EMPTY,
    rawQuery: '',
    body: undefined,
    disconnectStatusCode: code,
    disconnectReason: reason,
  }
}
