/**
 * @module events/lambda
 * The Lambda proxy (`AWS_PROXY`) shape of a WebSocket event, both ways (research
 * `apigw-ws-spec.md` §2, checklist 29–31 and 42):
 * - gateway side: {@link toLambdaEvent} builds the event AWS would pass, and
 *   {@link fromLambdaResult} reads the function's answer;
 * - app side: {@link fromLambdaEvent} reads the event, {@link toLambdaResult} answers.
 */
import { randomUUID } from 'node:crypto'
import { type Clock, systemClock } from '../clock.ts'
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import { clfTime } from './clf-time.ts'
import { type EventType, eventTypeOf, type GatewayEvent, type GatewayResponse } from './event.ts'
import { forwardableClientHeaders, isHttpToken, nullRecord } from './headers.ts'
import { traceId } from './ids.ts'

/** `requestContext` of a WebSocket Lambda proxy event. */
export interface LambdaRequestContext {
  readonly routeKey: string
  /** MESSAGE only. AWS sends `null` on CONNECT. */
  readonly messageId?: string | null
  /** DISCONNECT only. */
  readonly disconnectStatusCode?: number | null
  readonly eventType: EventType
  readonly extendedRequestId: string
  /** CLF, e.g. `20/Jan/2024:11:55:00 +0000`. */
  readonly requestTime: string
  readonly messageDirection: 'IN'
  /** DISCONNECT only. */
  readonly disconnectReason?: string | null
  readonly stage: string
  readonly connectedAt: number
  readonly requestTimeEpoch: number
  readonly identity: { readonly sourceIp: string; readonly userAgent?: string | null }
  readonly requestId: string
  readonly domainName: string
  readonly connectionId: string
  readonly apiId: string
}

/**
 * The event API Gateway passes to a Lambda function on a WebSocket route.
 *
 * @example
 * ```ts
 * export const handler = async (event: LambdaWebSocketEvent): Promise<LambdaResult> =>
 *   app.lambda(event)
 * ```
 */
export interface LambdaWebSocketEvent {
  /** CONNECT: the client's handshake headers (client casing); DISCONNECT: a fixed stub. */
  readonly headers?: Readonly<Record<string, string>>
  readonly multiValueHeaders?: Readonly<Record<string, readonly string[]>>
  /** CONNECT only, and only when the handshake had a query string. */
  readonly queryStringParameters?: Readonly<Record<string, string>>
  readonly multiValueQueryStringParameters?: Readonly<Record<string, readonly string[]>>
  readonly stageVariables?: Readonly<Record<string, string>>
  readonly requestContext: LambdaRequestContext
  /** MESSAGE only: the raw frame text. */
  readonly body?: string
  readonly isBase64Encoded: boolean
}

/**
 * What a Lambda function returns for a WebSocket route.
 *
 * @example
 * ```ts
 * const accept: LambdaResult = { statusCode: 200, headers: { 'Sec-WebSocket-Protocol': 'gatehouse.v1' } }
 * ```
 */
export interface LambdaResult {
  readonly statusCode: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
}

/** Extra inputs of {@link toLambdaEvent}. */
export interface ToLambdaEventExtra {
  readonly stageVariables?: Readonly<Record<string, string>>
  /** The client's handshake headers as Node's `req.rawHeaders` (keeps their casing). */
  readonly rawHeaders?: readonly string[]
  /** `X-Forwarded-Proto` on CONNECT; default `https`. */
  readonly forwardedProto?: 'http' | 'https'
  /** `X-Forwarded-Port` on CONNECT; default 443 for https, 80 for http. */
  readonly forwardedPort?: number
}

/**
 * Build the Lambda proxy event AWS would pass for a gateway event.
 *
 * CONNECT carries the client's handshake headers in their casing (minus `Connection`,
 * `Upgrade`, hop-by-hop headers and any client copy of a gateway-owned header) plus
 * `X-Amzn-Trace-Id` and `X-Forwarded-For/-Port/-Proto`, in `headers` (last value wins) and
 * `multiValueHeaders`; DISCONNECT carries AWS's stub `{Host, x-api-key: "",
 * X-Forwarded-For: "", x-restapi: ""}`; MESSAGE carries no headers. The query string is
 * present only on CONNECT, and only when there is one; `body` only on MESSAGE.
 *
 * @example
 * ```ts
 * const lambdaEvent = toLambdaEvent(event, { rawHeaders: req.rawHeaders })
 * const result = fromLambdaResult(await invoke(lambdaEvent))
 * ```
 */
