/**
 * @module adapters/express
 * Mount a Fetch handler on Express 4/5 with structural types only (no import of Express).
 * Works whether or not a body parser ran before it: a parsed `req.body` is re-serialised.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  answerBridgeError,
  type FetchHandler,
  type NodeBridgeOptions,
  requestUrl,
  toFetchRequest,
  writeFetchResponse,
} from './node.ts'

/** The parts of an Express request the adapter reads. */
export type ExpressLikeRequest = IncomingMessage & { body?: unknown; originalUrl?: string }

/**
 * An Express route handler for a Fetch handler.
 *
 * @example
 * ```ts
 * app.post('/api/ws-token/', toExpress(gatehouseApp.tokenEndpoint({ authenticate })))
 * app.post('/ws/:route', toExpress(gatehouseApp.fetch))
 * ```
 */
export function toExpress(
  handler: FetchHandler,
  options: NodeBridgeOptions = {},
): (req: ExpressLikeRequest, res: ServerResponse, next: (err?: unknown) => void) => void {
  return (req, res, next) => {
    void (async () => {
      let request: Request
      try {
        request =
          req.body !== undefined && req.readableEnded
            ? fromParsedBody(req, options)
            : await toFetchRequest(req, options)
      } catch (err) {
        answerBridgeError(res, err)
        return
      }
      try {
        await writeFetchResponse(res, await handler(request))
      } catch (err) {
        // The handler's own failure is Express's to report (error middleware).
        next(err)
      }
    })()
  }
}

/** A body parser consumed the stream: rebuild the body from what it parsed. */
function fromParsedBody(req: ExpressLikeRequest, options: NodeBridgeOptions): Request {
  const headers = new Headers()
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!)
  }
  headers.delete('content-length')
  const body =
    typeof req.body === 'string'
      ? req.body
      : req.body instanceof Uint8Array
        ? Buffer.from(req.body)
        : JSON.stringify(req.body)
  const url = requestUrl(req, options.protocol, req.originalUrl ?? req.url ?? '/')
  const method = req.method ?? 'POST'
  return new Request(
    url,
    method === 'GET' || method === 'HEAD' ? { method, headers } : { method, headers, body },
  )
}
