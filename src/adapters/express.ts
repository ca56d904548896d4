/**
 * @module adapters/express
 * Mount a Fetch handler on Express 4/5 with structural types only (no import of Express).
 * Works whether or not a body parser ran before it: a parsed `req.body` is re-serialised.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  type FetchHandler,
  type NodeBridgeOptions,
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
      try {
        let request: Request
        if (req.body !== undefined && req.readableEnded) {
          // A body parser consumed the stream: rebuild the body from what it parsed.
          const headers = new Headers()
          for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
            headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!)
          headers.delete('content-length')
          const body =
            typeof req.body === 'string'
              ? req.body
              : req.body instanceof Uint8Array
                ? Buffer.from(req.body)
                : JSON.stringify(req.body)
          const url = `${options.protocol ?? 'http'}://${req.headers.host ?? 'localhost'}${req.originalUrl ?? req.url ?? '/'}`
          request = new Request(url, { method: req.method ?? 'POST', headers, body })
        } else {
          request = await toFetchRequest(req, options)
        }
        await writeFetchResponse(res, await handler(request))
      } catch (err) {
        next(err)
      }
    })()
  }
}
