/**
 * @module gateway/options
 * The gateway's options, merged once with the defaults table and checked at construction:
 * a wrong type or range is `ERR_INVALID_OPTION`, two options that contradict each other are
 * `ERR_OPTION_CONFLICT`, and an unknown key (a typo such as `idleTimeout`) is refused rather
 * than silently ignored.
 */
import { randomInt } from 'node:crypto'
import { type Clock, systemClock } from '../clock.ts'
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError, isGatehouseError } from '../errors.ts'
import { compileRouteExpression } from '../events/route-selection.ts'
import { isTrustedProxy } from '../limits/client-ip.ts'
import { type Logger, silentLogger } from '../logger.ts'
import { describe, positiveInt } from '../util/options.ts'
import {
  type ClusterOptions,
  type ResolvedClusterOptions,
  resolveClusterOptions,
} from './cluster/options.ts'
import type { Integration } from './integration.ts'
import { mapperFor } from './integrations/request-parameters.ts'

/**
 * Options of {@link createGateway}. Every limit defaults to the value in `DEFAULTS` (AWS's
 * quota where AWS has one); tests pass short timers.
 *
 * @example
 * ```ts
 * const options: GatewayOptions = {
 *   port: 3001,
 *   stage: 'dev',
 *   routes: { $connect: { type: 'in-process', handler: app }, $default: { type: 'in-process', handler: app, twoWay: true } },
 *   idleTimeoutMs: 60_000,
 * }
 * ```
 */
export interface GatewayOptions {
  /** TCP port for {@link Gateway.listen}; 0 picks a free one. Default 0. */
  readonly port?: number
  /** Address to bind. Default `127.0.0.1`. */
  readonly host?: string
  /** Stage name: clients connect to `/` or `/{stage}`. Default `production`. */
  readonly stage?: string
  /** API id reported in events; default: 10 random lower-case letters and digits, like AWS. */
  readonly apiId?: string
  /** `requestContext.domainName`; default: the address and port the client connected to. */
  readonly domainName?: string
  /** Route key → integration. `$connect` is optional (absent: every connection is accepted). */
  readonly routes?: Readonly<Record<string, Integration>>
  /** Default `$request.body.action`. */
  readonly routeSelectionExpression?: string
  readonly maxMessageBytes?: number
  readonly maxFrameBytes?: number
  readonly maxOutboundBytes?: number
  readonly idleTimeoutMs?: number
  readonly maxConnectionMs?: number
  readonly pingIntervalMs?: number
  readonly pongTimeoutMs?: number
  readonly maxConnections?: number
  readonly maxConnectionsPerIp?: number
  readonly maxPendingHandshakes?: number
  readonly maxPendingHandshakesPerIp?: number
  /** Upgrade attempts one client IP may make at once (`DEFAULTS.upgradeBurstPerIp`); past it, 429. */
  readonly upgradeBurstPerIp?: number
  /** Steady refill of that burst, per second (`DEFAULTS.upgradesPerSecondPerIp`). */
  readonly upgradesPerSecondPerIp?: number
  readonly headersTimeoutMs?: number
  readonly requestTimeoutMs?: number
  readonly connectionsCheckingIntervalMs?: number
  readonly maxBufferedBytes?: number
  readonly messageBurst?: number
  readonly messagesPerSecond?: number
  readonly integrationTimeoutMs?: number
  readonly maxInFlightPerConnection?: number
  readonly maxQueuedMessagesPerConnection?: number
  readonly maxFragments?: number
  readonly closeTimeoutMs?: number
  readonly maxUrlLength?: number
  readonly retryAfterSeconds?: number
  /** Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed. Default none. */
  readonly trustedProxies?: readonly string[]
  /** How many trusted proxies stand in front (counted from the right of `X-Forwarded-For`). Default 1. */
  readonly trustedHops?: number
  readonly clock?: Clock
  readonly logger?: Logger
  readonly sweepIntervalMs?: number
  /**
   * Run as one node of a cluster over Redis (see {@link ClusterOptions}): any node's
   * `connections` reach every node's sockets. Absent: a single gateway.
   */
  readonly cluster?: ClusterOptions
}

/**
 * The options after defaults are merged and checks passed.
 *
 * @example
 * ```ts
 * const { idleTimeoutMs, routes } = resolveGatewayOptions(options)
 * ```
 */
