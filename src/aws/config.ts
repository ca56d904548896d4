/**
 * @module aws/config
 * What `gatehouse aws` provisions, read from a small config file (JSON, or a TS/JS module
 * exporting it as `default`) and command-line flags, validated strictly: an unknown or
 * misspelt key is refused with `ERR_INVALID_OPTION` naming it, never ignored, because a
 * silently dropped `throttlingBurstLimt` would ship an API without the limit its owner wrote.
 */
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import { MIN_SECRET_LENGTH } from '../events/signing.ts'

/** The app behind an HTTP server: `HTTP_PROXY` to `<url><route>` (`…/ws/connect`, …). */
export interface AwsHttpIntegration {
  readonly type: 'http'
  /** Base URL; each route is called at `<url>connect`, `<url>disconnect`, `<url>default`, `<url><key>`. */
  readonly url: string
  /** The environment variable holding the app's `gatewaySecret` (sent as `x-gatehouse-secret`). */
  readonly secretEnv: string
  readonly timeoutMs: number
}

/** The app as a Lambda function: `AWS_PROXY`, one function for every route. */
export interface AwsLambdaIntegration {
  readonly type: 'lambda'
  /** `arn:aws:lambda:{region}:{account}:function:{name}[:alias]` */
  readonly functionArn: string
  readonly timeoutMs: number
}

/** One route besides `$connect` and `$disconnect`. */
export interface AwsRoute {
  readonly key: string
  /** Send the app's answer back to the client (a `$default` route response). */
  readonly twoWay: boolean
}

/** The stage: its name, throttling and access logging. */
export interface AwsStage {
  readonly name: string
  readonly throttlingRateLimitPerSecond: number
  readonly throttlingBurstLimit: number
  readonly detailedMetrics: boolean
  /** CloudWatch Logs (or Firehose) destination and line format; no access log when absent. */
  readonly accessLog?: { readonly destinationArn: string; readonly format: string }
}

/** A custom domain (`wss://ws.example.com/...`) with its ACM certificate. */
export interface AwsDomain {
  readonly name: string
  readonly certificateArn: string
  /** The API mapping key (path prefix); `""` maps the domain's root. */
  readonly basePath: string
}

/** Everything `gatehouse aws` needs, validated and frozen. */
export interface AwsProvisionConfig {
  /** The API's name; with the `gatehouse:api` tag it is how the API is found again. */
  readonly name: string
  readonly description: string
  readonly region: string | undefined
  /** For the IAM policy `plan` prints; taken from an ARN in the config when absent. */
  readonly accountId: string | undefined
  readonly routeSelectionExpression: string
  readonly integration: AwsHttpIntegration | AwsLambdaIntegration
  /** `$default` first, then the extra routes; `$connect`/`$disconnect` are always added. */
  readonly routes: readonly AwsRoute[]
  readonly stage: AwsStage
  readonly domain: AwsDomain | undefined
  readonly tags: Readonly<Record<string, string>>
}

/** The tag that marks an API or domain as provisioned by `gatehouse aws` for an API name. */
export const OWNER_TAG = 'gatehouse:api'

/**
 * The default access-log line: one JSON object per event, with no token, cookie or body
 * (`$context` variables only; the query string that carries `ws_token` is never logged).
 */
export const DEFAULT_ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  connectionId: '$context.connectionId',
  routeKey: '$context.routeKey',
  eventType: '$context.eventType',
  status: '$context.status',
  requestTime: '$context.requestTime',
  integrationError: '$context.integrationErrorMessage',
})

