/**
 * @module adapters/fastify
 * Mount Fetch handlers on Fastify 4/5 with structural types only (no import of Fastify).
 *
 * The handler gets the request body byte for byte (the gateway's HMAC signature covers every
 * byte). Fastify parses bodies before a route runs, and answers 415 to a body whose type has
 * no parser — every gateway message, which carries no `Content-Type`. {@link gatehousePlugin}
 * registers the Gatehouse routes inside their own encapsulated scope with a pass-through
 * parser for every type, so the stream reaches the handler untouched while the host's other
 * routes keep their own parsers.
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

/** The parts of a Fastify request/reply the adapter uses. */
export interface FastifyLikeRequest {
  readonly raw: IncomingMessage
  readonly body?: unknown
}
export interface FastifyLikeReply {
  readonly raw: ServerResponse
  hijack(): unknown
}

/** The parts of a Fastify instance (the plugin's encapsulated scope) the plugin uses. */
export interface FastifyLikeScope {
  removeAllContentTypeParsers(): unknown
  addContentTypeParser(
    contentType: string,
    parser: (
      request: unknown,
      payload: IncomingMessage,
      done: (err: Error | null, body?: unknown) => void,
    ) => void,
  ): unknown
  all(
    path: string,
    handler: (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<void>,
  ): unknown
}

/** Options of {@link gatehousePlugin}. */
export interface GatehousePluginOptions extends NodeBridgeOptions {
  /** Path → Fetch handler, e.g. `{ '/api/ws-token/': app.tokenEndpoint({ authenticate }), '/ws/:route': app.fetch }`. */
  readonly routes: Readonly<Record<string, FetchHandler>>
  /** Fastify's own register options, passed through to `register()`. */
  readonly prefix?: string
  readonly logLevel?: string
  readonly logSerializers?: unknown
}

const CONSUMED_MESSAGE =
  'The request body was already parsed by a Fastify content-type parser, and Gatehouse needs ' +
  'the raw bytes: the gateway signs them, and a re-serialised body is a different body. Register ' +
  'the Gatehouse routes with the plugin, which brings its own raw-body parser: fastify.register(' +
  "gatehousePlugin, { routes: { '/ws/:route': app.fetch } })."

/**
 * A Fastify handler for a Fetch handler. It hijacks the reply and writes the Fetch response
 * itself. Use it inside a scope whose content-type parser passes the payload stream through
 * (what {@link gatehousePlugin} sets up); a body already parsed into something else is refused
 * with a `GatehouseError` (`ERR_BODY_CONSUMED`) thrown to Fastify's error handler, rather than
 * rebuilt.
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
  const bridge = resolveBridgeOptions(options)
  return async (request, reply) => {
    // Before hijack(), so Fastify's error handler logs the refusal and answers it.
    const source = bodySource(request)
    reply.hijack()
    let fetchRequest: Request
    try {
      fetchRequest = await toFetchRequest(request.raw, bridge, source)
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

/**
 * Where the body bytes are: the payload stream a pass-through parser returned, the bytes a
 * buffer parser read, or the raw request when no parser ran (no body). Anything else is a body
 * some parser turned into a value, whose bytes are gone.
 */
function bodySource(request: FastifyLikeRequest): AsyncIterable<unknown> | Iterable<Uint8Array> {
  const body = request.body as { on?: unknown } | undefined
  if (body === undefined || body === null) {
    if (request.raw.readableEnded) throw new GatehouseError('ERR_BODY_CONSUMED', CONSUMED_MESSAGE)
    return request.raw
  }
  if (body instanceof Uint8Array) return [body]
  if (typeof body.on === 'function') return body as unknown as AsyncIterable<unknown>
  throw new GatehouseError('ERR_BODY_CONSUMED', CONSUMED_MESSAGE)
}

const REGISTER_KEYS = new Set(['prefix', 'logLevel', 'logSerializers'])
const OWN_KEYS = new Set(['routes', 'maxBodyBytes', 'protocol'])

/**
 * A Fastify plugin that serves Gatehouse's Fetch handlers (the token endpoint, the HTTP
 * integration) on the given paths, for every method (the handler answers the ones it refuses,
 * e.g. 405 for a GET to the token endpoint). It is encapsulated: its pass-through content-type
 * parser applies to its own routes only, and the host's routes keep `application/json` and
 * the rest. Options are checked when Fastify loads the plugin (`ERR_INVALID_OPTION`).
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { gatehousePlugin } from 'gatehouse/fastify'
 *
 * const web = Fastify()
 * await web.register(gatehousePlugin, {
 *   routes: {
 *     '/api/ws-token/': app.tokenEndpoint({ authenticate }),
 *     '/ws/:route': app.fetch, // the HTTP integration
 *   },
 * })
 * ```
 */
export async function gatehousePlugin(
  scope: FastifyLikeScope,
  options: GatehousePluginOptions,
): Promise<void> {
  const { routes, bridge } = resolvePluginOptions(options)
  scope.removeAllContentTypeParsers()
  // `*` is Fastify's catch-all (a body without `Content-Type` included): hand the stream over.
  scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload))
  for (const [path, handler] of routes) {
    scope.all(path, toFastify(handler, bridge))
  }
}

function invalid(message: string): GatehouseError {
  return new GatehouseError('ERR_INVALID_OPTION', `gatehousePlugin: ${message}`)
}

function resolvePluginOptions(options: GatehousePluginOptions): {
  routes: ReadonlyArray<readonly [string, FetchHandler]>
  bridge: NodeBridgeOptions
} {
  if (typeof options !== 'object' || options === null) throw invalid('options are required.')
  for (const key of Object.keys(options)) {
    if (!OWN_KEYS.has(key) && !REGISTER_KEYS.has(key)) throw invalid(`unknown option \`${key}\`.`)
  }
  const given = options.routes
  if (typeof given !== 'object' || given === null) {
    throw invalid('`routes` must be an object of path → Fetch handler.')
  }
  const routes: Array<readonly [string, FetchHandler]> = []
  for (const path of Object.keys(given)) {
    const handler = given[path]
    if (!path.startsWith('/')) throw invalid(`route \`${path}\` must start with "/".`)
    if (typeof handler !== 'function') throw invalid(`route \`${path}\` needs a function.`)
    routes.push(Object.freeze([path, handler] as const))
  }
  if (routes.length === 0) throw invalid('`routes` names no route.')
  const bridge = resolveBridgeOptions({
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    ...(options.protocol === undefined ? {} : { protocol: options.protocol }),
  })
  return { routes: Object.freeze(routes), bridge }
}