export interface ResolvedGatewayOptions {
  readonly port: number
  readonly host: string
  readonly stage: string
  readonly apiId: string
  readonly domainName: string | undefined
  readonly routes: ReadonlyMap<string, Integration>
  readonly routeSelectionExpression: string
  readonly maxMessageBytes: number
  readonly maxFrameBytes: number
  readonly maxOutboundBytes: number
  readonly idleTimeoutMs: number
  readonly maxConnectionMs: number
  readonly pingIntervalMs: number
  readonly pongTimeoutMs: number
  readonly maxConnections: number
  readonly maxConnectionsPerIp: number
  readonly maxPendingHandshakes: number
  readonly maxPendingHandshakesPerIp: number
  readonly upgradeBurstPerIp: number
  readonly upgradesPerSecondPerIp: number
  readonly headersTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly connectionsCheckingIntervalMs: number
  readonly maxBufferedBytes: number
  readonly messageBurst: number
  readonly messagesPerSecond: number
  readonly integrationTimeoutMs: number
  readonly maxInFlightPerConnection: number
  readonly maxQueuedMessagesPerConnection: number
  readonly maxFragments: number
  readonly closeTimeoutMs: number
  readonly maxUrlLength: number
  readonly retryAfterSeconds: number
  readonly trustedProxies: readonly string[]
  readonly trustedHops: number
  readonly clock: Clock
  readonly logger: Logger
  readonly sweepIntervalMs: number
  readonly cluster: ResolvedClusterOptions | undefined
}

/** Numeric options: positive integers unless listed in {@link ZERO_ALLOWED}. */
const NUMERIC_KEYS = [
  'maxMessageBytes',
  'maxFrameBytes',
  'maxOutboundBytes',
  'idleTimeoutMs',
  'maxConnectionMs',
  'pingIntervalMs',
  'pongTimeoutMs',
  'maxConnections',
  'maxConnectionsPerIp',
  'maxPendingHandshakes',
  'maxPendingHandshakesPerIp',
  'upgradeBurstPerIp',
  'upgradesPerSecondPerIp',
  'headersTimeoutMs',
  'requestTimeoutMs',
  'connectionsCheckingIntervalMs',
  'maxBufferedBytes',
  'messageBurst',
  'messagesPerSecond',
  'integrationTimeoutMs',
  'maxInFlightPerConnection',
  'maxQueuedMessagesPerConnection',
  'maxFragments',
  'closeTimeoutMs',
  'maxUrlLength',
  'retryAfterSeconds',
  'trustedHops',
  'sweepIntervalMs',
] as const

type NumericKey = (typeof NUMERIC_KEYS)[number]

const OTHER_KEYS = [
  'port',
  'host',
  'stage',
  'apiId',
  'domainName',
  'routes',
  'routeSelectionExpression',
  'trustedProxies',
  'clock',
  'logger',
  'cluster',
] as const

const KNOWN_KEYS: ReadonlySet<string> = new Set<string>([...NUMERIC_KEYS, ...OTHER_KEYS])

/** Stage names as AWS allows them. */
const STAGE_PATTERN = /^[A-Za-z0-9_-]{1,128}$/
/** API ids: AWS's are 10 lower-case alphanumerics; any URL-safe token is accepted here. */
const API_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/
/** Custom route keys: printable, no `$` prefix (reserved by AWS), bounded. */
const ROUTE_KEY_PATTERN = /^[\x21-\x7e]{0,128}$/
/** An HTTP method token (RFC 9110). */
const METHOD_PATTERN = /^[A-Z]{1,16}$/
const RESERVED_ROUTES: ReadonlySet<string> = new Set(['$connect', '$disconnect', '$default'])

const ALPHANUM = 'abcdefghijklmnopqrstuvwxyz0123456789'

/**
 * A random API id like AWS's: 10 lower-case letters and digits.
 *
 * @example
 * ```ts
 * randomApiId() // e.g. 'k3v9x0b2qa'
 * ```
 */
export function randomApiId(): string {
  let id = ''
  for (let i = 0; i < 10; i++) id += ALPHANUM[randomInt(ALPHANUM.length)]
  return id
}

/**
 * `value`, or the default when it is absent. Only `undefined` is absent: `null` is a wrong
 * type and reaches the checks (`??` would have turned `port: null` into the default).
 */
function orDefault<T, D>(value: T | undefined, fallback: () => D): T | D {
  return value === undefined ? fallback() : value
}

function invalid(message: string): never {
  throw new GatehouseError('ERR_INVALID_OPTION', message)
}

function conflict(message: string): never {
  throw new GatehouseError('ERR_OPTION_CONFLICT', message)
}

function checkTimeout(name: string, value: number): number {
  const { minIntegrationTimeoutMs: min, maxIntegrationTimeoutMs: max } = DEFAULTS
  if (value < min || value > max) {
    invalid(`\`${name}\` must be between ${min} and ${max} ms (AWS's integration timeout range).`)
  }
  return value
}

