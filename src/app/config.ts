/**
 * @module app/config
 * App options read once, merged with {@link DEFAULTS}, checked and compiled at construction
 * into one frozen {@link AppConfig}. An unknown key (at every level with a fixed shape: the
 * options, permission rules, handler specs), a wrong type, a value out of range or two
 * options that contradict each other throw a {@link GatehouseError} naming the key; nothing
 * is discovered per request. The pipelines read only this config, never the caller's
 * object: arrays are copied, rules and checks compiled, functions captured, so changing the
 * options object after `createApp` changes nothing.
 */
import { type Clock, systemClock } from '../clock.ts'
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import type { GatewayEvent } from '../events/event.ts'
import { HTTP_TOKEN } from '../events/headers.ts'
import { createOriginCheck, type OriginCheck } from '../http/origin.ts'
import { type Logger, silentLogger, withRedaction } from '../logger.ts'
import type { Connections } from '../push/connections.ts'
import { MAX_HISTORY_SIZE } from '../store/history.ts'
import type { HistoryLimits, SessionRecord, Store } from '../store/store.ts'
import { checkAppId } from '../tokens/app-id.ts'
import {
  booleanOption,
  functionOption,
  invalidOption,
  patternOption,
  positiveInt,
  readOptions,
  stringArrayOption,
} from '../util/options.ts'
import { createRequiredHeadersCheck, type RequiredHeadersCheck } from './checks/headers.ts'
import { createHostCheck, type HostCheck } from './checks/host.ts'
import { assertSafePattern } from './checks/pattern.ts'
import { compilePermissionRule } from './checks/permissions.ts'
import { createRegistry, type HandlerRegistry } from './registry.ts'
import type { AppOptions, ConnectCheck, ConnectIdentity, PermissionRule, User } from './types.ts'

/** Every key {@link AppOptions} may hold; anything else is a typo and is refused. */
const APP_KEYS = [
  'appId',
  'store',
  'connections',
  'handlers',
  'useToken',
  'identifyAuthenticates',
  'identify',
  'loadUser',
  'permissions',
  'allowedOrigins',
  'requireOrigin',
  'allowedHosts',
  'requiredHeaders',
  'gatewaySecret',
  'allowUnsignedGateway',
  'hmacOnly',
  'sharedReplayCheck',
  'authorizeChannel',
  'requireChannel',
  'connectChecks',
  'onConnect',
  'onDisconnect',
  'connectFailureLimitPerIp',
  'onPresence',
  'connectLimitPerIp',
  'connectLimitPerUser',
  'connectWindowMs',
  'maxMessageBytes',
  'maxOutboundBytes',
  'goneGraceMs',
  'sessionCacheTtlMs',
  'history',
  'sessionCacheMaxEntries',
  'activityFlushMs',
  'maxJsonDepth',
  'actionKey',
  'channelPattern',
  'tokenQueryParam',
  'tokenTtlMs',
  'tokenIssueLimit',
  'tokenIssueWindowMs',
  'csrfCookieName',
  'csrfHeaderName',
  'allowSameSite',
  'clock',
  'logger',
] as const satisfies readonly (keyof AppOptions)[]

/** Body keys that may name the handler. */
const ACTION_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/
/** Query parameter names (unescaped, as they arrive decoded in the event). */
const QUERY_PARAM_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/

/** The Store methods the app calls; a store lacking one would fail on the first request. */
const STORE_METHODS = [
  'insertToken',
  'consumeToken',
  'revokeTokens',
  'hit',
  'createSession',
  'openSession',
  'recordActivity',
  'getSession',
  'setChannel',
  'markDisconnected',
  'listConnections',
] as const satisfies readonly (keyof Store)[]
const CONNECTIONS_METHODS = [
  'post',
  'postMany',
  'delete',
  'get',
] as const satisfies readonly (keyof Connections)[]
const LOGGER_METHODS = ['debug', 'info', 'warn', 'error'] as const