const TOP_KEYS = [
  'name',
  'description',
  'region',
  'accountId',
  'routeSelectionExpression',
  'integration',
  'routes',
  'defaultRoute',
  'stage',
  'domain',
  'tags',
] as const
const HTTP_KEYS = ['type', 'url', 'secretEnv', 'timeoutMs'] as const
const LAMBDA_KEYS = ['type', 'functionArn', 'timeoutMs'] as const
const ROUTE_KEYS = ['key', 'twoWay'] as const
const DEFAULT_ROUTE_KEYS = ['twoWay'] as const
const STAGE_KEYS = [
  'name',
  'throttlingRateLimitPerSecond',
  'throttlingBurstLimit',
  'detailedMetrics',
  'accessLog',
] as const
const ACCESS_LOG_KEYS = ['destinationArn', 'format'] as const
const DOMAIN_KEYS = ['name', 'certificateArn', 'basePath'] as const

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/
const STAGE = /^[A-Za-z0-9_-]{1,128}$/
const ROUTE_KEY = /^[A-Za-z0-9_.:-]{1,128}$/
const REGION = /^[a-z]{2}(-[a-z]+)+-[0-9]$/
const ACCOUNT = /^[0-9]{12}$/
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/
const LAMBDA_ARN =
  /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$/
const ACM_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate\/[A-Za-z0-9-]{1,128}$/
const LOG_ARN = /^arn:aws[a-z-]*:(logs|firehose):[a-z0-9-]+:[0-9]{12}:[\x21-\x7e]{1,1024}$/
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/
const BASE_PATH = /^([A-Za-z0-9_.~-]{1,128}(\/[A-Za-z0-9_.~-]{1,128})*)?$/
const TAG = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u
/** A selection expression AWS accepts for WebSocket route selection. */
const SELECTION =
  /^\$request\.body\.[A-Za-z0-9_.$[\]-]{1,256}$|^\$\{request\.body\.[A-Za-z0-9_.$[\]-]{1,256}\}$/

/**
 * Validate a raw config (from a file, merged with flags) into an {@link AwsProvisionConfig}.
 * `where` names the source in messages (`gatehouse.aws.json`).
 *
 * @throws GatehouseError `ERR_INVALID_OPTION` naming the first unknown or malformed key,
 *   `ERR_OPTION_CONFLICT` when a route is listed twice.
 * @example
 * ```ts
 * const config = parseAwsConfig({
 *   name: 'chat',
 *   integration: { type: 'http', url: 'https://app.example.com/ws/' },
 * }, 'gatehouse.aws.json')
 * config.stage.name // 'production'
 * ```
 */
export function parseAwsConfig(raw: unknown, where = 'config'): AwsProvisionConfig {
  const top = record(raw, where, TOP_KEYS)
  const name = match(top.name, `${where}: name`, NAME, 'an API name ([A-Za-z0-9_.-], ≤ 128)')
  const region = optionalMatch(top.region, `${where}: region`, REGION, 'an AWS region name')
  const accountId = optionalMatch(
    top.accountId,
    `${where}: accountId`,
    ACCOUNT,
    'a 12-digit account id',
  )
  const description =
    top.description === undefined
      ? `WebSocket API ${name}, provisioned by gatehouse aws`
      : text(top.description, `${where}: description`, 1024)
  const routeSelectionExpression =
    top.routeSelectionExpression === undefined
      ? DEFAULTS.routeSelectionExpression
      : match(
          top.routeSelectionExpression,
          `${where}: routeSelectionExpression`,
          SELECTION,
          '$request.body.<field>',
        )
  const integration = parseIntegration(top.integration, `${where}: integration`)
  const defaultRoute =
    top.defaultRoute === undefined
      ? { twoWay: true }
      : (() => {
          const d = record(top.defaultRoute, `${where}: defaultRoute`, DEFAULT_ROUTE_KEYS)
          return { twoWay: bool(d.twoWay, `${where}: defaultRoute.twoWay`, true) }
        })()
  const routes: AwsRoute[] = [{ key: '$default', twoWay: defaultRoute.twoWay }]
  if (top.routes !== undefined) {
    if (!Array.isArray(top.routes)) throw invalid(`${where}: routes must be an array`)
    top.routes.forEach((entry, i) => {
      const at = `${where}: routes[${i}]`
      const r = typeof entry === 'string' ? { key: entry } : record(entry, at, ROUTE_KEYS)
      const key = match(r.key, `${at}.key`, ROUTE_KEY, 'a route key ([A-Za-z0-9_.:-], ≤ 128)')
      if (routes.some((x) => x.key === key)) {
        throw new GatehouseError('ERR_OPTION_CONFLICT', `${at}: route ${key} is listed twice`)
      }
      routes.push({ key, twoWay: bool(r.twoWay, `${at}.twoWay`, true) })
    })
  }
  const stage = parseStage(top.stage, `${where}: stage`)
  const domain = top.domain === undefined ? undefined : parseDomain(top.domain, `${where}: domain`)
  const tags: Record<string, string> = {}
  if (top.tags !== undefined) {
    const t = record(top.tags, `${where}: tags`, undefined)
    for (const key of Object.keys(t)) {
      if (!TAG.test(key) || key.startsWith('aws:') || key === OWNER_TAG) {
        throw invalid(`${where}: tags: \`${key.slice(0, 40)}\` is not a tag key you can set`)
      }
      tags[key] = text(t[key], `${where}: tags.${key}`, 256)
    }
  }
  const config: AwsProvisionConfig = {
    name,
    description,
    region,
    accountId,
    routeSelectionExpression,
    integration,
    routes,
    stage,
    domain,
    tags,
  }
  return deepFreeze(config)
}

