/**
 * @module app/types
 * The public shapes of an app: its options, its handlers and what a handler receives.
 * An app is what upstream calls a view: one set of checks, permissions and handlers.
 */
import type { Clock } from '../clock.ts'
import type { GatewayEvent } from '../events/event.ts'
import type { Logger } from '../logger.ts'
import type { Connections } from '../push/connections.ts'
import type { SessionRecord, Store } from '../store/store.ts'
import type { TokenService } from '../tokens/service.ts'
import type { PresenceHook } from './presence.ts'
import type { Sender } from './send.ts'
import type { StandardSchemaV1 } from './standard-schema.ts'

/** A user as the host app knows it. */
export interface User {
  readonly id: string
  /** Permission names, e.g. `chat.use`. */
  readonly permissions: ReadonlySet<string> | readonly string[]
  /**
   * An inactive user is refused at connect, and on messages once the app reads the user again
   * (within `sessionCacheTtlMs`; at once after `revokeUser`). Default true.
   */
  readonly active?: boolean
}

/**
 * Permission rules. When both lists are set, both are enforced: the user needs at least one
 * of `anyOf` and every one of `allOf`.
 */
export interface PermissionRule {
  readonly anyOf?: readonly string[]
  readonly allOf?: readonly string[]
}

/** Who is behind a `$connect`, as the host app reads it from the handshake (cookie). */
export interface ConnectIdentity {
  /** The HTTP session id (e.g. from the session cookie); tokens are bound to its hash. */
  readonly sessionId: string | null
  /**
   * The user of that session, when the host can tell cheaply. It enables the per-user connect
   * limit before the token is used, and the faster `$connect` order: the user, permission,
   * channel and custom checks run first (on this user), then one store call uses the token —
   * which must have been issued to this session AND this user — and writes the session
   * together. A user those checks refuse keeps an unused token. Without it the token is
   * used first, and the user it names is checked.
   */
  readonly userId?: string | null
}

/**
 * What a message handler receives. `Body` is the handler schema's output type when it has a
 * schema (see {@link defineHandler}), else the parsed JSON object.
 */
export interface MessageContext<Body = Readonly<Record<string, unknown>>> {
  readonly event: GatewayEvent
  /**
   * The session as the app last read it (at `$connect`, or on a cache miss): user, channel
   * and session hash are current; `requestCount` and `lastSeenAt` are not (they are written
   * behind, see `activityFlushMs`).
   */
  readonly session: SessionRecord
  /** `null` only in apps with `useToken: false`. */
  readonly user: User | null
  /** The handler name that selected this handler (`default` included). */
  readonly action: string
  /**
   * The parsed JSON message (an object; `{}` when the body was not an object). With a
   * `schema`, the schema's output: the validated value, without the `action` and request-id
   * keys.
   */
  readonly body: Body
  /** Push to connections, users, channels or everyone. */
  readonly send: Sender
  /** The app's token service (e.g. revoke a kicked user's tokens before closing their sockets). */
  readonly tokens: TokenService
  /** Move this connection to another channel, validated and authorised like at connect. */
  changeChannel(channel: unknown): Promise<boolean>
  readonly logger: Logger
}

/**
 * A handler's result: anything JSON-serialisable is sent back to the sender (a two-way
 * route); `undefined` sends nothing.
 */
export type HandlerResult = unknown

/** A message handler function. */
export type HandlerFn<Body = Readonly<Record<string, unknown>>, Reply = HandlerResult> = (
  ctx: MessageContext<Body>,
) => Reply | Promise<Reply>

/**
 * A handler with its own permission rule, on top of the app's, and optionally a body schema.
 * A body that fails `schema` gets the generic validation reply and never reaches `run`.
 * Use {@link defineHandler} to have `ctx.body` typed from the schema.
 */
export interface HandlerSpec<Body = Readonly<Record<string, unknown>>, Reply = HandlerResult> {
  readonly run: HandlerFn<Body, Reply>
  readonly permissions?: PermissionRule
  /** A Standard Schema (zod 4, valibot, arktype, …) the body must pass. */
  readonly schema?: StandardSchemaV1<unknown, Body>
}

/**
 * A handler map as {@link AppOptions.handlers} takes it. Bodies are `any` here only so that
 * handlers typed by their schemas fit the one map; each handler keeps its own types.
 */
