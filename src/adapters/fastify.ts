/**
 * @module adapters/fastify
 * Mount a Fetch handler as a Fastify route with structural types only (no import of Fastify).
 * The route hijacks the reply and reads the raw request, so Fastify's body parsers must not
 * consume it: register the route inside a plugin that adds a pass-through content parser.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  answerBridgeError,
  type FetchHandler,
  type NodeBridgeOptions,
  toFetchRequest,
  writeFetchResponse,
} from './node.ts'

/** The parts of a Fastify request/reply the adapter uses. */
export interface FastifyLikeRequest {
  readonly raw: IncomingMessage
  readonly body?: unknown
}
export interface FastifyLikeReply {
  readonly raw: ServerResponse
  hijack(): void
}

/**
 * A Fastify handler for a Fetch handler.
 *
 * @example
 * ```ts
 * fastify.register(async (scope) => {
 *   scope.removeAllContentTypeParsers()
 *   scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload))
 *   scope.post('/api/ws-token/', toFastify(app.tokenEndpoint({ authenticate })))
 * })
 * ```
 */
export function toFastify(
  handler: FetchHandler,
  options: NodeBridgeOptions = {},
): (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<void> {
  return async (request, reply) => {
    reply.hijack()
    // With the pass-through parser the payload stream is `request.body`; without it, the raw request.
    const body = request.body as { on?: unknown } | undefined
    const source = (
      body && typeof body.on === 'function' ? body : request.raw
    ) as AsyncIterable<unknown>
    let fetchRequest: Request
    try {
      fetchRequest = await toFetchRequest(request.raw, options, source)
    } catch (err) {
      answerBridgeError(reply.raw, err)
      return
    }
    try {
      await writeFetchResponse(reply.raw, await handler(fetchRequest))
    } catch (err) {
      // The reply is hijacked: Fastify would only log this, and the client would hang.
      answerBridgeError(reply.raw, err)
    }
  }
}
