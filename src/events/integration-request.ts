/**
 * @module events/integration-request
 * The gateway side of an HTTP integration: a {@link GatewayEvent} → the request API Gateway's
 * `HTTP_PROXY` integration would send (research `apigw-ws-spec.md` §1, checklist 9–16).
 *
 * Fetch hides `Host` and `Content-Length` and lower-cases names, so the result is a plain
 * descriptor — method, URL, ordered `[name, value]` pairs with their casing, body — that
 * `sendIntegrationRequest` (`./integration-send.ts`) writes with `node:http` as is.
 */
import { isIP } from 'node:net'
import { type Clock, systemClock } from '../clock.ts'
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import { CONTEXT_HEADERS, CONTEXT_NAME_PATTERN } from './context-headers.ts'
import type { GatewayEvent } from './event.ts'
import {
  forwardableClientHeaders,
  isHeaderName,
  isHeaderValue,
  joinRepeatedHeaders,
} from './headers.ts'
import { traceId } from './ids.ts'
import {
  hashSignedHeaders,
  REQUEST_ID_PATTERN,
  SIGNATURE_HEADER,
  signEvent,
  TIMESTAMP_HEADER,
} from './signing.ts'

/** Where and how to call the app. */
export interface IntegrationTarget {
  /** The integration URI, used exactly (see {@link integrationUrlFor}). */
  readonly url: string
  /** The integration method; default `POST` (what upstream provisions). */
  readonly method?: string
  /** The API id sent in `X-Amzn-Apigateway-Api-Id` and the `AmazonAPIGateway_<apiId>` agent. */
  readonly apiId: string
  /** The shared secret; when set, every call is signed (`./signing.ts`). */
  readonly secret?: string
  /** Time for the signature and the trace id. */
  readonly clock?: Clock
  /** `X-Forwarded-Proto`: how the client reached the gateway; default `https` (as on AWS). */
  readonly forwardedProto?: 'http' | 'https'
  /** `X-Forwarded-Port`; default 443 for https, 80 for http. */
  readonly forwardedPort?: number
  /** Also send `X-Real-Ip` (upstream's view requires it outside AWS). Default false. */
  readonly realIpHeader?: boolean
}

/** A request ready to send: header casing and order are kept. */
export interface IntegrationRequest {
  readonly method: string
  readonly url: string
  readonly headers: ReadonlyArray<readonly [string, string]>
  /** `""` on `$connect` and `$disconnect`; the raw frame text on message routes. */
  readonly body: string
}

const METHOD = /^[A-Z]{1,16}$/
const API_ID = /^[A-Za-z0-9_-]{1,128}$/

/**
 * Build the AWS-shaped integration request for one event.
 *
 * - method `POST` by default, the exact integration URL; on `$connect` the client's raw query
 *   string is appended (characters that cannot appear in a request line are percent-encoded);
 * - `Host` = the integration URL's host[:port], never the gateway's;
 * - on `$connect` the client's handshake headers in their casing (`rawHeaders`, Node's
 *   `req.rawHeaders`; else the event's lower-cased headers), a repeated one folded into one
 *   line (`Cookie` joined with `; `, others with `, `, as Fetch does), minus hop-by-hop headers and
 *   every header the gateway owns (`X-Forwarded-*`, `X-Real-Ip`, `connectionId`, `X-Amzn-*`,
 *   `x-gatehouse-*`, `Forwarded`, `Via`), and minus any name or value that could inject;
 * - on other routes `User-Agent: AmazonAPIGateway_<apiId>` and no client headers;
 * - `connectionId`, `X-Amzn-Apigateway-Api-Id`, `X-Amzn-Trace-Id`, `X-Forwarded-For`
 *   (the client IP, replacing anything the client sent), `X-Forwarded-Port`,
 *   `X-Forwarded-Proto`, optionally `X-Real-Ip`;
 * - the `x-gatehouse-*` context headers (`./context-headers.ts`), `Content-Length` always
 *   (0 without a body) and, with a secret, the signature over all of it
 *   ({@link signIntegrationRequest}).
 *
 * @throws GatehouseError `ERR_INVALID_OPTION` for a bad target, `ERR_INVALID_EVENT` for an
 *   event whose connection id or request id the gateway should never have produced.
 * @example
 * ```ts
 * const request = toIntegrationRequest(event, {
 *   url: integrationUrlFor('http://127.0.0.1:8000/ws/', event.routeKey),
 *   apiId: 'local', secret, forwardedProto: 'http', forwardedPort: 8080,
 * }, req.rawHeaders)
 * const response = await sendIntegrationRequest(request, { timeoutMs: 29_000 })
 * ```
 */
