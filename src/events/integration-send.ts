/**
 * @module events/integration-send
 * Send an {@link IntegrationRequest} with `node:http`/`node:https`, writing its headers in
 * their exact casing and order (Fetch cannot: it hides `Host` and `Content-Length`).
 * Connections are kept alive between calls, every call has a deadline (AWS: 29 s), and the
 * response body is bounded.
 */
import http from 'node:http'
import https from 'node:https'
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError, isGatehouseError } from '../errors.ts'
import { afterDeadline } from '../util/deadlines.ts'
import { nullRecord } from './headers.ts'
import type { IntegrationRequest } from './integration-request.ts'

/** The app's answer to an integration call. */
export interface IntegrationResponse {
  readonly status: number
  /** Lower-case names; repeated headers joined with `", "`. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** Options of {@link sendIntegrationRequest}. */
export interface SendIntegrationOptions {
  /** Deadline for the whole call, headers and body; default `DEFAULTS.integrationTimeoutMs`. */
  readonly timeoutMs?: number
  readonly signal?: AbortSignal
  /** Largest response body accepted; default `DEFAULTS.maxOutboundBytes`. */
  readonly maxResponseBytes?: number
  /** The agent to use; default a shared keep-alive agent per protocol. */
  readonly agent?: http.Agent
}

let httpAgent: http.Agent | undefined
let httpsAgent: https.Agent | undefined

/**
 * The shared keep-alive agent for a protocol (what calls use unless given an agent).
 *
 * @example
 * ```ts
 * integrationAgent('http:').destroy() // on shutdown: close idle connections
 * ```
 */
export function integrationAgent(protocol: 'http:' | 'https:'): http.Agent {
  if (protocol === 'https:') {
    httpsAgent ??= new https.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 })
    return httpsAgent
  }
  httpAgent ??= new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 })
  return httpAgent
}

/**
 * Send an integration request and read the answer.
 *
 * @throws GatehouseError `ERR_INTEGRATION_TIMEOUT` when no complete answer arrived within
 *   `timeoutMs` (the gateway answers 504); `ERR_INTEGRATION_FAILED` when the app could not
 *   be reached, the call was aborted, or the answer was larger than `maxResponseBytes`.
 * @example
 * ```ts
 * const { status, headers, body } = await sendIntegrationRequest(
 *   toIntegrationRequest(event, target),
 *   { timeoutMs: 29_000 },
 * )
 * ```
 */
export function sendIntegrationRequest(
  request: IntegrationRequest,
  options: SendIntegrationOptions = {},
): Promise<IntegrationResponse> {
  const timeoutMs = options.timeoutMs ?? DEFAULTS.integrationTimeoutMs
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULTS.maxOutboundBytes
  const { signal } = options
  let url: Target
  try {
    url = targetOf(request.url)
  } catch (cause) {
    return Promise.reject(failed('The integration URL cannot be parsed', cause))
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(failed('The integration URL must use http or https'))
  }
  if (signal?.aborted)
    return Promise.reject(failed('The integration call was aborted', signal.reason))

  return new Promise<IntegrationResponse>((resolve, reject) => {
    let settled = false
    const settle = (err: Error | undefined, value?: IntegrationResponse): void => {
      if (settled) return
      settled = true
      done()
      signal?.removeEventListener('abort', onAbort)
      if (err) reject(err)
      else if (value) resolve(value)
    }
    let response: http.IncomingMessage | undefined
    // Settle first, then tear down without an error: once settled, later socket errors
    // land on listeners that ignore them instead of escaping as uncaught.
    const abandon = (err: GatehouseError): void => {
      settle(err)
      response?.destroy()
      req.destroy()
    }
    const onAbort = (): void => abandon(failed('The integration call was aborted', signal?.reason))

    const transport = url.protocol === 'https:' ? https : http
    let req: http.ClientRequest
    try {
      req = transport.request({
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port,
        path: url.path,
        method: request.method,
        // An array of pairs keeps each header's casing and order; Host is in it, so none is
        // added. Node only reads it: passed as it is, not copied pair by pair.
        headers: request.headers as unknown as http.OutgoingHttpHeaders,
        setHost: false,
        agent: options.agent ?? integrationAgent(url.protocol === 'https:' ? 'https:' : 'http:'),
      })
    } catch (err) {
      // An invalid method or header throws synchronously; nothing was sent.
      settled = true
      reject(failed('The integration request is malformed', err))
      return
    }

    // From the shared deadline queue of this timeout value: no timer per call.
    const done = afterDeadline(timeoutMs, () => {
      abandon(
        new GatehouseError(
          'ERR_INTEGRATION_TIMEOUT',
          `The integration call timed out after ${timeoutMs} ms`,
        ),
      )
    })
    signal?.addEventListener('abort', onAbort, { once: true })

    req.on('error', (err) => {
      settle(isGatehouseError(err) ? err : failed('The integration call failed', err))
    })
    req.on('response', (res) => {
      response = res
      const chunks: Buffer[] = []
      let total = 0
      res.on('data', (chunk: Buffer) => {
        total += chunk.length
        if (total > maxResponseBytes) {
          abandon(failed(`The integration response is larger than ${maxResponseBytes} bytes`))
          return
        }
        chunks.push(chunk)
      })
      res.on('error', (err) => {
        settle(isGatehouseError(err) ? err : failed('The integration response failed', err))
      })
      res.on('end', () => {
        const headers = nullRecord<string>()
        for (const name of Object.keys(res.headers)) {
          const value = res.headers[name]
          if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value
        }
        settle(undefined, {
          status: res.statusCode ?? 502,
          headers,
          body: Buffer.concat(chunks).toString('utf8'),
        })
      })
    })

    req.end(request.body)
  })
}

/** What a request needs of its URL, parsed once per distinct URL (routes have few). */
interface Target {
  readonly protocol: string
  readonly hostname: string
  readonly port: number | undefined
  readonly path: string
}

const TARGETS_MAX = 256
const targets = new Map<string, Target>()

function targetOf(href: string): Target {
  const known = targets.get(href)
  if (known !== undefined) return known
  const url = new URL(href)
  const target: Target = Object.freeze({
    protocol: url.protocol,
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port === '' ? undefined : Number(url.port),
    path: `${url.pathname}${url.search}`,
  })
  // Bounded: a caller that varies the query per call must not grow it without end.
  if (targets.size >= TARGETS_MAX) targets.clear()
  targets.set(href, target)
  return target
}

function failed(message: string, cause?: unknown): GatehouseError {
  return new GatehouseError('ERR_INTEGRATION_FAILED', message, cause === undefined ? {} : { cause })
}
