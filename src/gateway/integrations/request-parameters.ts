/**
 * @module gateway/integrations/request-parameters
 * API Gateway's `RequestParameters` for HTTP integrations (research `apigw-ws-spec.md` §1.4):
 * a map of `integration.request.header.<name>` / `integration.request.querystring.<name>`
 * targets to sources — `context.<var>`, `route.request.header.<name>`,
 * `route.request.querystring.<name>`, `route.request.multivalueheader.<name>`,
 * `route.request.multivaluequerystring.<name>` (all four on `$connect` only, where the client's
 * request exists), `route.request.body.<path>` (messages), or a static `'value'`.
 *
 * Mappings are compiled at construction; a source that resolves to nothing adds nothing.
 * They are operator configuration, yet they cannot replace what authenticates or frames the
 * call (`Host`, `Content-Length`, the signature headers).
 */
import { GatehouseError } from '../../errors.ts'
import { clfTime } from '../../events/clf-time.ts'
import type { GatewayEvent } from '../../events/event.ts'
import { isHeaderValue } from '../../events/headers.ts'
import type { IntegrationRequest } from '../../events/integration-request.ts'
import { compileRouteExpression } from '../../events/route-selection.ts'
import { SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../events/signing.ts'
import type { ConnectionFacts } from '../handshake.ts'

/** One compiled mapping. */
interface Mapping {
  readonly target: 'header' | 'querystring'
  readonly name: string
  readonly value: (event: GatewayEvent, facts: ConnectionFacts) => string | undefined
}

/**
 * Compiled mappings of one integration, applied to each request.
 *
 * @example
 * ```ts
 * const request = mapper(built, event, facts)
 * ```
 */
export type RequestParameterMapper = (
  request: IntegrationRequest,
  event: GatewayEvent,
  facts: ConnectionFacts,
) => IntegrationRequest

const PARAM_NAME = /^[a-zA-Z0-9._$-]+$/
const PROTECTED: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
])

/** `context.*` variables a WebSocket mapping may read. */
const CONTEXT: Readonly<Record<string, (e: GatewayEvent) => string | undefined>> = {
  connectionId: (e) => e.connectionId,
  connectedAt: (e) => String(e.connectedAt),
  domainName: (e) => e.domainName,
  eventType: (e) => e.eventType,
  messageId: (e) => e.messageId,
  routeKey: (e) => e.routeKey,
  requestId: (e) => e.requestId,
  extendedRequestId: (e) => e.requestId,
  apiId: (e) => e.apiId,
  'identity.sourceIp': (e) => e.sourceIp,
  'identity.userAgent': (e) => e.userAgent,
  requestTime: (e) => clfTime(e.requestTimeEpoch),
  requestTimeEpoch: (e) => String(e.requestTimeEpoch),
  stage: (e) => e.stage,
}

function invalid(where: string, why: string): never {
  throw new GatehouseError('ERR_INVALID_OPTION', `${where}: ${why}`)
}

/** Every value of a repeated handshake header, in order (from the raw list). */
function headerValues(facts: ConnectionFacts, lowerName: string): string[] {
  const out: string[] = []
  const raw = facts.rawHeaders ?? []
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] ?? '').toLowerCase() === lowerName) out.push(raw[i + 1] ?? '')
  }
  return out
}

function compileSource(where: string, source: string): Mapping['value'] {
  if (source.length >= 2 && source.startsWith("'") && source.endsWith("'")) {
    const text = source.slice(1, -1)
    return () => text
  }
  if (source.startsWith('context.')) {
    const read = Object.hasOwn(CONTEXT, source.slice(8)) ? CONTEXT[source.slice(8)] : undefined
    if (!read) invalid(where, `unsupported context variable ${JSON.stringify(source)}`)
    return read
  }
  const route =
    /^route\.request\.(header|querystring|multivalueheader|multivaluequerystring)\.([a-zA-Z0-9._$-]+)$/.exec(
      source,
    )
  if (route) {
    const kind = route[1]
    const name = route[2] ?? ''
    const lower = name.toLowerCase()
    return (event, facts) => {
      if (event.eventType !== 'CONNECT') return undefined
      if (kind === 'header')
        return Object.hasOwn(event.headers, lower) ? event.headers[lower] : undefined
      if (kind === 'multivalueheader') {
        const values = headerValues(facts, lower)
        return values.length === 0 ? undefined : values.join(',')
      }
      const all = new URLSearchParams(event.rawQuery).getAll(name)
      if (all.length === 0) return undefined
      return kind === 'querystring' ? all[all.length - 1] : all.join(',')
    }
  }
  if (source.startsWith('route.request.body.')) {
    const evaluate = compileRouteExpression(`$request.body.${source.slice(19)}`)
    return (event) => {
      if (event.eventType !== 'MESSAGE') return undefined
      const value = evaluate(event.body)
      return value === undefined || value === '' ? undefined : value
    }
  }
  return invalid(where, `unsupported source ${JSON.stringify(source)}`)
}