export function toIntegrationRequest(
  event: GatewayEvent,
  target: IntegrationTarget,
  rawHeaders?: readonly string[],
): IntegrationRequest {
  const url = parseTarget(target.url)
  const method = target.method ?? 'POST'
  if (!METHOD.test(method)) throw option('method must be an upper-case HTTP method')
  if (!API_ID.test(target.apiId)) throw option('apiId must match [A-Za-z0-9_-]{1,128}')
  if (!DEFAULTS.connectionIdPattern.test(event.connectionId)) {
    throw new GatehouseError('ERR_INVALID_EVENT', 'The event has an invalid connection id')
  }
  if (!REQUEST_ID_PATTERN.test(event.requestId)) {
    throw new GatehouseError('ERR_INVALID_EVENT', 'The event has an invalid request id')
  }
  const proto = target.forwardedProto ?? 'https'
  const port = target.forwardedPort ?? (proto === 'https' ? 443 : 80)
  const now = (target.clock ?? systemClock).now()
  const isConnect = event.eventType === 'CONNECT'
  const isMessage = event.eventType === 'MESSAGE'
  const body = isMessage ? (event.body ?? '') : ''

  const headers: Array<[string, string]> = [['Host', url.host]]
  // Repeats are folded into one line: the app sees the same value whatever its Fetch
  // implementation's rule for repeats, so the signed header hash holds.
  if (isConnect)
    headers.push(...joinRepeatedHeaders(forwardableClientHeaders(rawHeaders ?? event.headers)))
  else headers.push(['User-Agent', `AmazonAPIGateway_${target.apiId}`])
  headers.push(['connectionId', event.connectionId])
  headers.push(['X-Amzn-Apigateway-Api-Id', target.apiId])
  headers.push(['X-Amzn-Trace-Id', traceId(now)])
  const clientIp = isIP(event.sourceIp) === 0 ? undefined : event.sourceIp
  if (clientIp !== undefined) headers.push(['X-Forwarded-For', clientIp])
  headers.push(['X-Forwarded-Port', String(port)])
  headers.push(['X-Forwarded-Proto', proto])
  if (target.realIpHeader && clientIp !== undefined) headers.push(['X-Real-Ip', clientIp])

  headers.push([CONTEXT_HEADERS.requestId, event.requestId])
  if (Number.isSafeInteger(event.connectedAt) && event.connectedAt >= 0) {
    headers.push([CONTEXT_HEADERS.connectedAt, String(event.connectedAt)])
  }
  if (CONTEXT_NAME_PATTERN.test(event.stage)) headers.push([CONTEXT_HEADERS.stage, event.stage])
  if (CONTEXT_NAME_PATTERN.test(event.domainName)) {
    headers.push([CONTEXT_HEADERS.domainName, event.domainName])
  }
  if (isMessage && event.messageId !== undefined && REQUEST_ID_PATTERN.test(event.messageId)) {
    headers.push([CONTEXT_HEADERS.messageId, event.messageId])
  }
  if (!isConnect && event.userAgent !== undefined && isHeaderValue(event.userAgent)) {
    headers.push([CONTEXT_HEADERS.userAgent, event.userAgent])
  }
  if (event.eventType === 'DISCONNECT') {
    const code = event.disconnectStatusCode
    if (code !== undefined && Number.isInteger(code) && code >= 1000 && code <= 4999) {
      headers.push([CONTEXT_HEADERS.disconnectStatusCode, String(code)])
    }
    if (event.disconnectReason !== undefined) {
      headers.push([CONTEXT_HEADERS.disconnectReason, percentEncode(event.disconnectReason)])
    }
  }
  headers.push(['Content-Length', String(Buffer.byteLength(body, 'utf8'))])

  const query = isConnect && event.rawQuery !== '' ? safeQuery(event.rawQuery) : ''
  const fullUrl =
    query === '' ? target.url : `${target.url}${url.search === '' ? '?' : '&'}${query}`
  const request: IntegrationRequest = { method, url: fullUrl, headers, body }
  return target.secret === undefined
    ? request
    : signIntegrationRequest(request, event, target.secret, now)
}