/**
 * The resolved, validated, compiled options an app runs with. Frozen; the pipelines read
 * nothing else.
 *
 * @example
 * ```ts
 * const config: AppConfig = resolveAppConfig({ store, identify, loadUser, appId: 'chat' })
 * config.appId             // 'chat'
 * config.checkOrigin(origin) // 'ok' | 'missing-ok' | 'forbidden'
 * ```
 */
export interface AppConfig {
  /** Which app tokens are issued for (their audience). */
  readonly appId: string
  readonly store: Store
  readonly connections: Connections | undefined
  readonly useToken: boolean
  readonly identifyAuthenticates: boolean
  readonly requireOrigin: boolean
  readonly allowUnsignedGateway: boolean
  /** Refuse the static secret header: HMAC-signed calls only. */
  readonly hmacOnly: boolean
  /** Claim each signed call's signature in the store too (a replay to another process). */
  readonly sharedReplayCheck: boolean
  readonly requireChannel: boolean
  readonly allowSameSite: boolean
  /** Failed token attempts per IP per window (the IP is never charged for an honest connect). */
  readonly connectFailureLimitPerIp: number
  /** Connects per IP per window, for anonymous apps (`useToken: false`) only. */
  readonly connectLimitPerIp: number
  readonly connectLimitPerUser: number
  readonly connectWindowMs: number
  readonly maxMessageBytes: number
  readonly maxOutboundBytes: number
  /** What channel history keeps (app option `history`, with the defaults applied). */
  readonly history: HistoryLimits
  readonly goneGraceMs: number
  readonly sessionCacheTtlMs: number
  readonly sessionCacheMaxEntries: number
  readonly activityFlushMs: number
  readonly maxJsonDepth: number
  readonly tokenTtlMs: number
  readonly tokenIssueLimit: number
  readonly tokenIssueWindowMs: number
  readonly actionKey: string
  /** A private copy of the caller's pattern (a RegExp can be changed in place). */
  readonly channelPattern: RegExp
  readonly tokenQueryParam: string
  readonly csrfCookieName: string
  readonly csrfHeaderName: string
  readonly gatewaySecret: string | undefined
  readonly clock: Clock
  readonly logger: Logger
  readonly allowedOrigins: readonly string[]
  readonly allowedHosts: readonly string[] | undefined
  readonly requiredHeaders: readonly string[]
  /** Compiled from `allowedOrigins` and `requireOrigin`. */
  readonly checkOrigin: OriginCheck
  /** Compiled from `allowedHosts`; undefined when Host is not checked. */
  readonly checkHost: HostCheck | undefined
  /** Compiled from `requiredHeaders`. */
  readonly missingHeader: RequiredHeadersCheck
  /** The app's rule, frozen; undefined: no requirement. */
  readonly permissions: PermissionRule | undefined
  readonly handlers: HandlerRegistry
  readonly identify:
    | ((event: GatewayEvent) => ConnectIdentity | Promise<ConnectIdentity>)
    | undefined
  readonly loadUser: ((userId: string) => User | null | Promise<User | null>) | undefined
  readonly authorizeChannel:
    | ((user: User | null, channel: string) => boolean | Promise<boolean>)
    | undefined
  readonly connectChecks: readonly ConnectCheck[]
  readonly onConnect: AppOptions['onConnect']
  readonly onDisconnect: AppOptions['onDisconnect']
  readonly onPresence: AppOptions['onPresence']
}

/** A count or duration: `fallback` when absent (only `undefined`: `null` is a wrong type). */
function intOption(key: string, value: unknown, fallback: number, min = 1): number {
  return positiveInt(key, value === undefined ? fallback : value, min)
}

function conflict(message: string): never {
  throw new GatehouseError('ERR_OPTION_CONFLICT', message)
}

function hasMethods<K extends string>(value: unknown, methods: readonly K[]): boolean {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return methods.every((m) => typeof v[m] === 'function')
}

