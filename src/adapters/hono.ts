/**
 * @module adapters/hono
 * Hono speaks Fetch already; this is the one-liner, named so every adapter exports alike.
 */
import type { FetchHandler } from './node.ts'

/**
 * A Hono handler for a Fetch handler.
 *
 * @example
 * ```ts
 * honoApp.post('/api/ws-token/', toHono(app.tokenEndpoint({ authenticate })))
 * ```
 */
export function toHono(
  handler: FetchHandler,
): (c: { req: { raw: Request } }) => Response | Promise<Response> {
  return (c) => handler(c.req.raw)
}
