/**
 * @module adapters/hono
 * Hono speaks Fetch already; this is the one-liner, named so every adapter exports alike.
 * It hands over `c.req.raw`, whose body is still the bytes as they arrived — unless a
 * middleware read it first (`c.req.json()` in a validator): Hono would then rebuild the body
 * from the parsed value, which is a different body, so that request is refused instead.
 */
import { GatehouseError } from '../errors.ts'
import type { FetchHandler } from './node.ts'

/**
 * A Hono handler for a Fetch handler. A request whose body a middleware already read throws a
 * `GatehouseError` (`ERR_BODY_CONSUMED`), which Hono's error handler answers 500.
 *
 * @example
 * ```ts
 * web.post('/ws/:route', toHono(app.fetch))
 * web.post('/api/ws-token/', toHono(app.tokenEndpoint({ authenticate })))
 * ```
 */
export function toHono(
  handler: FetchHandler,
): (c: { req: { raw: Request } }) => Response | Promise<Response> {
  return (c) => {
    if (c.req.raw.bodyUsed) {
      throw new GatehouseError(
        'ERR_BODY_CONSUMED',
        'The request body was already read by a middleware, and Gatehouse needs the raw bytes: ' +
          'the gateway signs them. Mount the Gatehouse route before any middleware that reads ' +
          'the body (a validator, c.req.json()).',
      )
    }
    return handler(c.req.raw)
  }
}
