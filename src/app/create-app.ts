/**
 * @module app/create-app
 * `createApp`: one app (what upstream calls a view) with its checks, permissions and handlers,
 * answering gateway events from any transport: the bundled gateway in process, an HTTP
 * integration (a Fetch `Request`), or a Lambda proxy event.
 */
import { isGatehouseError } from '../errors.ts'
import { withDirectCall } from '../events/direct-call.ts'
import type { EventHandler, GatewayEvent, GatewayResponse } from '../events/event.ts'
import {
  decodeHttpEvent,
  decodeIntegrationCall,
  encodeHttpResponse,
  type HttpResponseParts,
  httpResponseParts,
} from '../events/http.ts'
import {
  fromLambdaEvent,
  type LambdaResult,
  type LambdaWebSocketEvent,
  toLambdaResult,
} from '../events/lambda.ts'
import { refusalBody } from '../http/refusal.ts'
import { observeStore } from '../store/observed.ts'
import type { ChannelPresence } from '../store/store.ts'
import { createTokenEndpoint, type TokenEndpointOptions } from '../tokens/endpoint.ts'
import { createTokenService, type TokenService } from '../tokens/service.ts'
import { hashSessionId } from '../tokens/token.ts'
import { invalidOption, readOptions } from '../util/options.ts'
import { createActivityRecorder } from './activity.ts'
import { createAuthenticity } from './authenticity.ts'
import { isValidChannel } from './checks/channel.ts'
import { resolveAppConfig } from './config.ts'
import { createConnectPipeline } from './connect.ts'
import { createDisconnectPipeline } from './disconnect.ts'
import { createMessagePipeline } from './message.ts'
import { createRecovery } from './recovery.ts'
import { createRevoker, type KickOptions, type RevokeResult } from './revoke.ts'
import { createRoster } from './roster.ts'
import { createSender, type Sender } from './send.ts'
import { createSessionCache } from './session-cache.ts'
import type { AppOptions } from './types.ts'

const BAD_REQUEST_BODY = refusalBody(400)
const BAD_REQUEST_LAMBDA: LambdaResult = Object.freeze({ statusCode: 400, body: BAD_REQUEST_BODY })

/**
 * A running app.
 * `handle` answers neutral events; `fetch` and `lambda` are the same app behind an HTTP
 * integration or a Lambda function.
 */
export interface App extends EventHandler {
  handle(event: GatewayEvent): Promise<GatewayResponse>
  /** The HTTP integration endpoint: mount it at `…/ws/:route` (connect, disconnect, default, custom). */
  fetch(request: Request): Promise<Response>
  /**
   * The Lambda handler of a WebSocket API route. A malformed event, and a `$connect` without
   * `requestContext.identity.sourceIp`, are answered 400 (`{"message":"Bad Request"}`).
   */
  lambda(event: LambdaWebSocketEvent): Promise<LambdaResult>
  /** Push to connections, users, channels, everyone. */
  readonly send: Sender
  /** Issue, use and revoke tokens of this app's id (the token endpoint is built on it). */
  readonly tokens: TokenService
  /**
   * The CSRF-protected token endpoint as a Fetch handler. `authenticate` reads the logged-in
   * user and session id from the request; it is the only option (token TTL, issue limit,
   * CSRF names and `allowSameSite` are app options), and any other key is refused.
   */
  tokenEndpoint(options: {
    readonly authenticate: (
      request: Request,
    ) => Promise<{ userId: string; sessionId: string } | null>
  }): (request: Request) => Promise<Response>
  /** The app's id (`AppOptions.appId`). */
  readonly appId: string
  /**
   * Logout or ban: close all of a user's sockets and delete all their tokens (used ones too,
   * so a `$connect` that has consumed one but not yet recorded its session is refused). The
   * sockets this process opened close even while the store is down; if the store part still
   * fails after retries it throws `ERR_REVOCATION_INCOMPLETE` (what was done in `details`).
   */
  revokeUser(userId: string): Promise<RevokeResult>
  /** Logout of one HTTP session: its tokens (used or not) and the sockets opened from it; as {@link App.revokeUser}. */
  revokeSession(sessionId: string): Promise<RevokeResult>
  /**
   * Kick a user: push `options.message` to each of their sockets, then close them all. With
   * `revoke: true`, also delete all their tokens (as {@link App.revokeUser}); then end their
   * HTTP sessions in your session store too, or the page simply fetches a new token and
   * comes back. Without it the kick is advisory: a page that reconnects gets in again.
   *
   * @example
   * ```ts
   * await app.kick('bob', { revoke: true, message: { type: 'kicked', by: 'mod' } })
   * sessions.destroyUser('bob') // the host's own HTTP sessions
   * ```
   */
  kick(userId: string, options?: KickOptions): Promise<RevokeResult>
  /**
   * Write the request counts and last-seen times still pending (they are written behind,
   * every `activityFlushMs`); call it on shutdown.
   */
  flushActivity(): Promise<void>
  /**
   * Who is connected to `channel`: each user once with their connection count, and the
   * anonymous connections, in one store query (`Store.channelPresence`). Throws
   * `ERR_INVALID_OPTION` for a name the app's channel pattern refuses.
   *
   * @example
   * ```ts
   * const { members } = await app.presence('lobby') // [{ userId: 'alice', connections: 2 }]
   * ```
   */
  presence(channel: string): Promise<ChannelPresence>
}