// biome-ignore lint/suspicious/noExplicitAny: see above; the map is variance-erased on purpose.
export type HandlerMap = Readonly<Record<string, HandlerFn | HandlerSpec<any, unknown>>>

/** The connect check hook: return `false` (or a status) to refuse. */
export type ConnectCheck = (ctx: {
  readonly event: GatewayEvent
  readonly user: User | null
  readonly channel: string | null
}) => boolean | number | Promise<boolean | number>

/**
 * Options of {@link createApp}. See `DEFAULTS` for every default value. They are read once:
 * an unknown key, a wrong type or a contradiction throws at construction (`ERR_INVALID_OPTION`,
 * `ERR_OPTION_CONFLICT`), and changing this object afterwards changes nothing.
 */
export interface AppOptions {
  readonly store: Store
  /**
   * This app's id (`^[A-Za-z0-9._:-]{1,64}$`), the audience of its tokens: its token
   * endpoint issues tokens under it, and its `$connect` accepts only tokens issued under it.
   * Apps that share a store need distinct ids. Default `DEFAULTS.appId` (`'default'`).
   */
  readonly appId?: string
  /** Where pushes go (the bundled gateway, or the AWS Management API). */
  readonly connections?: Connections
  /** Handlers by name. `default` receives unknown and forbidden names when present. */
  readonly handlers?: HandlerMap
  /** Require a single-use token at connect (default true). Off only for public, anonymous endpoints. */
  readonly useToken?: boolean
  /**
   * The opt-out from the connect token for clients that prove who they are at the upgrade
   * itself, e.g. an API or mobile client whose `identify` verifies a bearer JWT from the
   * `Authorization` header. When true, `$connect` takes no single-use token: the user
   * `identify` names (it must name one, else 401) passes `loadUser`, `permissions`, channel
   * and custom checks as usual. Default false: the token is required, and `identify` only
   * says which session it must have been issued to. See docs/non-browser-clients.md.
   */
  readonly identifyAuthenticates?: boolean
  /** Read the HTTP session (and user) from the `$connect` event, typically from its cookie. */
  readonly identify?: (event: GatewayEvent) => ConnectIdentity | Promise<ConnectIdentity>
  /** Load a user by id (at connect, and on every message to re-check `active` and permissions). */
  readonly loadUser?: (userId: string) => User | null | Promise<User | null>
  /** The app's own permission rule, applied at connect and to every message. */
  readonly permissions?: PermissionRule
  /** Exact origins allowed (`scheme://host[:port]`). Empty: browsers refused, non-browser clients still need a token. */
  readonly allowedOrigins?: readonly string[]
  /** Refuse `$connect` without `Origin` (non-browser clients). Default false. */
  readonly requireOrigin?: boolean
  /**
   * Exact `Host` values allowed at `$connect`; unset: not checked. This is the `Host` the app
   * receives, which depends on how the gateway reaches it: in process and through Lambda it
   * is the client's own `Host` header (the API's domain as the client typed it); through an
   * HTTP integration it is the `host[:port]` of the integration URL, because the gateway
   * (like AWS API Gateway) addresses the integration request to that URL and does not
   * forward the client's `Host`. Behind an HTTP integration, list the integration's host,
   * not the public domain.
   */
  readonly allowedHosts?: readonly string[]
  /** Headers `$connect` must carry (lower-case). */
  readonly requiredHeaders?: readonly string[]
  /** Shared secret of gateway → app HTTP calls (HMAC, or the static header behind AWS). */
  readonly gatewaySecret?: string
  /** Accept unsigned HTTP integration calls when no secret is set. Default false (fail closed). */
  readonly allowUnsignedGateway?: boolean
  /**
   * Accept only HMAC-signed calls from the bundled gateway: a call carrying the static
   * `x-gatehouse-secret` header (the AWS request-parameter mapping) is refused (403), so a
   * leaked static value opens nothing. Needs `gatewaySecret`. Default false.
   */
  readonly hmacOnly?: boolean
  /**
   * Also claim each signed call's signature in the store (`Store.claimNonce`), so a call
   * replayed to another app process inside the signature window is refused there too
   * (the in-memory replay cache only sees its own process). Default: on when the store is
   * shared (`store.shared`: PostgreSQL, Redis), off otherwise. Costs one store call per
   * signed message and `$disconnect`, run alongside the session read; a `$connect` with a
   * token needs none (its single-use token refuses a replay anywhere). A custom store must
   * set `shared` to a boolean (otherwise `ERR_INVALID_OPTION`) and, when this resolves on,
   * implement `claimNonce` (otherwise `ERR_OPTION_CONFLICT` at construction).
   */
  readonly sharedReplayCheck?: boolean
  /** Authorise a channel for a user, at connect and on channel changes. */
  readonly authorizeChannel?: (user: User | null, channel: string) => boolean | Promise<boolean>
  /** Require a channel at connect. Default false (no channel: the session has none). */
  readonly requireChannel?: boolean
  /** Extra connect checks, after the token and permissions. */
  readonly connectChecks?: readonly ConnectCheck[]
  /** Called after a session is recorded, and after a disconnect; `send` is the app's. */
  readonly onConnect?: (ctx: {
    event: GatewayEvent
    user: User | null
    session: SessionRecord
    send: Sender
  }) => void | Promise<void>
  readonly onDisconnect?: (ctx: {
    event: GatewayEvent
    session: SessionRecord | null
    send: Sender
  }) => void | Promise<void>
  /**
   * Called when a connection joins a channel (its `$connect` succeeded), leaves it
   * (`$disconnect`), or moves (`changeChannel`: a leave, then a join), with the app's `send`
   * and `presence()` of that channel. Errors are logged, never fatal.
   */
  readonly onPresence?: PresenceHook
  /**
   * Failed token attempts per client IP per window (`DEFAULTS.connectFailureLimitPerIp`);
   * successful connects never count.
   */
  readonly connectFailureLimitPerIp?: number
  /** Connects per client IP per window of an anonymous app (`useToken: false`). */
  readonly connectLimitPerIp?: number
  /** Connect attempts per user per window; the token endpoint answers 429 while spent. */
  readonly connectLimitPerUser?: number
  readonly connectWindowMs?: number
  readonly maxMessageBytes?: number
  readonly maxOutboundBytes?: number
  /** How long after connecting a Gone push leaves the session alone (`DEFAULTS.goneGraceMs`). */
  readonly goneGraceMs?: number
  /**
   * How long a message trusts the session and user kept since `$connect` before reading the
   * store again (`DEFAULTS.sessionCacheTtlMs`, 0 = always read). `revokeUser`,
   * `revokeSession`, kicks and channel changes take effect at once whatever its value.
   */
  readonly sessionCacheTtlMs?: number
  /**
   * What channel history keeps (`send.toChannel(…, { history: true })`): the last `size`
   * messages per channel (1-10 000, `DEFAULTS.historySize`), none older than `ttlMs`
   * (`DEFAULTS.historyTtlMs`).
   */
  readonly history?: { readonly size?: number; readonly ttlMs?: number }
  /** Connections kept in the session cache (`DEFAULTS.sessionCacheMaxEntries`). */
  readonly sessionCacheMaxEntries?: number
  /** How often request counts and last-seen times are written, in one batch (`DEFAULTS.activityFlushMs`). */
  readonly activityFlushMs?: number
  readonly maxJsonDepth?: number
  /** The body key naming the handler, `^[A-Za-z][A-Za-z0-9_]{0,63}$` (`DEFAULTS.actionKey`). */
  readonly actionKey?: string
  /** Anchored, without the m, g or y flags (`DEFAULTS.channelPattern`); copied at construction. */
  readonly channelPattern?: RegExp
  /** The token's query parameter, `^[A-Za-z0-9_.-]{1,64}$`, not `channel` (`DEFAULTS.tokenQueryParam`). */
  readonly tokenQueryParam?: string
  /** Token lifetime, at least 1000 ms (`DEFAULTS.tokenTtlMs`). */
  readonly tokenTtlMs?: number
  /** Tokens one user may be issued per `tokenIssueWindowMs` (`DEFAULTS.tokenIssueLimit`). */
  readonly tokenIssueLimit?: number
  readonly tokenIssueWindowMs?: number
  /** Cookie and header of the token endpoint's CSRF double submit (`csrftoken`, `x-csrftoken`). */
  readonly csrfCookieName?: string
  readonly csrfHeaderName?: string
  /**
   * Let the token endpoint accept `Sec-Fetch-Site: same-site` (page and endpoint on sibling
   * hosts). Default false (`DEFAULTS.allowSameSite`).
   */
  readonly allowSameSite?: boolean
  readonly clock?: Clock
  readonly logger?: Logger
}