/**
 * Sign a finished integration request (`./signing.ts`, v2): its method, URL path and query,
 * every header it carries, its body, and the event's request id, connection id, route key
 * and client IP. Returns a copy with `x-gatehouse-timestamp` and `x-gatehouse-signature`
 * appended (any earlier pair is replaced). Sign last: a header, query parameter or byte of
 * body added afterwards makes the app refuse the call.
 *
 * @throws GatehouseError `ERR_INVALID_OPTION` for a short secret, `ERR_INVALID_EVENT` for an
 *   event or request that cannot be signed.
 * @example
 * ```ts
 * const mapped = mapper(toIntegrationRequest(event, target), event, handshake)
 * const request = signIntegrationRequest(mapped, event, secret)
 * await sendIntegrationRequest(request)
 * ```
 */
export function signIntegrationRequest(
  request: IntegrationRequest,
  event: GatewayEvent,
  secret: string,
  timestamp?: number,
): IntegrationRequest {
  const url = signedUrlOf(request.url)
  const headers = request.headers.filter(([name]) => {
    const lower = name.toLowerCase()
    return lower !== SIGNATURE_HEADER && lower !== TIMESTAMP_HEADER
  })
  const signed = signEvent(
    {
      ...(timestamp === undefined ? {} : { timestamp }),
      requestId: event.requestId,
      connectionId: event.connectionId,
      routeKey: event.routeKey,
      sourceIp: isIP(event.sourceIp) === 0 ? '' : event.sourceIp,
      method: request.method,
      path: url.pathname,
      rawQuery: url.search.slice(1),
      headersHash: hashSignedHeaders(headers),
      body: request.body,
    },
    secret,
  )
  return {
    ...request,
    headers: [
      ...headers,
      [TIMESTAMP_HEADER, signed.timestamp],
      [SIGNATURE_HEADER, signed.signature],
    ],
  }
}

/**
 * The integration URL upstream provisions for a route: the base followed by `connect`,
 * `disconnect`, `default` (the `$` stripped) or the custom route key, percent-encoded.
 *
 * @example
 * ```ts
 * integrationUrlFor('https://app.example/ws/', '$connect') // 'https://app.example/ws/connect'
 * integrationUrlFor('https://app.example/ws/', 'chat/join') // 'https://app.example/ws/chat%2Fjoin'
 * ```
 */
export function integrationUrlFor(baseUrl: string, routeKey: string): string {
  const segment = routeKey.startsWith('$') ? routeKey.slice(1) : routeKey
  return `${baseUrl}${encodeURIComponent(segment)}`
}

/**
 * True when every header of a descriptor has a valid name and value; the gateway can assert
 * it before writing (the builder above never produces anything else).
 *
 * @example
 * ```ts
 * assert(integrationHeadersAreSafe(toIntegrationRequest(event, target)))
 * ```
 */
export function integrationHeadersAreSafe(request: IntegrationRequest): boolean {
  return request.headers.every(([name, value]) => isHeaderName(name) && isHeaderValue(value))
}

// Parsed URLs by text, bounded: routes have a few URLs, and `new URL` twice per call was a
// visible share of the gateway's CPU per message. `$connect` URLs carry the client's query:
// those churn through and the map is simply cleared when full.
const URLS_MAX = 256
const targets = new Map<string, URL>()
const signedUrls = new Map<string, { readonly pathname: string; readonly search: string }>()

function remember<V>(map: Map<string, V>, key: string, value: V): V {
  if (map.size >= URLS_MAX) map.clear()
  map.set(key, value)
  return value
}

function signedUrlOf(raw: string): { readonly pathname: string; readonly search: string } {
  const known = signedUrls.get(raw)
  if (known !== undefined) return known
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new GatehouseError('ERR_INVALID_EVENT', 'Cannot sign a request without a valid URL')
  }
  return remember(signedUrls, raw, { pathname: url.pathname, search: url.search })
}

/** The checked target URL (read only: `host` and `search`), parsed once per distinct text. */
function parseTarget(raw: string): URL {
  return targets.get(raw) ?? remember(targets, raw, parseNewTarget(raw))
}

function parseNewTarget(raw: string): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw option('url must be an absolute http(s) URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw option('url must use http or https')
  }
  if (raw.includes('#')) throw option('url must not contain a fragment')
  return url
}

function option(message: string): GatehouseError {
  return new GatehouseError('ERR_INVALID_OPTION', `Integration target: ${message}`)
}

/** The raw query, with anything that cannot sit in a request line percent-encoded. */
function safeQuery(raw: string): string {
  return raw.replace(/[^\x21\x22\x24-\x7e]/gu, (ch) => percentEncode(ch))
}

/** Percent-encode every byte outside the unreserved set (lone surrogates become U+FFFD). */
function percentEncode(text: string): string {
  let out = ''
  for (const byte of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(byte)
    out += /[A-Za-z0-9_.~-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}