/**
 * Create an app.
 *
 * @example
 * ```ts
 * const app = createApp({
 *   store: await openSqliteStore({ path: '.data/gatehouse.db' }),
 *   connections: gateway.connections,
 *   allowedOrigins: ['https://app.example.com'],
 *   identify: (event) => ({ sessionId: parseCookies(event.headers.cookie).get('sessionid') ?? null }),
 *   loadUser: (id) => users.get(id) ?? null,
 *   permissions: { anyOf: ['chat.use'] },
 *   handlers: {
 *     send_message: async (ctx) => {
 *       await ctx.send.toChannel(ctx.session.channel!, { type: 'chat_message', text: ctx.body.text })
 *     },
 *   },
 * })
 * ```
 */
export function createApp(options: AppOptions): App {
  // From here on only `config` is read: the caller's object is never consulted again.
  const config = resolveAppConfig(options)
  const { connections } = config
  // Timed for the store latency histogram, at no cost while nobody listens.
  const store = observeStore(config.store)
  const authenticity = createAuthenticity(config, store)
  const tokens = createTokenService({
    store,
    appId: config.appId,
    connectLimitPerUser: config.connectLimitPerUser,
    connectWindowMs: config.connectWindowMs,
    clock: config.clock,
    logger: config.logger,
    ttlMs: config.tokenTtlMs,
    issueLimit: config.tokenIssueLimit,
    issueWindowMs: config.tokenIssueWindowMs,
  })
  const cache = createSessionCache({
    ttlMs: config.sessionCacheTtlMs,
    maxEntries: config.sessionCacheMaxEntries,
    now: () => config.clock.now(),
  })
  const activity = createActivityRecorder({
    store,
    flushMs: config.activityFlushMs,
    logger: config.logger,
  })
  const send = createSender({
    store,
    connections,
    maxOutboundBytes: config.maxOutboundBytes,
    goneGraceMs: config.goneGraceMs,
    history: config.history,
    clock: config.clock,
    logger: config.logger,
    forget: (ids) => cache.forget(ids),
  })
  const recovery = createRecovery({
    store,
    send,
    history: config.history,
    clock: config.clock,
    logger: config.logger,
  })
  // The sockets this process opened, by user and session: revocation closes them without
  // the store (see ./revoke.ts).
  const roster = createRoster()
  const revoker = createRevoker({
    store,
    tokens,
    send,
    connections,
    roster,
    clock: config.clock,
    logger: config.logger,
  })
  const forgetting = async <T>(
    owner: { readonly userId: string } | { readonly sessionHash: string },
    revoke: () => Promise<T>,
  ): Promise<T> => {
    cache.forgetWhere(owner)
    try {
      return await revoke()
    } finally {
      cache.forgetWhere(owner)
    }
  }
  const onConnect = createConnectPipeline({
    config,
    store,
    authenticity,
    send,
    roster,
    cache,
    recovery,
  })
  const onMessage = createMessagePipeline({
    config,
    store,
    registry: config.handlers,
    send,
    authenticity,
    tokens,
    cache,
    activity,
    recovery,
  })
  const onDisconnect = createDisconnectPipeline({ config, store, authenticity, send, roster })

  const handle = (event: GatewayEvent): Promise<GatewayResponse> => {
    if (event.eventType === 'CONNECT') return onConnect(event)
    if (event.eventType === 'DISCONNECT') {
      // Dropped even when the event proves unauthentic: a forged one costs a cache miss only.
      cache.forget([event.connectionId])
      recovery.forget(event.connectionId)
      return onDisconnect(event)
    }
    return onMessage(event)
  }

  // Read a little past the limit so an oversized message gets the pipeline's usual refusal;
  // anything larger than twice the limit is a malformed call (400).
  const decodeOptions = { maxBodyBytes: config.maxMessageBytes * 2, clock: config.clock }
  // The app's answer to a decoded integration call (a malformed one is answered 400).
  const answer = async (decoding: Promise<GatewayEvent>): Promise<GatewayResponse> => {
    let event: GatewayEvent
    try {
      event = await decoding
    } catch (err) {
      if (!isGatehouseError(err, 'ERR_INVALID_EVENT')) throw err
      config.logger.warn(
        { event: 'event_invalid', reason: 'event_invalid', detail: err.message },
        'invalid integration request',
      )
      return { status: 400, body: BAD_REQUEST_BODY }
    }
    return handle(event)
  }
  const answerParts = async (decoding: Promise<GatewayEvent>): Promise<HttpResponseParts> =>
    httpResponseParts(await answer(decoding))

  return {
    handle,
    // `toNodeListener(app.fetch)` takes the direct form: no Fetch objects per call.
    fetch: withDirectCall(
      async (request: Request) =>
        encodeHttpResponse(await answer(decodeHttpEvent(request, decodeOptions))),
      (call) => answerParts(decodeIntegrationCall(call, decodeOptions)),
    ),
    async lambda(event) {
      let decoded: GatewayEvent
      try {
        decoded = fromLambdaEvent(event, { clock: config.clock })
      } catch (err) {
        if (!isGatehouseError(err, 'ERR_INVALID_EVENT')) throw err
        config.logger.warn(
          { event: 'event_invalid', reason: 'event_invalid', detail: err.message },
          'invalid Lambda event',
        )
        return BAD_REQUEST_LAMBDA
      }
      // Without a source IP every such connect would share one per-IP rate-limit key; the
      // HTTP decoder refuses the same case.
      if (decoded.eventType === 'CONNECT' && decoded.sourceIp === '') {
        config.logger.warn(
          {
            event: 'event_invalid',
            reason: 'event_invalid',
            detail: 'no source IP',
            connectionId: decoded.connectionId,
          },
          'invalid Lambda event',
        )
        return BAD_REQUEST_LAMBDA
      }
      return toLambdaResult(await handle(decoded))
    },
    send,
    tokens,
    tokenEndpoint(endpointOptions) {
      const { authenticate } = readOptions('tokenEndpoint', endpointOptions, ['authenticate'])
      if (typeof authenticate !== 'function') {
        invalidOption(
          'tokenEndpoint.authenticate',
          'a function (request) => { userId, sessionId } | null',
          authenticate,
        )
      }
      return createTokenEndpoint({
        tokens,
        authenticate: authenticate as TokenEndpointOptions['authenticate'],
        allowedOrigins: config.allowedOrigins,
        allowSameSite: config.allowSameSite,
        csrfCookieName: config.csrfCookieName,
        csrfHeaderName: config.csrfHeaderName,
        logger: config.logger,
      })
    },
    appId: config.appId,
    flushActivity: () => activity.flush(),
    // The session cache forgets the owner's connections when a revocation starts (no message
    // of this process answers from memory from then on) and again when it ends, even when it
    // fails (a store read that ran meanwhile is refused and read again).
    revokeUser: (userId) => forgetting({ userId }, () => revoker.revokeUser(userId)),
    revokeSession: (sessionId) =>
      forgetting({ sessionHash: hashSessionId(sessionId) }, () => revoker.revokeSession(sessionId)),
    kick: (userId, options) => forgetting({ userId }, () => revoker.kick(userId, options)),
    async presence(channel) {
      if (!isValidChannel(channel, config.channelPattern)) {
        invalidOption('channel', 'a channel name the app accepts', channel)
      }
      return store.channelPresence(channel)
    },
  }
}