export function toLambdaEvent(
  event: GatewayEvent,
  extra: ToLambdaEventExtra = {},
): LambdaWebSocketEvent {
  const requestContext: LambdaRequestContext = {
    routeKey: event.routeKey,
    ...(event.eventType === 'MESSAGE' && event.messageId !== undefined
      ? { messageId: event.messageId }
      : {}),
    ...(event.eventType === 'DISCONNECT'
      ? {
          disconnectStatusCode: event.disconnectStatusCode ?? null,
          disconnectReason: event.disconnectReason ?? '',
        }
      : {}),
    eventType: event.eventType,
    extendedRequestId: event.requestId,
    requestTime: clfTime(event.requestTimeEpoch),
    messageDirection: 'IN',
    stage: event.stage,
    connectedAt: event.connectedAt,
    requestTimeEpoch: event.requestTimeEpoch,
    identity: {
      sourceIp: event.sourceIp,
      ...(event.userAgent !== undefined ? { userAgent: event.userAgent } : {}),
    },
    requestId: event.requestId,
    domainName: event.domainName,
    connectionId: event.connectionId,
    apiId: event.apiId,
  }
  return {
    ...headersFor(event, extra),
    ...(event.eventType === 'CONNECT' ? queryFor(event.rawQuery) : {}),
    ...(extra.stageVariables !== undefined ? { stageVariables: { ...extra.stageVariables } } : {}),
    requestContext,
    ...(event.eventType === 'MESSAGE' ? { body: event.body ?? '' } : {}),
    isBase64Encoded: false,
  }
}

/**
 * Read a Lambda proxy event into a {@link GatewayEvent} (transport `lambda`). Header names
 * are lower-cased (repeated values joined with `", "`) and kept on CONNECT only; the query
 * is rebuilt from the multi-value parameters.
 *
 * @throws GatehouseError `ERR_INVALID_EVENT` when the event is not a WebSocket proxy event
 *   (no request context, bad connection id, route and event type disagreeing, no body).
 * @example
 * ```ts
 * export const handler = async (raw: LambdaWebSocketEvent) =>
 *   toLambdaResult(await app.handle(fromLambdaEvent(raw)))
 * ```
 */
export function fromLambdaEvent(
  event: LambdaWebSocketEvent,
  options: { readonly clock?: Clock } = {},
): GatewayEvent {
  const raw = event as unknown
  if (!isObject(raw) || !isObject(raw.requestContext)) {
    throw invalidEvent('The Lambda event has no requestContext')
  }
  const ctx = raw.requestContext
  const connectionId = ctx.connectionId
  if (typeof connectionId !== 'string' || !DEFAULTS.connectionIdPattern.test(connectionId)) {
    throw invalidEvent('The Lambda event has a missing or malformed connectionId')
  }
  const routeKey = ctx.routeKey
  if (typeof routeKey !== 'string' || routeKey === '' || routeKey.length > 128) {
    throw invalidEvent('The Lambda event has a missing or malformed routeKey')
  }
  const eventType = eventTypeOf(routeKey)
  if (ctx.eventType !== undefined && ctx.eventType !== eventType) {
    throw invalidEvent('The Lambda event type does not match its route')
  }

  let body: string | undefined
  if (eventType === 'MESSAGE') {
    if (typeof raw.body !== 'string') throw invalidEvent('The Lambda message event has no body')
    body =
      raw.isBase64Encoded === true ? Buffer.from(raw.body, 'base64').toString('utf8') : raw.body
  }

  const headers = nullRecord<string>()
  if (eventType === 'CONNECT') readHeaders(raw, headers)
  const { query, rawQuery } = eventType === 'CONNECT' ? readQuery(raw) : emptyQuery()
  const identity = isObject(ctx.identity) ? ctx.identity : {}
  const now = (options.clock ?? systemClock).now()
  const requestTimeEpoch = finiteNumber(ctx.requestTimeEpoch) ?? now
  const requestId = str(ctx.requestId) ?? str(ctx.extendedRequestId) ?? randomUUID()

  return {
    eventType,
    routeKey,
    connectionId,
    headers,
    query,
    rawQuery,
    body,
    sourceIp: str(identity.sourceIp) ?? '',
    ...(str(identity.userAgent) !== undefined
      ? { userAgent: str(identity.userAgent) as string }
      : {}),
    apiId: str(ctx.apiId) ?? '',
    stage: str(ctx.stage) ?? '',
    domainName: str(ctx.domainName) ?? '',
    requestId,
    ...(eventType === 'MESSAGE' && str(ctx.messageId) !== undefined
      ? { messageId: str(ctx.messageId) as string }
      : {}),
    connectedAt: finiteNumber(ctx.connectedAt) ?? requestTimeEpoch,
    requestTimeEpoch,
    ...(eventType === 'DISCONNECT' && finiteNumber(ctx.disconnectStatusCode) !== undefined
      ? { disconnectStatusCode: finiteNumber(ctx.disconnectStatusCode) as number }
      : {}),
    ...(eventType === 'DISCONNECT' && str(ctx.disconnectReason) !== undefined
      ? { disconnectReason: str(ctx.disconnectReason) as string }
      : {}),
    transport: { via: 'lambda' },
  }
}

