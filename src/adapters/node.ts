/**
 * @module adapters/node
 * A small node:http ↔ Fetch bridge, so the Fetch-API core (token endpoint, HTTP integration)
 * mounts on `node:http` and on anything built on it. The request body is read with a hard
 * limit; a larger body is refused with 413 before it is buffered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import { directCallOf } from '../events/direct-call.ts'
import { joinHeaderValues, trimHeaderValue } from '../events/headers.ts'
import { bodyText, type HttpResponseParts, type IntegrationCall } from '../events/http.ts'
import { refusalBody } from '../http/refusal.ts'
import { positiveInt } from '../util/options.ts'

/** A Fetch-API handler. */
export type FetchHandler = (request: Request) => Response | Promise<Response>

/** Options of {@link toFetchRequest} and {@link toNodeListener}. */
export interface NodeBridgeOptions {
  /** Largest request body read (default `DEFAULTS.maxAdapterBodyBytes`, 1 MiB). */
  readonly maxBodyBytes?: number
  /** Scheme used to build the request URL (default `http`). */
  readonly protocol?: 'http' | 'https'
}

/**
 * Check and freeze adapter options once, when the adapter is built: unknown keys, a
 * `maxBodyBytes` that is not a positive integer and a `protocol` other than http/https throw
 * `ERR_INVALID_OPTION`. Every node-based adapter calls it.
 *
 * @example
 * ```ts
 * const bridge = resolveBridgeOptions({ maxBodyBytes: 262_144 }) // frozen copy
 * ```
 */
export function resolveBridgeOptions(options: NodeBridgeOptions = {}): NodeBridgeOptions {
  if (typeof options !== 'object' || options === null) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'adapter options must be an object.')
  }
  for (const key of Object.keys(options)) {
    if (key !== 'maxBodyBytes' && key !== 'protocol') {
      throw new GatehouseError('ERR_INVALID_OPTION', `unknown adapter option \`${key}\`.`)
    }
  }
  const protocol = options.protocol ?? 'http'
  if (protocol !== 'http' && protocol !== 'https') {
    throw new GatehouseError('ERR_INVALID_OPTION', '`protocol` must be "http" or "https".')
  }
  return Object.freeze({
    maxBodyBytes: positiveInt('maxBodyBytes', options.maxBodyBytes ?? DEFAULTS.maxAdapterBodyBytes),
    protocol,
  })
}

/** A body over the bridge's limit (answered 413). Named, so a log line says what happened. */
class BodyTooLarge extends Error {
  constructor(limit: number) {
    super(`request body over the ${limit}-byte limit`)
    this.name = 'BodyTooLarge'
  }
}
/** A malformed Host or request target (answered 400). */
class BadTarget extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'BadTarget'
  }
}

// A Host header is a name or an IP literal with an optional port, nothing else: a client that
// sends `Host: x/ws/connect?` must not be able to rewrite the path a Fetch handler routes on.
const HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/

/**
 * The URL of a node:http request, built only from a well-formed Host and an origin-form
 * target (`/path?query`); anything else throws, and the bridge answers 400.
 *
 * @example
 * ```ts
 * requestUrl({ headers: { host: 'app.example.com' }, url: '/ws/connect?x=1' }, 'https') // https://app.example.com/ws/connect?x=1
 * ```
 */
export function requestUrl(
  req: { readonly headers: IncomingMessage['headers']; readonly url?: string | undefined },
  protocol: 'http' | 'https' = 'http',
  target: string = req.url ?? '/',
): URL {
  const host = req.headers.host ?? 'localhost'
  if (!HOST.test(host) || !target.startsWith('/') || target.startsWith('//')) {
    throw new BadTarget('malformed Host or request target')
  }
  return new URL(`${protocol}://${host}${target}`)
}

async function readBody(
  req: IncomingMessage,
  source: AsyncIterable<unknown> | Iterable<unknown>,
  limit: number,
): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLarge(limit)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of source) {
    size += (chunk as Buffer).byteLength
    if (size > limit) throw new BodyTooLarge(limit)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/**
 * {@link readBody} of the request stream itself, with listeners instead of an async iterator
 * (whose stream plumbing was a visible share of the app's CPU per integration call). Past the
 * limit the request is destroyed, as leaving a `for await` over it does.
 */
function readRequestBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLarge(limit))
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength
      if (size > limit) {
        cleanup()
        req.destroy()
        reject(new BodyTooLarge(limit))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      cleanup()
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(err)
    }
    const onClose = (): void => {
      cleanup()
      reject(new Error('the request closed before its body ended'))
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

/**
 * Turn a node:http request into a Fetch `Request`. Repeated headers keep every value.
 *
 * @example
 * ```ts
 * const request = await toFetchRequest(req, { maxBodyBytes: 131072 })
 * ```
 */
export async function toFetchRequest(
  req: IncomingMessage,
  options: NodeBridgeOptions = {},
  /**
   * Where the body comes from when a framework has taken over the stream (default: `req`): a
   * stream, or the chunks a raw-body parser already read (`[buffer]`), exactly as they arrived.
   */
  source: AsyncIterable<unknown> | Iterable<Uint8Array> = req,
  /** The request target (default `req.url`); Express's `originalUrl` inside a mounted router. */
  target: string = req.url ?? '/',
): Promise<Request> {
  const headers = new Headers()
  const raw = req.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!)
  const url = requestUrl(req, options.protocol, target)
  const method = req.method ?? 'GET'
  const hasBody = method !== 'GET' && method !== 'HEAD'
  const body = hasBody
    ? await readBody(req, source, options.maxBodyBytes ?? DEFAULTS.maxAdapterBodyBytes)
    : undefined
  return new Request(
    url,
    body === undefined ? { method, headers } : { method, headers, body: new Uint8Array(body) },
  )
}