function checkIntegration(key: string, integration: unknown): Integration {
  if (typeof integration !== 'object' || integration === null) {
    invalid(`routes[${JSON.stringify(key)}] must be an integration object.`)
  }
  // A private copy: changing the caller's integration object later changes nothing.
  const i: Record<string, unknown> = { ...(integration as Record<string, unknown>) }
  const where = `routes[${JSON.stringify(key)}]`
  for (const field of Object.keys(i)) {
    const allowed =
      i.type === 'http'
        ? [
            'type',
            'url',
            'method',
            'secret',
            'realIpHeader',
            'requestParameters',
            'twoWay',
            'timeoutMs',
          ]
        : ['type', 'handler', 'twoWay', 'timeoutMs']
    if (!allowed.includes(field)) invalid(`${where} has an unknown field \`${field}\`.`)
  }
  if (i.twoWay !== undefined && typeof i.twoWay !== 'boolean') {
    invalid(`${where}.twoWay must be a boolean.`)
  }
  if (i.timeoutMs !== undefined)
    checkTimeout(`${where}.timeoutMs`, positiveInt(`${where}.timeoutMs`, i.timeoutMs))
  if (i.twoWay === true && (key === '$connect' || key === '$disconnect')) {
    conflict(
      `${where}.twoWay: ${key} has no client to reply to; only message routes can be two-way.`,
    )
  }
  switch (i.type) {
    case 'in-process': {
      const handler = i.handler as { handle?: unknown } | null | undefined
      if (typeof handler !== 'object' || handler === null || typeof handler.handle !== 'function') {
        invalid(`${where}.handler must be an EventHandler (an object with a handle(event) method).`)
      }
      break
    }
    case 'lambda':
      if (typeof i.handler !== 'function')
        invalid(`${where}.handler must be a function (event, context).`)
      break
    case 'http': {
      let url: URL
      try {
        url = new URL(String(i.url))
      } catch {
        invalid(`${where}.url must be an absolute http(s) URL.`)
      }
      if (typeof i.url !== 'string' || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        invalid(`${where}.url must be an absolute http(s) URL.`)
      }
      if (url.username !== '' || url.password !== '') {
        invalid(`${where}.url must not carry credentials; use \`secret\` to sign requests.`)
      }
      if (
        i.method !== undefined &&
        (typeof i.method !== 'string' || !METHOD_PATTERN.test(i.method))
      ) {
        invalid(`${where}.method must be an upper-case HTTP method such as POST.`)
      }
      // Compiled now (and cached) so a bad mapping fails at construction.
      mapperFor(i, where)
      if (i.realIpHeader !== undefined && typeof i.realIpHeader !== 'boolean') {
        invalid(`${where}.realIpHeader must be a boolean.`)
      }
      if (i.secret !== undefined && (typeof i.secret !== 'string' || i.secret.length < 16)) {
        invalid(`${where}.secret must be a string of at least 16 characters.`)
      }
      break
    }
    default:
      invalid(`${where}.type must be 'in-process', 'http' or 'lambda'.`)
  }
  return Object.freeze(i) as unknown as Integration
}

function checkRoutes(routes: unknown): Map<string, Integration> {
  const out = new Map<string, Integration>()
  if (routes === undefined) return out
  if (typeof routes !== 'object' || routes === null || Array.isArray(routes)) {
    invalid('`routes` must be an object of route key → integration.')
  }
  for (const key of Object.keys(routes)) {
    if (key.startsWith('$') && !RESERVED_ROUTES.has(key)) {
      invalid(
        `routes: ${JSON.stringify(key)} — custom route keys must not start with $ (reserved).`,
      )
    }
    if (!ROUTE_KEY_PATTERN.test(key)) {
      invalid(`routes: ${JSON.stringify(key.slice(0, 40))} is not a valid route key.`)
    }
    out.set(key, checkIntegration(key, (routes as Record<string, unknown>)[key]))
  }
  return out
}

/**
 * Merge `options` with the defaults and check them.
 *
 * @example
 * ```ts
 * resolveGatewayOptions({ idleTimeoutMs: 200 }).idleTimeoutMs // 200
 * resolveGatewayOptions({ maxFrameBytes: 200_000 }) // throws ERR_OPTION_CONFLICT (> maxMessageBytes)
 * ```
 */