/**
 * The app's answer as a Lambda result. A `sec-websocket-protocol` header is written as
 * `Sec-WebSocket-Protocol`, the name API Gateway reads.
 *
 * @example
 * ```ts
 * toLambdaResult({ status: 200, headers: { 'sec-websocket-protocol': 'gatehouse.v1' } })
 * // { statusCode: 200, headers: { 'Sec-WebSocket-Protocol': 'gatehouse.v1' } }
 * ```
 */
export function toLambdaResult(response: GatewayResponse): LambdaResult {
  let headers: Record<string, string> | undefined
  if (response.headers) {
    headers = nullRecord<string>()
    for (const name of Object.keys(response.headers)) {
      const value = response.headers[name]
      if (typeof value !== 'string') continue
      const key = name.toLowerCase() === 'sec-websocket-protocol' ? 'Sec-WebSocket-Protocol' : name
      headers[key] = value
    }
  }
  return {
    statusCode: response.status,
    ...(headers !== undefined ? { headers: cleanRecord(headers) } : {}),
    ...(response.body !== undefined ? { body: response.body } : {}),
  }
}

/** Longest subprotocol name accepted back from a function. */
const MAX_PROTOCOL_LENGTH = 128

/**
 * Read a Lambda function's answer on the gateway side. Among headers only
 * `Sec-WebSocket-Protocol` (any case) is honoured, as on AWS; everything else is dropped.
 *
 * @throws GatehouseError `ERR_INTEGRATION_FAILED` (the gateway answers 502, or the
 *   `Internal server error` frame) when the result is not an object with an integer
 *   `statusCode` in 100–599, when `body` is present but not a string, or when the protocol
 *   header is not a valid token.
 * @example
 * ```ts
 * const response = fromLambdaResult(await invoke(toLambdaEvent(event)))
 * if (response.status >= 200 && response.status < 300) completeUpgrade(response.headers)
 * ```
 */
export function fromLambdaResult(result: unknown): GatewayResponse {
  if (!isObject(result)) throw failed('The Lambda result is not an object')
  const status = result.statusCode
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    throw failed('The Lambda result has no valid statusCode')
  }
  const body = result.body
  if (body !== undefined && body !== null && typeof body !== 'string') {
    throw failed('The Lambda result body is not a string')
  }
  let protocol: string | undefined
  let retryAfter: string | undefined
  if (isObject(result.headers)) {
    for (const name of Object.keys(result.headers)) {
      const lower = name.toLowerCase()
      const value = result.headers[name]
      if (lower === 'retry-after') {
        // Kept like the HTTP integration's (a throttled client learns when to come back).
        if (typeof value === 'string' && /^[0-9]{1,9}$/.test(value)) retryAfter = value
        continue
      }
      if (lower !== 'sec-websocket-protocol') continue
      if (typeof value !== 'string' || value.length > MAX_PROTOCOL_LENGTH || !isHttpToken(value)) {
        throw failed('The Lambda result has an invalid Sec-WebSocket-Protocol header')
      }
      protocol = value
    }
  }
  const headers: Record<string, string> = {}
  if (protocol !== undefined) headers['sec-websocket-protocol'] = protocol
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter
  return {
    status,
    ...(typeof body === 'string' ? { body } : {}),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
  }
}

