/**
 * @module push/management-api
 * A {@link Connections} port over any `@connections` HTTP API: the bundled gateway's
 * management server or AWS API Gateway's own. SigV4-signed when credentials are given
 * (no AWS SDK needed). Pushes to many connections use the bundled gateway's fan-out call
 * when `useFanout` is on, else individual POSTs with bounded concurrency, as AWS requires.
 */
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import { positiveInt } from '../util/options.ts'
import { postEachBounded } from './bounded.ts'
import type { ConnectionInfo, Connections, PostManyResult } from './connections.ts'
import { encodeFanout, FANOUT_HEADER, FANOUT_MAX_IDS } from './fanout-wire.ts'
import {
  createSigner,
  type SignableRequest,
  type SigV4Credentials,
  type SigV4Signer,
  sha256Hex,
} from './sigv4.ts'

/** Options of {@link createManagementApiConnections}. */
export interface ManagementApiConnectionsOptions {
  /** The API base including the stage, e.g. `http://127.0.0.1:3002/production`. */
  readonly endpoint: string
  /** Sign requests with SigV4 (service `execute-api`); unsigned when absent. */
  readonly credentials?: SigV4Credentials
  /** The region signed for. Default `us-east-1`. */
  readonly region?: string
  /** Individual POSTs in flight at once in `postMany`. Default `DEFAULTS.pushConcurrency`. */
  readonly concurrency?: number
  /** Use the bundled gateway's fan-out call in `postMany` (not available on AWS). */
  readonly useFanout?: boolean
  /** Ids per fan-out call; larger audiences are split. Default 10 000 (the server's cap). */
  readonly fanoutBatchSize?: number
  /** Abort one HTTP call after this long. Default 10 000. */
  readonly requestTimeoutMs?: number
  /** The fetch to use (tests, proxies). Default the global `fetch`. */
  readonly fetch?: typeof fetch
}

const encoder = new TextEncoder()

interface Reply {
  readonly status: number
  readonly errorType: string
  readonly text: string
}

/**
 * Push through an `@connections` API over HTTP.
 *
 * @example
 * ```ts
 * const connections = createManagementApiConnections({
 *   endpoint: 'http://127.0.0.1:3002/production',
 *   useFanout: true, // the bundled gateway; leave off for AWS
 * })
 * await connections.post('R1kmxc2VNjMCFIA=', '{"type":"hello"}')
 * ```
 */
