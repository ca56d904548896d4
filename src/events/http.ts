/**
 * @module events/http
 * The app side of an HTTP integration: an API Gateway `HTTP_PROXY` request (or the bundled
 * gateway's, which has the same shape) as a Fetch `Request` → {@link GatewayEvent}, and the
 * app's {@link GatewayResponse} → a Fetch `Response`.
 *
 * What the request carries (research `apigw-ws-spec.md` §1):
 * - the route in the URL's last path segment, as upstream provisions it
 *   (`…/connect`, `…/disconnect`, `…/default`, or the custom route's name);
 * - `connectionId` (any case), set by a request parameter mapping or our gateway;
 * - on `$connect`, the client's handshake headers and raw query string;
 * - on message routes, the raw frame text as the body;
 * - `X-Forwarded-For` (client IP), `X-Amzn-Apigateway-Api-Id`, `User-Agent`;
 * - our signature headers (`x-gatehouse-signature`, `-timestamp`) or the static secret.
 */
import { isIP } from 'node:net'
import { type Clock, systemClock } from '../clock.ts'
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import { CONTEXT_HEADERS, CONTEXT_NAME_PATTERN } from './context-headers.ts'
import {
  type EventTransport,
  eventTypeOf,
  type GatewayEvent,
  type GatewayResponse,
  type SignedRequest,
} from './event.ts'
import { isHeaderName, isHeaderValue, nullRecord, trimHeaderValue } from './headers.ts'
import { randomRequestId } from './ids.ts'
import {
  hashSignedHeaders,
  REQUEST_ID_PATTERN,
  SIGNATURE_HEADER,
  STATIC_SECRET_HEADER,
  TIMESTAMP_HEADER,
} from './signing.ts'

/** Options of {@link decodeHttpEvent}. */
export interface DecodeHttpOptions {
  /** The route key, when the URL does not carry it (one endpoint per route). */
  readonly routeKey?: string
  /**
   * The header holding the client IP (default `x-forwarded-for`). Its LAST entry is used:
   * API Gateway appends the address it saw to any value the client sent, and the bundled
   * gateway replaces the header outright, so only the last entry is the gateway's own.
   */
  readonly sourceIpHeader?: string
  /** Largest body read (default `DEFAULTS.maxMessageBytes`); larger is rejected unread. */
  readonly maxBodyBytes?: number
  /** The stage; default: the `x-gatehouse-stage` header, else `""`. */
  readonly stage?: string
  /** The API's domain name; default: the `x-gatehouse-domain-name` header, else `""`. */
  readonly domainName?: string
  readonly clock?: Clock
}

/**
 * Turn an HTTP integration request into a {@link GatewayEvent}.
 *
 * Header names are lower-cased and duplicates joined with `", "` (Fetch `Headers`); the
 * `x-gatehouse-*` headers are read into their fields and removed from `headers`, and so are
 * the call's own `Connection`, `Keep-Alive` and `Transfer-Encoding`. A signed call also
 * gets `transport.request`: its method, path, query and a hash of every header received,
 * which the signature verifier checks. The body
 * is read only on message routes and only up to `maxBodyBytes`. Query parameters are kept
 * only on `$connect` (the only call AWS appends the client's query string to).
 *
 * @throws GatehouseError `ERR_INVALID_EVENT` (the HTTP handler answers 400) when the route
 *   cannot be read, `connectionId` is missing or malformed, `$connect` has no valid client IP,
 *   or the body is too large or not UTF-8.
 * @example
 * ```ts
 * export default {
 *   async fetch(request: Request) {
 *     const event = await decodeHttpEvent(request, { stage: 'production' })
 *     return encodeHttpResponse(await app.handle(event))
 *   },
 * }
 * ```
 */
export async function decodeHttpEvent(
  request: Request,
  options: DecodeHttpOptions = {},
): Promise<GatewayEvent> {
  return decodeIntegrationCall(fetchCall(request), options)
}

/**
 * What the decoder reads of an integration call: a Fetch `Request` ({@link decodeHttpEvent}),
 * or the parts of a `node:http` request the node adapter hands over without building one
 * (`toNodeListener(app.fetch)`). Both give the decoder the same facts.
 */
