/**
 * @module adapters/node
 * A small node:http ↔ Fetch bridge, so the Fetch-API core (token endpoint, HTTP integration)
 * mounts on `node:http` and on anything built on it. The request body is read with a hard
 * limit; a larger body is refused with 413 before it is buffered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

/** A Fetch-API handler. */
export type FetchHandler = (request: Request) => Response | Promise<Response>

/** Options of {@link toFetchRequest} and {@link toNodeListener}. */
export interface NodeBridgeOptions {
  /** Largest request body read (default 1 MiB). */
  readonly maxBodyBytes?: number
  /** Scheme used to build the request URL (default `http`). */
  readonly protocol?: 'http' | 'https'
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLarge()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength
    if (size > limit) throw new BodyTooLarge()
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
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
): Promise<Request> {
  const headers = new Headers()
  const raw = req.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!)
  const host = req.headers.host ?? 'localhost'
  const url = `${options.protocol ?? 'http'}://${host}${req.url ?? '/'}`
  const method = req.method ?? 'GET'
  const hasBody = method !== 'GET' && method !== 'HEAD'
  const body = hasBody ? await readBody(req, options.maxBodyBytes ?? 1_048_576) : undefined
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
 * Mount a Fetch handler on node:http.
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
  return (req, res) => {
    void (async () => {
      let request: Request
      try {
        request = await toFetchRequest(req, options)
      } catch (err) {
        const status = err instanceof BodyTooLarge ? 413 : 400
        res.writeHead(status, { 'content-type': 'application/json', connection: 'close' })
        res.end(JSON.stringify({ message: status === 413 ? 'Payload Too Large' : 'Bad Request' }))
        return
      }
      try {
        await writeFetchResponse(res, await handler(request))
      } catch {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ message: 'Internal server error' }))
      }
    })()
  }
}