export function createManagementApiConnections(
  options: ManagementApiConnectionsOptions,
): Connections {
  const base = parseEndpoint(options.endpoint)
  const region = options.region ?? 'us-east-1'
  const concurrency = positiveInt('concurrency', options.concurrency ?? DEFAULTS.pushConcurrency)
  const batchSize = positiveInt('fanoutBatchSize', options.fanoutBatchSize ?? FANOUT_MAX_IDS)
  const timeoutMs = positiveInt('requestTimeoutMs', options.requestTimeoutMs ?? 10_000)
  const doFetch = options.fetch ?? fetch
  const credentials = options.credentials
  let signer: Promise<SigV4Signer> | undefined

  /** `bodySha256`: the body's hex SHA-256 when the caller already has it (postMany). */
  async function call(
    method: 'GET' | 'POST' | 'DELETE',
    suffix: string,
    body?: Uint8Array,
    extraHeaders: Record<string, string> = {},
    bodySha256?: string,
  ): Promise<Reply> {
    const url = new URL(`${base.prefix}/@connections${suffix}`)
    const headers: Record<string, string> = { ...extraHeaders }
    if (body !== undefined) headers['content-type'] = 'application/octet-stream'
    if (credentials) {
      signer ??= createSigner(credentials, region)
      const request: SignableRequest = {
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        path: url.pathname,
        query: {},
        // Host is what fetch will send; with the body hash given, the signer never hashes it.
        headers: {
          ...headers,
          host: url.host,
          'x-amz-content-sha256': bodySha256 ?? sha256Hex(body ?? new Uint8Array()),
        },
      }
      if (url.port !== '') request.port = Number(url.port)
      const signed = await (await signer).sign(request)
      for (const [k, v] of Object.entries(signed.headers)) {
        if (k !== 'host') headers[k] = v
      }
    }
    let res: Response
    try {
      res = await doFetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: body as Uint8Array<ArrayBuffer> } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (err) {
      throw new GatehouseError(
        'ERR_INTEGRATION_FAILED',
        `@connections ${method} to ${base.origin} failed: ${(err as Error).message}`,
        { cause: err },
      )
    }
    const text = await res.text()
    return { status: res.status, errorType: errorTypeOf(res.headers), text }
  }

  function fail(method: string, reply: Reply): never {
    const what = `@connections ${method} answered ${reply.status} ${reply.errorType}`.trim()
    if (reply.status === 413) throw new GatehouseError('ERR_MESSAGE_TOO_LARGE', what)
    throw new GatehouseError('ERR_INTEGRATION_FAILED', what, {
      cause: { status: reply.status, errorType: reply.errorType, body: reply.text.slice(0, 500) },
    })
  }

  const idPath = (id: string) => `/${encodeURIComponent(id)}`

  async function postBytes(
    connectionId: string,
    bytes: Uint8Array,
    bodySha256?: string,
  ): Promise<boolean> {
    const reply = await call('POST', idPath(connectionId), bytes, {}, bodySha256)
    if (reply.status === 410) return false
    if (reply.status >= 200 && reply.status < 300) return true
    return fail('POST', reply)
  }

  async function postManyIndividually(
    ids: readonly string[],
    bytes: Uint8Array,
  ): Promise<PostManyResult> {
    // Every recipient gets the same bytes: hash them once, not once per POST.
    const bodySha256 = credentials ? sha256Hex(bytes) : undefined
    return postEachBounded(ids, concurrency, (id) => postBytes(id, bytes, bodySha256))
  }

  async function postManyFanout(
    ids: readonly string[],
    bytes: Uint8Array,
  ): Promise<PostManyResult> {
    let sent = 0
    const gone: string[] = []
    for (let i = 0; i < ids.length; i += batchSize) {
      const batch = ids.slice(i, i + batchSize)
      const reply = await call('POST', '', encodeFanout(batch, bytes), { [FANOUT_HEADER]: '1' })
      if (reply.status !== 200) fail('POST (fan-out)', reply)
      const parsed = parseFanoutReply(reply.text)
      if (!parsed) fail('POST (fan-out)', { ...reply, errorType: 'malformed reply' })
      sent += parsed.sent
      gone.push(...parsed.gone)
    }
    return { sent, gone }
  }

  return {
    post: (connectionId, data) =>
      postBytes(connectionId, typeof data === 'string' ? encoder.encode(data) : data),
    async postMany(connectionIds, data) {
      if (connectionIds.length === 0) return { sent: 0, gone: [] }
      const bytes = typeof data === 'string' ? encoder.encode(data) : data
      return options.useFanout
        ? postManyFanout(connectionIds, bytes)
        : postManyIndividually(connectionIds, bytes)
    },
    async delete(connectionId) {
      const reply = await call('DELETE', idPath(connectionId))
      if (reply.status === 410) return false
      if (reply.status >= 200 && reply.status < 300) return true
      return fail('DELETE', reply)
    },
    async get(connectionId): Promise<ConnectionInfo | null> {
      const reply = await call('GET', idPath(connectionId))
      if (reply.status === 410) return null
      if (reply.status !== 200) return fail('GET', reply)
      const info = parseConnectionInfo(reply.text)
      if (!info) return fail('GET', { ...reply, errorType: 'malformed reply' })
      return info
    },
  }
}

function parseEndpoint(endpoint: string): { origin: string; prefix: string } {
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    throw new GatehouseError('ERR_INVALID_OPTION', `endpoint is not a URL: ${endpoint}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new GatehouseError('ERR_INVALID_OPTION', 'endpoint must be an http(s) URL.')
  }
  if (url.search !== '' || url.hash !== '') {
    throw new GatehouseError('ERR_INVALID_OPTION', 'endpoint must not carry a query or fragment.')
  }
  // Keep the stage path, without a trailing slash, so `/@connections/…` appends cleanly.
  return { origin: url.origin, prefix: `${url.origin}${url.pathname.replace(/\/+$/, '')}` }
}

function errorTypeOf(headers: Headers): string {
  // AWS may append `:http://internal.amazon.com/…` to the type; the name is before the colon.
  return (headers.get('x-amzn-errortype') ?? '').split(':')[0] ?? ''
}

function parseFanoutReply(text: string): PostManyResult | null {
  try {
    const v = JSON.parse(text) as { sent?: unknown; gone?: unknown }
    if (typeof v.sent !== 'number' || !Array.isArray(v.gone)) return null
    if (!v.gone.every((g) => typeof g === 'string')) return null
    return { sent: v.sent, gone: v.gone as string[] }
  } catch {
    return null
  }
}

function parseConnectionInfo(text: string): ConnectionInfo | null {
  try {
    const v = JSON.parse(text) as {
      connectedAt?: unknown
      lastActiveAt?: unknown
      identity?: { sourceIp?: unknown; userAgent?: unknown }
    }
    const connectedAt = typeof v.connectedAt === 'string' ? Date.parse(v.connectedAt) : Number.NaN
    const lastActiveAt =
      typeof v.lastActiveAt === 'string' ? Date.parse(v.lastActiveAt) : Number.NaN
    if (Number.isNaN(connectedAt)) return null
    return {
      connectedAt,
      lastActiveAt: Number.isNaN(lastActiveAt) ? connectedAt : lastActiveAt,
      sourceIp: typeof v.identity?.sourceIp === 'string' ? v.identity.sourceIp : '',
      userAgent: typeof v.identity?.userAgent === 'string' ? v.identity.userAgent : '',
    }
  } catch {
    return null
  }
}