export interface IntegrationCall {
  readonly method: string
  readonly url: URL
  /** Lower-case names, a repeated header joined as Fetch `Headers` joins it. */
  readonly headers: Iterable<readonly [string, string]>
  /**
   * The body as text, refused (`ERR_INVALID_EVENT`) past `maxBytes` (declared or read) or
   * when it is not UTF-8; nothing past the limit is buffered.
   */
  text(maxBytes: number): Promise<string>
  /** Release a body that is not read. */
  discard(): Promise<void>
}

/**
 * {@link decodeHttpEvent} over an {@link IntegrationCall}: the same event, the same checks.
 *
 * @throws GatehouseError `ERR_INVALID_EVENT`, as {@link decodeHttpEvent}.
 * @example
 * ```ts
 * const event = await decodeIntegrationCall({
 *   method: 'POST', url: new URL('http://app.test/ws/default'), headers: [['connectionid', id]],
 *   text: async () => '{}', discard: async () => {},
 * })
 * ```
 */
export async function decodeIntegrationCall(
  call: IntegrationCall,
  options: DecodeHttpOptions = {},
): Promise<GatewayEvent> {
  const clock = options.clock ?? systemClock
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULTS.maxMessageBytes
  const url = call.url
  const routeKey = options.routeKey ?? routeKeyFromPath(url.pathname)
  const eventType = eventTypeOf(routeKey)

  const headers = nullRecord<string>()
  const gatehouse = nullRecord<string>()
  for (const [name, value] of call.headers) {
    if (name.startsWith('x-gatehouse-')) gatehouse[name] = value
    // The gateway → app hop's own framing: never the client's, and not signed.
    else if (HOP_HEADERS.has(name)) continue
    else headers[name] = value
  }

  const connectionId = headers.connectionid
  if (connectionId === undefined || !DEFAULTS.connectionIdPattern.test(connectionId)) {
    await call.discard()
    throw new GatehouseError('ERR_INVALID_EVENT', 'Missing or malformed connectionId header')
  }

  const sourceIp = lastForwardedIp(
    headers[(options.sourceIpHeader ?? 'x-forwarded-for').toLowerCase()],
  )
  if (eventType === 'CONNECT' && sourceIp === '') {
    await call.discard()
    throw new GatehouseError('ERR_INVALID_EVENT', 'Missing or malformed client IP header')
  }

  let body: string | undefined
  if (eventType === 'MESSAGE') body = await call.text(maxBodyBytes)
  else await call.discard()

  const now = clock.now()
  const query = nullRecord<string>()
  let rawQuery = ''
  if (eventType === 'CONNECT') {
    rawQuery = url.search.slice(1)
    for (const [key, value] of url.searchParams) query[key] = value
  }

  const userAgent =
    eventType === 'CONNECT' ? headers['user-agent'] : gatehouse[CONTEXT_HEADERS.userAgent]
  const requestIdHeader = gatehouse[CONTEXT_HEADERS.requestId]
  const requestId =
    requestIdHeader !== undefined && REQUEST_ID_PATTERN.test(requestIdHeader)
      ? requestIdHeader
      : randomRequestId()

  const signature = gatehouse[SIGNATURE_HEADER]
  const transport: EventTransport = {
    via: 'http',
    ...optional('signature', signature),
    ...optional('timestamp', gatehouse[TIMESTAMP_HEADER]),
    ...optional('staticSecret', gatehouse[STATIC_SECRET_HEADER]),
    // What the signature covers of the request itself, read only when there is one to check.
    ...optional('request', signature === undefined ? undefined : signedRequestOf(call)),
  }

  const event: GatewayEvent = {
    eventType,
    routeKey,
    connectionId,
    headers,
    query,
    rawQuery,
    body,
    sourceIp,
    ...optional('userAgent', userAgent),
    apiId: headers['x-amzn-apigateway-api-id'] ?? '',
    stage: options.stage ?? contextName(gatehouse[CONTEXT_HEADERS.stage]),
    domainName: options.domainName ?? contextName(gatehouse[CONTEXT_HEADERS.domainName]),
    requestId,
    ...optional('messageId', eventType === 'MESSAGE' ? messageIdOf(gatehouse) : undefined),
    // On $connect the call happens during the handshake, so "now" is the connect time; a
    // header there could come from the client when AWS forwards handshake headers.
    connectedAt:
      eventType === 'CONNECT' ? now : (epochMs(gatehouse[CONTEXT_HEADERS.connectedAt], now) ?? now),
    requestTimeEpoch: now,
    ...(eventType === 'DISCONNECT' ? disconnectFields(gatehouse) : {}),
    transport,
  }
  return event
}