function parseIntegration(raw: unknown, where: string): AwsHttpIntegration | AwsLambdaIntegration {
  if (raw === undefined) {
    throw invalid(`${where} is required: --integration <base-url> or --lambda <function-arn>`)
  }
  const type = (raw as { type?: unknown } | null)?.type
  const timeoutMs = (value: unknown): number => {
    if (value === undefined) return DEFAULTS.integrationTimeoutMs
    if (
      typeof value !== 'number' ||
      !Number.isSafeInteger(value) ||
      value < 50 ||
      value > DEFAULTS.maxIntegrationTimeoutMs
    ) {
      throw invalid(
        `${where}.timeoutMs must be an integer from 50 to ${DEFAULTS.maxIntegrationTimeoutMs}`,
      )
    }
    return value
  }
  if (type === 'http') {
    const r = record(raw, where, HTTP_KEYS)
    return {
      type: 'http',
      url: baseUrl(r.url, `${where}.url`),
      secretEnv:
        r.secretEnv === undefined
          ? 'GATEHOUSE_SECRET'
          : match(r.secretEnv, `${where}.secretEnv`, ENV_NAME, 'an environment variable name'),
      timeoutMs: timeoutMs(r.timeoutMs),
    }
  }
  if (type === 'lambda') {
    const r = record(raw, where, LAMBDA_KEYS)
    return {
      type: 'lambda',
      functionArn: match(
        r.functionArn,
        `${where}.functionArn`,
        LAMBDA_ARN,
        'a Lambda function ARN',
      ),
      timeoutMs: timeoutMs(r.timeoutMs),
    }
  }
  throw invalid(`${where}.type must be "http" or "lambda"`)
}

function parseStage(raw: unknown, where: string): AwsStage {
  const r = raw === undefined ? {} : record(raw, where, STAGE_KEYS)
  const limit = (value: unknown, key: string, fallback: number, max: number): number => {
    if (value === undefined) return fallback
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
      throw invalid(`${where}.${key} must be an integer from 1 to ${max}`)
    }
    return value
  }
  let accessLog: AwsStage['accessLog']
  if (r.accessLog !== undefined) {
    const a = record(r.accessLog, `${where}.accessLog`, ACCESS_LOG_KEYS)
    accessLog = {
      destinationArn: match(
        a.destinationArn,
        `${where}.accessLog.destinationArn`,
        LOG_ARN,
        'a CloudWatch Logs or Firehose ARN',
      ),
      format:
        a.format === undefined
          ? DEFAULT_ACCESS_LOG_FORMAT
          : text(a.format, `${where}.accessLog.format`, 10_000),
    }
  }
  return {
    name:
      r.name === undefined
        ? DEFAULTS.stage
        : match(r.name, `${where}.name`, STAGE, 'a stage name ([A-Za-z0-9_-])'),
    throttlingRateLimitPerSecond: limit(
      r.throttlingRateLimitPerSecond,
      'throttlingRateLimitPerSecond',
      DEFAULTS.awsThrottlingRateLimitPerSecond,
      1_000_000,
    ),
    throttlingBurstLimit: limit(
      r.throttlingBurstLimit,
      'throttlingBurstLimit',
      DEFAULTS.awsThrottlingBurstLimit,
      1_000_000,
    ),
    detailedMetrics: bool(r.detailedMetrics, `${where}.detailedMetrics`, false),
    ...(accessLog ? { accessLog } : {}),
  }
}