function storeOption(value: unknown): Store {
  if (value === undefined) invalidOption('store', 'a Store (createApp() needs one)')
  if (!hasMethods(value, STORE_METHODS)) {
    invalidOption('store', `a Store with the methods ${STORE_METHODS.join(', ')}`, value)
  }
  // `shared` picks the replay-check default; a missing or non-boolean value would silently
  // turn the shared check off for a store that may be shared. The store must say.
  if (typeof (value as { shared?: unknown }).shared !== 'boolean') {
    invalidOption('store', 'a Store with `shared: true` or `shared: false`', value)
  }
  return value as Store
}

function connectionsOption(value: unknown): Connections | undefined {
  if (value === undefined) return undefined
  // `connections: {}` used to be accepted, and then every push failed.
  if (!hasMethods(value, CONNECTIONS_METHODS)) {
    invalidOption(
      'connections',
      `a Connections port with ${CONNECTIONS_METHODS.join(', ')} (e.g. gateway.connections)`,
      value,
    )
  }
  return value as Connections
}

function clockOption(value: unknown): Clock {
  if (value === undefined) return systemClock
  if (!hasMethods(value, ['now'])) invalidOption('clock', 'an object with a now() method', value)
  return value as Clock
}

function loggerOption(value: unknown): Logger {
  if (value === undefined) return silentLogger
  if (!hasMethods(value, LOGGER_METHODS)) {
    invalidOption('logger', `an object with ${LOGGER_METHODS.join('(), ')}() methods`, value)
  }
  return value as Logger
}

function channelPatternOption(value: unknown): RegExp {
  if (value === undefined) return DEFAULTS.channelPattern
  if (!(value instanceof RegExp)) invalidOption('channelPattern', 'a RegExp', value)
  // Refused here, at construction: the channel check would otherwise throw on every connect.
  assertSafePattern(value, 'channelPattern')
  const copy = new RegExp(value.source, value.flags)
  assertSafePattern(copy, 'channelPattern')
  return copy
}

function connectChecksOption(value: unknown): readonly ConnectCheck[] {
  if (value === undefined) return Object.freeze([])
  if (!Array.isArray(value)) invalidOption('connectChecks', 'an array of functions', value)
  const copy: ConnectCheck[] = []
  for (let i = 0; i < value.length; i++) {
    const check: unknown = value[i]
    if (typeof check !== 'function') invalidOption(`connectChecks[${i}]`, 'a function', check)
    copy.push(check as ConnectCheck)
  }
  return Object.freeze(copy)
}

function secretOption(value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length < 16) {
    // The value itself is never echoed: it is a secret.
    invalidOption('gatewaySecret', 'a string of at least 16 characters')
  }
  return value
}

function nameOption(key: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !HTTP_TOKEN.test(value)) {
    invalidOption(key, 'a cookie or header name (an RFC 9110 token)', value)
  }
  return value
}

// `history: { size, ttlMs }`, unknown keys refused, defaults applied, frozen.
function historyOption(value: unknown): HistoryLimits {
  const h = value === undefined ? {} : readOptions('history', value, ['size', 'ttlMs'] as const)
  const size = intOption('history.size', h.size, DEFAULTS.historySize)
  if (size > MAX_HISTORY_SIZE) invalidOption('history.size', `at most ${MAX_HISTORY_SIZE}`, size)
  return Object.freeze({ size, ttlMs: intOption('history.ttlMs', h.ttlMs, DEFAULTS.historyTtlMs) })
}

/**
 * Read, check and compile app options.
 *
 * @example
 * ```ts
 * const config = resolveAppConfig({ store, identify, loadUser })
 * config.connectFailureLimitPerIp // 20
 * resolveAppConfig({ store, identify, loadUser, allowedOrigin: [] }) // throws ERR_INVALID_OPTION
 * ```
 */