/**
 * The route key a URL path names: the last non-empty segment, `connect` → `$connect`,
 * `disconnect` → `$disconnect`, `default` → `$default` (upstream strips the `$`), a literal
 * `$connect` etc. as is, anything else a custom route (percent-decoded).
 *
 * @throws GatehouseError `ERR_INVALID_EVENT` when no valid route is found.
 * @example
 * ```ts
 * routeKeyFromPath('/ws/connect') // '$connect'
 * routeKeyFromPath('/ws/sendmessage') // 'sendmessage'
 * ```
 */
export function routeKeyFromPath(pathname: string): string {
  const segments = pathname.split('/').filter((s) => s !== '')
  const last = segments.at(-1)
  let segment: string | undefined
  try {
    segment = last === undefined ? undefined : decodeURIComponent(last)
  } catch {
    segment = undefined
  }
  if (segment === 'connect' || segment === '$connect') return '$connect'
  if (segment === 'disconnect' || segment === '$disconnect') return '$disconnect'
  if (segment === 'default' || segment === '$default') return '$default'
  if (segment !== undefined && /^[\x21-\x7e]{1,128}$/.test(segment) && !segment.startsWith('$')) {
    return segment
  }
  throw new GatehouseError('ERR_INVALID_EVENT', 'The URL does not name a route')
}

/**
 * Turn the app's answer into a Fetch `Response`: its status, its headers, its body (typed
 * `application/json` when it looks like JSON, else `text/plain`), and always
 * `cache-control: no-store`. Header names or values that cannot be sent are dropped; a
 * status outside 200–599 becomes a 500 (fail closed: not a 2xx, so `$connect` is refused).
 *
 * @example
 * ```ts
 * encodeHttpResponse({ status: 429, body: 'Too Many Requests', headers: { 'retry-after': '12' } })
 * ```
 */
export function encodeHttpResponse(response: GatewayResponse): Response {
  const { status, headers, body } = httpResponseParts(response)
  return new Response(body ?? null, { status, headers })
}

/** What {@link encodeHttpResponse} answers, before it becomes a Fetch `Response`. */
export interface HttpResponseParts {
  readonly status: number
  /** Lower-case names, each once; always `cache-control`, and `content-type` with a body. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string | undefined
}

/**
 * The status, headers and body {@link encodeHttpResponse} puts in its `Response`, as plain
 * values (the node adapter writes them as they are).
 *
 * @example
 * ```ts
 * httpResponseParts({ status: 200, body: '{"ok":true}' })
 * // { status: 200, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, body: '{"ok":true}' }
 * ```
 */
export function httpResponseParts(response: GatewayResponse): HttpResponseParts {
  const valid =
    Number.isInteger(response.status) && response.status >= 200 && response.status <= 599
  const status = valid ? response.status : 500
  const headers = nullRecord<string>()
  if (valid && response.headers) {
    for (const name of Object.keys(response.headers)) {
      const value = response.headers[name]
      if (typeof value !== 'string' || !isHeaderName(name) || !isHeaderValue(value)) continue
      // As `Headers.set`: names lower-cased, the value trimmed, a later casing replaces.
      headers[name.toLowerCase()] = trimHeaderValue(value)
    }
  }
  const nullBody = status === 204 || status === 205 || status === 304
  const body = !valid ? 'Internal Server Error' : nullBody ? undefined : response.body
  if (body !== undefined && headers['content-type'] === undefined) {
    headers['content-type'] = looksLikeJson(body)
      ? 'application/json; charset=utf-8'
      : 'text/plain; charset=utf-8'
  }
  headers['cache-control'] = 'no-store'
  return { status, headers, body }
}

function looksLikeJson(body: string): boolean {
  const first = body.trimStart()[0]
  if (first !== '{' && first !== '[') return false
  try {
    JSON.parse(body)
    return true
  } catch {
    return false
  }
}

/** Hop-by-hop headers of the call itself, left out of the event (AWS leaves them out too). */
const HOP_HEADERS: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'transfer-encoding'])