/**
 * Compile an integration's `requestParameters`.
 *
 * @throws GatehouseError `ERR_INVALID_OPTION` for an unknown target or source, a bad name, or
 *   a target that would replace `Host`, `Content-Length` or a signature header.
 * @example
 * ```ts
 * const map = compileRequestParameters({
 *   'integration.request.header.connectionId': 'context.connectionId',
 *   'integration.request.querystring.channel': 'route.request.querystring.channel',
 *   'integration.request.header.x-env': "'local'",
 * }, 'routes.$connect')
 * ```
 */
export function compileRequestParameters(
  parameters: Readonly<Record<string, string>>,
  where: string,
): RequestParameterMapper {
  const mappings: Mapping[] = []
  for (const [target, source] of Object.entries(parameters)) {
    const at = `${where}.requestParameters[${JSON.stringify(target)}]`
    if (typeof source !== 'string') invalid(at, 'the source must be a string')
    const m = /^integration\.request\.(header|querystring)\.(.+)$/.exec(target)
    if (!m)
      invalid(
        at,
        'targets are integration.request.header.<name> or integration.request.querystring.<name>',
      )
    const kind = m[1] as 'header' | 'querystring'
    const name = m[2] ?? ''
    if (!PARAM_NAME.test(name)) invalid(at, 'names must match ^[a-zA-Z0-9._$-]+$')
    if (kind === 'header' && PROTECTED.has(name.toLowerCase())) {
      invalid(at, `${name} is set by the gateway and cannot be mapped`)
    }
    mappings.push({ target: kind, name, value: compileSource(at, source) })
  }
  return (request, event, facts) => {
    if (mappings.length === 0) return request
    let headers = [...request.headers]
    const query: string[] = []
    for (const mapping of mappings) {
      const value = mapping.value(event, facts)
      if (value === undefined) continue
      if (mapping.target === 'querystring') {
        query.push(`${encodeURIComponent(mapping.name)}=${encodeURIComponent(value)}`)
        continue
      }
      // A value that could split the header block is dropped, never written.
      if (!isHeaderValue(value)) continue
      const lower = mapping.name.toLowerCase()
      headers = headers.filter(([n]) => n.toLowerCase() !== lower)
      // Content-Length stays last, where the codec put it.
      headers.splice(Math.max(0, headers.length - 1), 0, [mapping.name, value])
    }
    const url =
      query.length === 0
        ? request.url
        : `${request.url}${request.url.includes('?') ? '&' : '?'}${query.join('&')}`
    return { ...request, headers, url }
  }
}

const compiled = new WeakMap<object, RequestParameterMapper>()

/**
 * The compiled mapper of an integration, compiled once per integration object (the gateway
 * compiles at construction, so a bad mapping fails there).
 *
 * @example
 * ```ts
 * const mapper = mapperFor(integration, 'routes.$connect')
 * const request = mapper(toIntegrationRequest(event, target), event, facts)
 * ```
 */
export function mapperFor(
  integration: { readonly requestParameters?: Readonly<Record<string, string>> },
  where: string,
): RequestParameterMapper {
  const hit = compiled.get(integration)
  if (hit) return hit
  const params = integration.requestParameters
  if (
    params !== undefined &&
    (typeof params !== 'object' || params === null || Array.isArray(params))
  ) {
    invalid(`${where}.requestParameters`, 'must be an object of target → source')
  }
  const mapper = compileRequestParameters(params ?? {}, where)
  compiled.set(integration, mapper)
  return mapper
}