/**
 * Write a Fetch `Response` to a node:http response (every `Set-Cookie` kept).
 *
 * @example
 * ```ts
 * await writeFetchResponse(res, new Response('ok'))
 * ```
 */
export async function writeFetchResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {}
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value
  })
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) headers['set-cookie'] = cookies
  const body = Buffer.from(await response.arrayBuffer())
  res.writeHead(response.status, headers)
  res.end(body)
}

/**
 * A node:http request as an {@link IntegrationCall}, with what {@link toFetchRequest} would
 * give a Fetch handler: the same URL checks (400), the body read under the same limit (413),
 * header names lower-cased, values trimmed and repeats joined as Fetch `Headers` does
 * (`Set-Cookie` lines kept apart, as `Headers` iterates them).
 *
 * @example
 * ```ts
 * const call = await toIntegrationCall(req, { maxBodyBytes: 135_168 })
 * const event = await decodeIntegrationCall(call)
 * ```
 */
export async function toIntegrationCall(
  req: IncomingMessage,
  options: NodeBridgeOptions = {},
): Promise<IntegrationCall> {
  const url = requestUrl(req, options.protocol)
  const body = await readRequestBody(req, options.maxBodyBytes ?? DEFAULTS.maxAdapterBodyBytes)
  const headers: Array<[string, string]> = []
  const at = new Map<string, number>()
  const raw = req.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase()
    const value = trimHeaderValue(raw[i + 1]!)
    const index = name === 'set-cookie' ? undefined : at.get(name)
    if (index === undefined) {
      at.set(name, headers.length)
      headers.push([name, value])
    } else {
      const entry = headers[index]!
      entry[1] = joinHeaderValues(name, entry[1], value)
    }
  }
  const declared = headers[at.get('content-length') ?? -1]?.[1]
  return {
    method: req.method ?? 'GET',
    url,
    headers,
    text: async (maxBytes) => {
      // As a streamed body: a declared length past the limit is refused before reading.
      if (declared !== undefined && /^[0-9]+$/.test(declared) && Number(declared) > maxBytes) {
        throw new GatehouseError('ERR_INVALID_EVENT', 'The body is larger than allowed')
      }
      return bodyText(body, maxBytes)
    },
    // Read already, under the bridge's limit: nothing is left to release.
    discard: async () => {},
  }
}

/** Write an answer given as plain parts, with its length (one write, no chunking). */
function writeResponseParts(res: ServerResponse, parts: HttpResponseParts): void {
  if (parts.body === undefined) {
    res.writeHead(parts.status, parts.headers)
    res.end()
    return
  }
  res.writeHead(parts.status, {
    ...parts.headers,
    'content-length': String(Buffer.byteLength(parts.body, 'utf8')),
  })
  res.end(parts.body)
}

/**
 * Mount a Fetch handler on node:http. The app's own `app.fetch` is answered without building
 * Fetch objects for its `POST` integration calls (`events/direct-call.ts`): same checks,
 * same limits, same answer, a fraction of the CPU.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * createServer(toNodeListener(app.tokenEndpoint({ authenticate }))).listen(3000, '127.0.0.1')
 * ```
 */
export function toNodeListener(
  handler: FetchHandler,
  options: NodeBridgeOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const bridge = resolveBridgeOptions(options)
  const direct = directCallOf(handler)
  return (req, res) => {
    void (async () => {
      try {
        // POST is what the gateway (and API Gateway, by default) sends; any other method
        // takes the Fetch path, whose `Request` has its own rules for methods and bodies.
        if (direct !== undefined && req.method === 'POST') {
          writeResponseParts(res, await direct(await toIntegrationCall(req, bridge)))
          return
        }
        await writeFetchResponse(res, await handler(await toFetchRequest(req, bridge)))
      } catch (err) {
        answerBridgeError(res, err)
      }
    })()
  }
}

/**
 * Answer a request the bridge could not hand over, or whose handler threw: 413 for a body over
 * the limit, 400 for a malformed Host or target, else a generic 500 (details are the host's to
 * log). Used by every node-based adapter.
 *
 * @example
 * ```ts
 * try { ... } catch (err) { answerBridgeError(res, err) }
 * ```
 */
export function answerBridgeError(res: ServerResponse, err: unknown): void {
  const status = err instanceof BodyTooLarge ? 413 : err instanceof BadTarget ? 400 : 500
  if (res.headersSent) {
    res.destroy()
    return
  }
  res.writeHead(status, { 'content-type': 'application/json', connection: 'close' })
  res.end(refusalBody(status))
}