function parseDomain(raw: unknown, where: string): AwsDomain {
  const r = record(raw, where, DOMAIN_KEYS)
  const basePath = r.basePath === undefined ? '' : r.basePath
  return {
    name: match(r.name, `${where}.name`, DOMAIN, 'a lower-case DNS name such as ws.example.com'),
    certificateArn: match(
      r.certificateArn,
      `${where}.certificateArn`,
      ACM_ARN,
      'an ACM certificate ARN',
    ),
    basePath: match(basePath, `${where}.basePath`, BASE_PATH, 'a path such as "chat" or ""'),
  }
}

function baseUrl(value: unknown, where: string): string {
  if (typeof value !== 'string') throw invalid(`${where} must be a URL string`)
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw invalid(
      `${where} must be an absolute https URL, got ${JSON.stringify(value.slice(0, 80))}`,
    )
  }
  // API Gateway calls it over the internet: plain http would carry the secret header in clear.
  if (url.protocol !== 'https:') throw invalid(`${where} must be an https URL`)
  if (url.username !== '' || url.password !== '')
    throw invalid(`${where} must not carry credentials`)
  if (url.search !== '' || url.hash !== '')
    throw invalid(`${where} must not carry a query or fragment`)
  if (!url.pathname.endsWith('/')) throw invalid(`${where} must end with "/" (routes are appended)`)
  return url.href
}

/**
 * The static secret header value for an HTTP integration, read from the environment.
 *
 * @throws GatehouseError `ERR_INVALID_OPTION` when the variable is unset, short, or holds a
 *   character a request-parameter literal cannot carry (`'`).
 * @example
 * ```ts
 * const secret = readIntegrationSecret(config.integration, process.env)
 * ```
 */
export function readIntegrationSecret(
  integration: AwsHttpIntegration,
  env: Readonly<Record<string, string | undefined>>,
): string {
  const value = env[integration.secretEnv]
  if (value === undefined || value === '') {
    throw invalid(
      `${integration.secretEnv} is not set: the HTTP integration sends it as the app's gatewaySecret`,
    )
  }
  if (value.length < MIN_SECRET_LENGTH || !/^[\x21-\x26\x28-\x7e]+$/.test(value)) {
    throw invalid(
      `${integration.secretEnv} must be at least ${MIN_SECRET_LENGTH} printable characters without quotes or spaces`,
    )
  }
  return value
}

function record<K extends string>(
  value: unknown,
  where: string,
  keys: readonly K[] | undefined,
): Partial<Record<K, unknown>> & Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${where} must be an object`)
  }
  if (keys) {
    for (const key of Object.keys(value)) {
      if (!(keys as readonly string[]).includes(key)) {
        throw invalid(`${where}: unknown key \`${key.slice(0, 60)}\``)
      }
    }
  }
  return value as Partial<Record<K, unknown>> & Record<string, unknown>
}

function match(value: unknown, where: string, pattern: RegExp, what: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw invalid(`${where} must be ${what}`)
  }
  return value
}

function optionalMatch(
  value: unknown,
  where: string,
  pattern: RegExp,
  what: string,
): string | undefined {
  return value === undefined ? undefined : match(value, where, pattern, what)
}

function text(value: unknown, where: string, max: number): string {
  if (typeof value !== 'string' || value.length > max) {
    throw invalid(`${where} must be a string of at most ${max} characters`)
  }
  return value
}

function bool(value: unknown, where: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalid(`${where} must be true or false`)
  return value
}

function invalid(message: string): GatehouseError {
  return new GatehouseError('ERR_INVALID_OPTION', message)
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
