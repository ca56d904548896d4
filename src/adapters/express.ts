/**
 * @module adapters/express
 * Mount a Fetch handler on Express 4/5 with structural types only (no import of Express).
 *
 * The handler gets the request body byte for byte: the HTTP integration's HMAC signature covers
 * every byte, and a body rebuilt from what a parser made of it (`JSON.stringify(req.body)`)
 * is a different body (`1.0` becomes `1`, `\u00e9` becomes `é`, spacing goes). So the route
 * reads the stream itself, or takes the raw bytes `express.raw()` left in `req.body`; a body
 * another parser already consumed is refused with `ERR_BODY_CONSUMED`, never re-serialised.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { GatehouseError } from '../errors.ts'
import {
  answerBridgeError,
  type FetchHandler,
  type NodeBridgeOptions,
  resolveBridgeOptions,
  toFetchRequest,
  writeFetchResponse,
} from './node.ts'

/** The parts of an Express request the adapter reads. */
export type ExpressLikeRequest = IncomingMessage & {
  body?: unknown
  _body?: unknown
  originalUrl?: string
}

/** What the refusal says, so the fix is in the error itself. */
const CONSUMED_MESSAGE =
  'The request body was already consumed by a body parser (req.body is set), and Gatehouse needs ' +
  'the raw bytes: the gateway signs them, and a re-serialised body is a different body. Mount the ' +
  "Gatehouse route before any body parser, or give it the raw body: app.post('/ws/:route', " +
  "express.raw({ type: () => true, limit: '1mb' }), toExpress(app.fetch))."

/**
 * An Express route handler for a Fetch handler.
 *
 * Mount it before any body parser, or after `express.raw()`: then `req.body` holds the bytes as
 * they arrived and is used as is. A body that another parser (`express.json()`,
 * `express.text()`, `express.urlencoded()`) consumed is refused: `next()` receives a
 * `GatehouseError` with code `ERR_BODY_CONSUMED` (Express answers 500 and logs it). A failing
 * handler goes to `next()` too; a body over `maxBodyBytes` is answered 413, a malformed `Host` 400.
 *
 * @example
 * ```ts
 * web.post('/ws/:route', express.raw({ type: () => true, limit: '1mb' }), toExpress(app.fetch))
 * web.post('/api/ws-token/', toExpress(app.tokenEndpoint({ authenticate })))
 * web.use(express.json()) // the host's own routes, after
 * ```
 */
export function toExpress(
  handler: FetchHandler,
  options: NodeBridgeOptions = {},
): (req: ExpressLikeRequest, res: ServerResponse, next: (err?: unknown) => void) => void {
  const bridge = resolveBridgeOptions(options)
  return (req, res, next) => {
    void (async () => {
      let request: Request
      try {
        const raw = rawBodyOf(req)
        if (raw === 'consumed') {
          next(new GatehouseError('ERR_BODY_CONSUMED', CONSUMED_MESSAGE))
          return
        }
        // `originalUrl`: inside a mounted router `req.url` lost its prefix, and the signature
        // covers the path as the gateway sent it.
        request = await toFetchRequest(
          req,
          bridge,
          raw === undefined ? req : [raw],
          req.originalUrl ?? req.url ?? '/',
        )
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

/**
 * The body bytes a raw parser left, `undefined` when the stream is still unread, or
 * `'consumed'` when something else read it. body-parser marks a request it read with `_body`;
 * `readableEnded` catches any other reader. Express 4's parsers set `req.body = {}` on requests
 * they do not read, so a set `req.body` alone does not mean the stream is gone.
 */
function rawBodyOf(req: ExpressLikeRequest): Uint8Array | undefined | 'consumed' {
  if (!req.readableEnded && req._body !== true) return undefined
  return req.body instanceof Uint8Array ? req.body : 'consumed'
}