export function resolveAppConfig(options: AppOptions): AppConfig {
  const o = readOptions('', options, APP_KEYS)
  const store = storeOption(o.store)
  const useToken = booleanOption('useToken', o.useToken, true)
  const identify = functionOption<NonNullable<AppConfig['identify']>>('identify', o.identify)
  const loadUser = functionOption<NonNullable<AppConfig['loadUser']>>('loadUser', o.loadUser)
  const permissions = compilePermissionRule(o.permissions, 'permissions')
  if (useToken && identify === undefined) {
    invalidOption(
      'identify',
      'a function (with `useToken` on, the default, createApp() needs `identify(event)` to read the session from the handshake)',
    )
  }
  if (useToken && loadUser === undefined) {
    invalidOption(
      'loadUser',
      'a function (with `useToken` on, the default, createApp() needs `loadUser(userId)`)',
    )
  }
  const identifyAuthenticates = booleanOption(
    'identifyAuthenticates',
    o.identifyAuthenticates,
    false,
  )
  if (!useToken && identifyAuthenticates) {
    conflict(
      '`identifyAuthenticates` names users, and `useToken: false` makes connections anonymous.',
    )
  }
  if (!useToken && permissions !== undefined) {
    conflict('`permissions` need a user, and `useToken: false` makes connections anonymous.')
  }
  const gatewaySecret = secretOption(o.gatewaySecret)
  const allowUnsignedGateway = booleanOption('allowUnsignedGateway', o.allowUnsignedGateway, false)
  if (gatewaySecret !== undefined && allowUnsignedGateway) {
    conflict(
      '`allowUnsignedGateway` contradicts `gatewaySecret`: with a secret, unsigned calls are refused.',
    )
  }
  const hmacOnly = booleanOption('hmacOnly', o.hmacOnly, false)
  if (hmacOnly && gatewaySecret === undefined) {
    conflict('`hmacOnly` needs `gatewaySecret`: without a secret no call can be signed.')
  }
  // On a shared store (PostgreSQL, Redis) another app process may receive a replay.
  const sharedReplayCheck = booleanOption('sharedReplayCheck', o.sharedReplayCheck, store.shared)
  // Without it every signed message would fail with a TypeError (a 500) at its first claim.
  if (sharedReplayCheck && typeof store.claimNonce !== 'function') {
    conflict('`sharedReplayCheck` needs a store with `claimNonce` (or set it to false).')
  }
  const requireOrigin = booleanOption('requireOrigin', o.requireOrigin, false)
  const allowedOrigins = stringArrayOption('allowedOrigins', o.allowedOrigins, [])!
  const allowedHosts = stringArrayOption('allowedHosts', o.allowedHosts, undefined)
  const requiredHeaders = stringArrayOption('requiredHeaders', o.requiredHeaders, [])!.map((h) =>
    h.toLowerCase(),
  )
  const tokenQueryParam = patternOption(
    'tokenQueryParam',
    o.tokenQueryParam,
    DEFAULTS.tokenQueryParam,
    QUERY_PARAM_PATTERN,
  )
  const reserved = [
    DEFAULTS.channelQueryParam,
    DEFAULTS.historySinceQueryParam,
    DEFAULTS.historyEpochQueryParam,
  ] as string[]
  if (reserved.includes(tokenQueryParam) && tokenQueryParam !== DEFAULTS.channelQueryParam) {
    conflict(
      `\`tokenQueryParam\` must not be \`${tokenQueryParam}\`: that parameter carries a reconnecting client's history position.`,
    )
  }
  if (tokenQueryParam === DEFAULTS.channelQueryParam) {
    conflict(
      `\`tokenQueryParam\` must not be \`${DEFAULTS.channelQueryParam}\`: that parameter names the channel.`,
    )
  }
  const csrfCookieName = nameOption('csrfCookieName', o.csrfCookieName, DEFAULTS.csrfCookieName)
  const csrfHeaderName = nameOption('csrfHeaderName', o.csrfHeaderName, DEFAULTS.csrfHeaderName)

  const config: AppConfig = {
    appId: checkAppId('appId', o.appId === undefined ? DEFAULTS.appId : o.appId),
    store,
    connections: connectionsOption(o.connections),
    useToken,
    identifyAuthenticates,
    requireOrigin,
    allowUnsignedGateway,
    hmacOnly,
    sharedReplayCheck,
    requireChannel: booleanOption('requireChannel', o.requireChannel, false),
    allowSameSite: booleanOption('allowSameSite', o.allowSameSite, DEFAULTS.allowSameSite),
    connectFailureLimitPerIp: intOption(
      'connectFailureLimitPerIp',
      o.connectFailureLimitPerIp,
      DEFAULTS.connectFailureLimitPerIp,
    ),
    connectLimitPerIp: intOption(
      'connectLimitPerIp',
      o.connectLimitPerIp,
      DEFAULTS.connectLimitPerIp,
    ),
    connectLimitPerUser: intOption(
      'connectLimitPerUser',
      o.connectLimitPerUser,
      DEFAULTS.connectLimitPerUser,
    ),
    connectWindowMs: intOption('connectWindowMs', o.connectWindowMs, DEFAULTS.connectWindowMs),
    maxMessageBytes: intOption('maxMessageBytes', o.maxMessageBytes, DEFAULTS.maxMessageBytes),
    maxOutboundBytes: intOption('maxOutboundBytes', o.maxOutboundBytes, DEFAULTS.maxOutboundBytes),
    history: historyOption(o.history),
    goneGraceMs: intOption('goneGraceMs', o.goneGraceMs, DEFAULTS.goneGraceMs, 0),
    sessionCacheTtlMs: intOption(
      'sessionCacheTtlMs',
      o.sessionCacheTtlMs,
      DEFAULTS.sessionCacheTtlMs,
      0,
    ),
    sessionCacheMaxEntries: intOption(
      'sessionCacheMaxEntries',
      o.sessionCacheMaxEntries,
      DEFAULTS.sessionCacheMaxEntries,
    ),
    activityFlushMs: intOption('activityFlushMs', o.activityFlushMs, DEFAULTS.activityFlushMs, 10),
    maxJsonDepth: intOption('maxJsonDepth', o.maxJsonDepth, DEFAULTS.maxJsonDepth),
    tokenTtlMs: intOption('tokenTtlMs', o.tokenTtlMs, DEFAULTS.tokenTtlMs, 1000),
    tokenIssueLimit: intOption('tokenIssueLimit', o.tokenIssueLimit, DEFAULTS.tokenIssueLimit),
    tokenIssueWindowMs: intOption(
      'tokenIssueWindowMs',
      o.tokenIssueWindowMs,
      DEFAULTS.tokenIssueWindowMs,
    ),
    actionKey: patternOption('actionKey', o.actionKey, DEFAULTS.actionKey, ACTION_KEY_PATTERN),
    channelPattern: channelPatternOption(o.channelPattern),
    tokenQueryParam,
    csrfCookieName,
    csrfHeaderName,
    gatewaySecret,
    clock: clockOption(o.clock),
    // The app's own credential names are censored in its log lines like the defaults.
    logger: withRedaction(loggerOption(o.logger), {
      fields: [csrfHeaderName, csrfCookieName],
      queryParams: [tokenQueryParam],
    }),
    allowedOrigins,
    allowedHosts,
    requiredHeaders: Object.freeze(requiredHeaders),
    checkOrigin: createOriginCheck(allowedOrigins, { requireOrigin }),
    checkHost: allowedHosts === undefined ? undefined : createHostCheck(allowedHosts),
    missingHeader: createRequiredHeadersCheck(requiredHeaders),
    permissions,
    handlers: createRegistry(o.handlers),
    identify,
    loadUser,
    authorizeChannel: functionOption<NonNullable<AppConfig['authorizeChannel']>>(
      'authorizeChannel',
      o.authorizeChannel,
    ),
    connectChecks: connectChecksOption(o.connectChecks),
    onConnect: functionOption<
      (ctx: { event: GatewayEvent; user: User | null; session: SessionRecord }) => void
    >('onConnect', o.onConnect),
    onDisconnect: functionOption<
      (ctx: { event: GatewayEvent; session: SessionRecord | null }) => void
    >('onDisconnect', o.onDisconnect),
    onPresence: functionOption<NonNullable<AppOptions['onPresence']>>('onPresence', o.onPresence),
  }
  return Object.freeze(config)
}