/** The request facts a v2 signature covers, as received. */
function signedRequestOf(call: IntegrationCall): SignedRequest {
  return {
    method: call.method,
    path: call.url.pathname,
    rawQuery: call.url.search.slice(1),
    headersHash: hashSignedHeaders(call.headers),
  }
}

/** A Fetch `Request` as an {@link IntegrationCall}. */
function fetchCall(request: Request): IntegrationCall {
  return {
    method: request.method,
    url: parseUrl(request.url),
    headers: request.headers,
    text: (maxBytes) => readBoundedText(request, maxBytes),
    discard: () => discardBody(request),
  }
}

function parseUrl(raw: string): URL {
  try {
    return new URL(raw)
  } catch {
    throw new GatehouseError('ERR_INVALID_EVENT', 'The request URL cannot be parsed')
  }
}

/** The last comma-separated entry, when it is an IP address; else `""`. */
function lastForwardedIp(value: string | undefined): string {
  if (value === undefined) return ''
  const last = value.split(',').at(-1)?.trim() ?? ''
  return isIP(last) === 0 ? '' : last
}

function contextName(value: string | undefined): string {
  return value !== undefined && CONTEXT_NAME_PATTERN.test(value) ? value : ''
}

function messageIdOf(gatehouse: Record<string, string>): string | undefined {
  const value = gatehouse[CONTEXT_HEADERS.messageId]
  return value !== undefined && REQUEST_ID_PATTERN.test(value) ? value : undefined
}

function epochMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined || !/^[0-9]{1,15}$/.test(value)) return undefined
  const ms = Number(value)
  return ms <= now ? ms : undefined
}

function disconnectFields(gatehouse: Record<string, string>): {
  disconnectStatusCode?: number
  disconnectReason?: string
} {
  const out: { disconnectStatusCode?: number; disconnectReason?: string } = {}
  const code = gatehouse[CONTEXT_HEADERS.disconnectStatusCode]
  if (code !== undefined && /^[0-9]{4}$/.test(code)) out.disconnectStatusCode = Number(code)
  const reason = gatehouse[CONTEXT_HEADERS.disconnectReason]
  if (reason !== undefined) {
    try {
      out.disconnectReason = decodeURIComponent(reason)
    } catch {
      // A reason that does not decode is dropped: it is informational only.
    }
  }
  return out
}

/** `{ [key]: value }` when value is defined, else `{}` (for exact optional properties). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V })
}

async function discardBody(request: Request): Promise<void> {
  if (request.body === null || request.bodyUsed) return
  try {
    await request.body.cancel()
  } catch {
    // Nothing to release.
  }
}

async function readBoundedText(request: Request, maxBytes: number): Promise<string> {
  const declared = request.headers.get('content-length')
  if (declared !== null && /^[0-9]+$/.test(declared) && Number(declared) > maxBytes) {
    await discardBody(request)
    throw new GatehouseError('ERR_INVALID_EVENT', 'The body is larger than allowed')
  }
  if (request.body === null) return ''
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      // Stop reading: the rest of an oversized body is never buffered.
      await reader.cancel().catch(() => {})
      throw new GatehouseError('ERR_INVALID_EVENT', 'The body is larger than allowed')
    }
    chunks.push(value)
  }
  return bodyText(Buffer.concat(chunks), Number.POSITIVE_INFINITY)
}

// ignoreBOM keeps a leading BOM: the body is passed on as raw text. One decoder serves every
// call: without `stream`, each `decode` starts afresh.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * A body already in memory as text: refused (`ERR_INVALID_EVENT`) past `maxBytes` or when
 * it is not UTF-8, as a streamed body is.
 *
 * @example
 * ```ts
 * bodyText(Buffer.from('{}'), 131_072) // '{}'
 * ```
 */
export function bodyText(bytes: Uint8Array, maxBytes: number): string {
  if (bytes.byteLength > maxBytes) {
    throw new GatehouseError('ERR_INVALID_EVENT', 'The body is larger than allowed')
  }
  try {
    return UTF8.decode(bytes)
  } catch {
    throw new GatehouseError('ERR_INVALID_EVENT', 'The body is not valid UTF-8')
  }
}