function headersFor(
  event: GatewayEvent,
  extra: ToLambdaEventExtra,
): Pick<LambdaWebSocketEvent, 'headers' | 'multiValueHeaders'> {
  if (event.eventType === 'MESSAGE') return {}
  if (event.eventType === 'DISCONNECT') {
    return {
      headers: { Host: event.domainName, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' },
      multiValueHeaders: {
        Host: [event.domainName],
        'x-api-key': [''],
        'X-Forwarded-For': [''],
        'x-restapi': [''],
      },
    }
  }
  const proto = extra.forwardedProto ?? 'https'
  const pairs: Array<[string, string]> = forwardableClientHeaders(extra.rawHeaders ?? event.headers)
  // The client's Host is the API's domain as the client reached it; forwardable headers
  // exclude it (the HTTP integration replaces it), so it is put back here.
  const host = hostOf(extra.rawHeaders, event)
  if (host !== undefined) pairs.unshift(['Host', host])
  pairs.push(['X-Amzn-Trace-Id', traceId(event.requestTimeEpoch)])
  pairs.push(['X-Forwarded-For', event.sourceIp])
  pairs.push(['X-Forwarded-Port', String(extra.forwardedPort ?? (proto === 'https' ? 443 : 80))])
  pairs.push(['X-Forwarded-Proto', proto])
  // One key per header name whatever its casing: the first casing seen names it.
  const casing = new Map<string, string>()
  const headers = nullRecord<string>()
  const multiValueHeaders = nullRecord<string[]>()
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase()
    const key = casing.get(lower) ?? name
    casing.set(lower, key)
    headers[key] = value
    const values = multiValueHeaders[key] ?? []
    values.push(value)
    multiValueHeaders[key] = values
  }
  return { headers: cleanRecord(headers), multiValueHeaders: cleanRecord(multiValueHeaders) }
}

function hostOf(
  rawHeaders: readonly string[] | undefined,
  event: GatewayEvent,
): string | undefined {
  if (rawHeaders) {
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      if (rawHeaders[i]?.toLowerCase() === 'host') return rawHeaders[i + 1]
    }
  }
  return event.headers.host ?? (event.domainName === '' ? undefined : event.domainName)
}

function queryFor(
  rawQuery: string,
): Pick<LambdaWebSocketEvent, 'queryStringParameters' | 'multiValueQueryStringParameters'> {
  if (rawQuery === '') return {}
  const single = nullRecord<string>()
  const multi = nullRecord<string[]>()
  for (const [key, value] of new URLSearchParams(rawQuery)) {
    single[key] = value
    const values = multi[key] ?? []
    values.push(value)
    multi[key] = values
  }
  if (Object.keys(single).length === 0) return {}
  return {
    queryStringParameters: cleanRecord(single),
    multiValueQueryStringParameters: cleanRecord(multi),
  }
}

function readHeaders(raw: Record<string, unknown>, out: Record<string, string>): void {
  if (isObject(raw.multiValueHeaders)) {
    for (const name of Object.keys(raw.multiValueHeaders)) {
      const values = raw.multiValueHeaders[name]
      if (!Array.isArray(values)) continue
      const strings = values.filter((v): v is string => typeof v === 'string')
      if (strings.length > 0) appendHeader(out, name, strings.join(', '))
    }
    return
  }
  if (isObject(raw.headers)) {
    for (const name of Object.keys(raw.headers)) {
      const value = raw.headers[name]
      if (typeof value === 'string') appendHeader(out, name, value)
    }
  }
}

function appendHeader(out: Record<string, string>, name: string, value: string): void {
  const lower = name.toLowerCase()
  const existing = out[lower]
  out[lower] = existing === undefined ? value : `${existing}, ${value}`
}

function readQuery(raw: Record<string, unknown>): {
  query: Record<string, string>
  rawQuery: string
} {
  const query = nullRecord<string>()
  const params = new URLSearchParams()
  if (isObject(raw.multiValueQueryStringParameters)) {
    const multi = raw.multiValueQueryStringParameters
    for (const key of Object.keys(multi)) {
      const values = multi[key]
      if (!Array.isArray(values)) continue
      for (const value of values) {
        if (typeof value !== 'string') continue
        params.append(key, value)
        query[key] = value
      }
    }
  } else if (isObject(raw.queryStringParameters)) {
    const single = raw.queryStringParameters
    for (const key of Object.keys(single)) {
      const value = single[key]
      if (typeof value !== 'string') continue
      params.append(key, value)
      query[key] = value
    }
  }
  return { query, rawQuery: params.toString() }
}

function emptyQuery(): { query: Record<string, string>; rawQuery: string } {
  return { query: nullRecord<string>(), rawQuery: '' }
}

/** A plain record copied key by key, so a `__proto__` key stays an own key. */
function cleanRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(record).map((key) => [key, record[key] as T]))
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

function finiteNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}

function invalidEvent(message: string): GatehouseError {
  return new GatehouseError('ERR_INVALID_EVENT', message)
}

function failed(message: string): GatehouseError {
  return new GatehouseError('ERR_INTEGRATION_FAILED', message)
}