export function resolveGatewayOptions(options: GatewayOptions = {}): ResolvedGatewayOptions {
  if (typeof options !== 'object' || options === null) invalid('Gateway options must be an object.')
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key)) invalid(`Unknown gateway option \`${key}\`.`)
  }
  const numbers = {} as Record<NumericKey, number>
  for (const key of NUMERIC_KEYS) {
    const fallback = key === 'trustedHops' ? 1 : (DEFAULTS as Record<string, unknown>)[key]
    const value = options[key] === undefined ? fallback : options[key]
    numbers[key] = positiveInt(key, value)
  }
  checkTimeout('integrationTimeoutMs', numbers.integrationTimeoutMs)

  const port = orDefault(options.port, () => DEFAULTS.gatewayPort)
  if (!Number.isSafeInteger(port) || port < 0 || port > 65_535) {
    invalid(`\`port\` must be an integer from 0 to 65535, got ${describe(port)}.`)
  }
  const host = orDefault(options.host, () => DEFAULTS.gatewayHost)
  if (typeof host !== 'string' || host.length === 0) invalid('`host` must be a non-empty string.')
  const stage = orDefault(options.stage, () => DEFAULTS.stage)
  if (typeof stage !== 'string' || !STAGE_PATTERN.test(stage)) {
    invalid('`stage` must match ^[A-Za-z0-9_-]{1,128}$.')
  }
  const apiId = orDefault(options.apiId, () => randomApiId())
  if (typeof apiId !== 'string' || !API_ID_PATTERN.test(apiId)) {
    invalid('`apiId` must match ^[A-Za-z0-9_-]{1,64}$.')
  }
  const domainName = options.domainName
  if (
    domainName !== undefined &&
    (typeof domainName !== 'string' || !/^[A-Za-z0-9.:[\]_-]{1,253}$/.test(domainName))
  ) {
    invalid('`domainName` must be a host name, optionally with a port.')
  }
  const expression = orDefault(
    options.routeSelectionExpression,
    () => DEFAULTS.routeSelectionExpression,
  )
  if (typeof expression !== 'string' || expression.length === 0 || expression.length > 1024) {
    invalid('`routeSelectionExpression` must be a non-empty string such as $request.body.action.')
  }
  // Parsed now so a malformed expression fails at construction, not on the first message.
  try {
    compileRouteExpression(expression)
  } catch (err) {
    // The parser's message says what is wrong; this names the option it came from.
    if (isGatehouseError(err)) invalid(`\`routeSelectionExpression\`: ${err.message}`)
    throw err
  }
  const trustedProxies = orDefault(options.trustedProxies, () => [])
  if (!Array.isArray(trustedProxies) || trustedProxies.some((p) => typeof p !== 'string')) {
    invalid('`trustedProxies` must be an array of IP addresses or CIDR ranges.')
  }
  const frozenProxies = Object.freeze([...trustedProxies])
  // Compile once now, so a bad entry fails at construction rather than on the first connect.
  isTrustedProxy('127.0.0.1', frozenProxies)
  const clock = orDefault(options.clock, () => systemClock)
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
    invalid('`clock` must have a now() method.')
  }
  const logger = orDefault(options.logger, () => silentLogger)
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger?.[level] !== 'function') invalid(`\`logger\` must have a ${level}() method.`)
  }
  const routes = checkRoutes(options.routes)
  const cluster = options.cluster === undefined ? undefined : resolveClusterOptions(options.cluster)

  if (numbers.maxFrameBytes > numbers.maxMessageBytes) {
    conflict('`maxFrameBytes` is larger than `maxMessageBytes`: a frame is part of a message.')
  }
  if (numbers.maxConnectionsPerIp > numbers.maxConnections) {
    conflict('`maxConnectionsPerIp` is larger than `maxConnections`.')
  }
  if (numbers.maxPendingHandshakesPerIp > numbers.maxPendingHandshakes) {
    conflict('`maxPendingHandshakesPerIp` is larger than `maxPendingHandshakes`.')
  }
  if (numbers.headersTimeoutMs > numbers.requestTimeoutMs) {
    conflict(
      '`headersTimeoutMs` is larger than `requestTimeoutMs`; Node requires headers ≤ request.',
    )
  }
  if (numbers.maxInFlightPerConnection > numbers.maxQueuedMessagesPerConnection) {
    conflict('`maxInFlightPerConnection` is larger than `maxQueuedMessagesPerConnection`.')
  }

  return Object.freeze({
    ...numbers,
    port,
    host,
    stage,
    apiId,
    domainName,
    routes,
    routeSelectionExpression: expression,
    trustedProxies: frozenProxies,
    clock,
    logger,
    cluster,
  })
}
