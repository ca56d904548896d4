/**
 * @module push/aws
 * A {@link Connections} port over the AWS SDK's API Gateway Management API client
 * (`@aws-sdk/client-apigatewaymanagementapi`, an optional peer dependency loaded on first
 * use). AWS has no fan-out call, so `postMany` sends one `PostToConnection` per recipient
 * with bounded concurrency; `GoneException` (410) means the connection is gone.
 *
 * A push is never retried: the client is built with `maxAttempts: 1`, because a 5xx or a
 * timeout after AWS accepted the message would deliver it twice (the SDK's default retries
 * three times). Failures are reported to the caller; a throttle (429) also pauses later
 * pushes for a growing back-off instead of hammering the limit.
 */
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import { positiveInt } from '../util/options.ts'
import { postEachBounded } from './bounded.ts'
import type { ConnectionInfo, Connections, PostManyResult } from './connections.ts'

/** The client surface this port uses (an `ApiGatewayManagementApiClient` satisfies it). */
export interface ManagementApiClientLike {
  send(command: unknown): Promise<unknown>
}

/** Static AWS credentials; when absent the SDK's default chain (env, profile, role) is used. */
export interface AwsCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
}

/** Options of {@link createAwsConnections}. */
export interface AwsConnectionsOptions {
  /**
   * `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`. When absent, the port
   * learns it from the first Lambda event it sees through `toLambdaHandler(app, {
   * connections })` ({@link awsEndpointFromEvent}); a push before that event fails.
   */
  readonly endpoint?: string
  readonly region: string
  /**
   * Credentials for the built client, copied and checked at construction (later changes to
   * the object have no effect); default: the SDK's default chain.
   */
  readonly credentials?: AwsCredentials
  /**
   * A ready client (a test double, a custom HTTP handler). Build it with `maxAttempts: 1`:
   * a retried `PostToConnection` can deliver a message twice. Built from endpoint, region and
   * credentials when absent.
   */
  readonly client?: ManagementApiClientLike
  /** `PostToConnection` calls in flight at once. Default `DEFAULTS.pushConcurrency`. */
  readonly concurrency?: number
  /** First pause after a throttled push. Default `DEFAULTS.pushThrottleBackoffMs`. */
  readonly throttleBackoffMs?: number
  /** Longest pause after repeated throttles. Default `DEFAULTS.pushThrottleBackoffMaxMs`. */
  readonly throttleBackoffMaxMs?: number
}

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'endpoint',
  'region',
  'credentials',
  'client',
  'concurrency',
  'throttleBackoffMs',
  'throttleBackoffMaxMs',
])

interface SdkModule {
  ApiGatewayManagementApiClient: new (config: {
    endpoint: string
    region: string
    maxAttempts: number
    credentials?: AwsCredentials
  }) => ManagementApiClientLike
  PostToConnectionCommand: new (input: { ConnectionId: string; Data: Uint8Array }) => unknown
  GetConnectionCommand: new (input: { ConnectionId: string }) => unknown
  DeleteConnectionCommand: new (input: { ConnectionId: string }) => unknown
}

interface GetConnectionOutput {
  ConnectedAt?: Date
  LastActiveAt?: Date
  Identity?: { SourceIp?: string; UserAgent?: string }
}

const encoder = new TextEncoder()
const SDK = '@aws-sdk/client-apigatewaymanagementapi'

function statusOf(err: unknown): unknown {
  return (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode
}

function nameOf(err: unknown): unknown {
  return (err as { name?: unknown } | null)?.name
}

function isGone(err: unknown): boolean {
  return nameOf(err) === 'GoneException' || statusOf(err) === 410
}

function isThrottled(err: unknown): boolean {
  const name = nameOf(err)
  return (
    name === 'LimitExceededException' || name === 'ThrottlingException' || statusOf(err) === 429
  )
}

function wrap(op: string, err: unknown): GatehouseError {
  const name = nameOf(err)
  if (name === 'PayloadTooLargeException' || statusOf(err) === 413) {
    return new GatehouseError('ERR_MESSAGE_TOO_LARGE', `${op}: payload too large`, { cause: err })
  }
  const status = statusOf(err)
  const what = `${String(name ?? err)}${typeof status === 'number' ? ` (${status})` : ''}`
  return new GatehouseError('ERR_INTEGRATION_FAILED', `${op} failed: ${what}; not retried`, {
    cause: err,
  })
}

/** The part of a Lambda event {@link awsEndpointFromEvent} reads. */
export interface AwsEventContext {
  readonly requestContext: {
    readonly domainName: string
    readonly stage: string
    readonly apiId?: string
  }
}

const EXECUTE_API_HOST = /^[a-z0-9]{1,32}\.execute-api\.[a-z0-9-]{1,32}\.amazonaws\.com(\.cn)?$/

/**
 * The Management API endpoint of the API a Lambda event came from:
 * `https://{domainName}/{stage}` when the event arrived on the API's own execute-api host.
 * Through a custom domain (whose base path need not be the stage) the API's own host is used
 * instead, built from the event's `apiId` and `region`.
 *
 * @throws GatehouseError `ERR_INVALID_EVENT` when the domain, stage or API id is malformed.
 * @example
 * ```ts
 * awsEndpointFromEvent(event) // 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod'
 * ```
 */
export function awsEndpointFromEvent(event: AwsEventContext, region?: string): string {
  const { domainName, stage, apiId } =
    (event as Partial<AwsEventContext> | null)?.requestContext ?? {}
  if (
    typeof domainName !== 'string' ||
    typeof stage !== 'string' ||
    !/^[A-Za-z0-9.-]{1,253}$/.test(domainName) ||
    !/^[A-Za-z0-9_-]{1,128}$/.test(stage)
  ) {
    throw new GatehouseError(
      'ERR_INVALID_EVENT',
      'The event has no valid requestContext.domainName and stage',
    )
  }
  if (EXECUTE_API_HOST.test(domainName) || region === undefined || apiId === undefined) {
    return `https://${domainName}/${stage}`
  }
  if (typeof apiId !== 'string' || !/^[a-z0-9]{1,32}$/.test(apiId)) {
    throw new GatehouseError('ERR_INVALID_EVENT', 'The event has a malformed requestContext.apiId')
  }
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'
  return `https://${apiId}.execute-api.${region}.${suffix}/${stage}`
}

/** Ports created without an endpoint, and how each learns it from an event. */
const learners = new WeakMap<Connections, (event: AwsEventContext) => void>()

/**
 * Let a port created without `endpoint` learn it from a Lambda event (the first one wins).
 * A no-op for any other port. `toLambdaHandler(app, { connections })` calls it per event.
 *
 * @example
 * ```ts
 * learnAwsEndpoint(connections, event)
 * ```
 */
export function learnAwsEndpoint(connections: Connections, event: AwsEventContext): void {
  learners.get(connections)?.(event)
}

/** A frozen copy of static credentials, or undefined for the SDK's default chain. */
function credentialsOption(value: unknown): AwsCredentials | undefined {
  if (value === undefined) return undefined
  const bad = (why: string): never => {
    throw new GatehouseError('ERR_INVALID_OPTION', `\`credentials\` ${why}.`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return bad('must be an object with accessKeyId and secretAccessKey')
  }
  // Only the three fields are copied. Other keys are left behind rather than refused: AWS
  // credential objects carry more (`expiration`, `accountId`, and the SDK's own `$source`,
  // which it writes into the object it is given).
  const v = value as Record<string, unknown>
  const nonEmpty = (x: unknown): x is string => typeof x === 'string' && x !== ''
  if (!nonEmpty(v.accessKeyId)) bad('needs a non-empty string accessKeyId')
  if (!nonEmpty(v.secretAccessKey)) bad('needs a non-empty string secretAccessKey')
  if (v.sessionToken !== undefined && !nonEmpty(v.sessionToken)) {
    bad('sessionToken must be a non-empty string when given')
  }
  return Object.freeze({
    accessKeyId: v.accessKeyId as string,
    secretAccessKey: v.secretAccessKey as string,
    ...(v.sessionToken === undefined ? {} : { sessionToken: v.sessionToken as string }),
  })
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Push through AWS API Gateway's Management API.
 *
 * @example
 * ```ts
 * const connections = createAwsConnections({
 *   endpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com/production',
 *   region: 'eu-west-1',
 * })
 * const app = createApp({ store, connections })
 * ```
 */
export function createAwsConnections(options: AwsConnectionsOptions): Connections {
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        `Unknown createAwsConnections option \`${key}\`.`,
      )
    }
  }
  const { region, client: given } = options
  // Copied and checked now: the SDK client is built at the first push, and reading the
  // caller's object then would use whatever it holds by that time (or fail far from here).
  const credentials = credentialsOption(options.credentials)
  let endpoint = options.endpoint
  if (
    endpoint !== undefined &&
    (typeof endpoint !== 'string' || !/^https?:\/\/[^/?#]+/.test(endpoint))
  ) {
    throw new GatehouseError('ERR_INVALID_OPTION', '`endpoint` must be an http(s) URL.')
  }
  if (typeof region !== 'string' || !/^[a-z0-9-]{1,32}$/.test(region)) {
    throw new GatehouseError('ERR_INVALID_OPTION', '`region` must be an AWS region name.')
  }
  const concurrency = positiveInt('concurrency', options.concurrency ?? DEFAULTS.pushConcurrency)
  const backoffMin = positiveInt(
    'throttleBackoffMs',
    options.throttleBackoffMs ?? DEFAULTS.pushThrottleBackoffMs,
  )
  const backoffMax = positiveInt(
    'throttleBackoffMaxMs',
    options.throttleBackoffMaxMs ?? DEFAULTS.pushThrottleBackoffMaxMs,
    backoffMin,
  )
  let loaded: Promise<{ sdk: SdkModule; client: ManagementApiClientLike }> | undefined
  // Throttle state shared by every push of this port: one 429 slows the whole fan-out.
  let backoffMs = 0
  let resumeAt = 0

  function load(): Promise<{ sdk: SdkModule; client: ManagementApiClientLike }> {
    const at = endpoint
    if (at === undefined && given === undefined) {
      return Promise.reject(
        new GatehouseError(
          'ERR_INVALID_OPTION',
          'createAwsConnections has no endpoint yet: pass `endpoint`, or wrap the handler with toLambdaHandler(app, { connections }) so the first event sets it.',
        ),
      )
    }
    loaded ??= import(SDK).then(
      (m) => {
        const sdk = m as SdkModule
        const client =
          given ??
          new sdk.ApiGatewayManagementApiClient({
            endpoint: at as string,
            region,
            // Never retry: a retried PostToConnection after a 5xx can deliver twice.
            maxAttempts: 1,
            ...(credentials ? { credentials: { ...credentials } } : {}),
          })
        return { sdk, client }
      },
      (err: unknown) => {
        loaded = undefined
        throw new GatehouseError(
          'ERR_INVALID_OPTION',
          `createAwsConnections needs the package \`${SDK}\`; install it.`,
          { cause: err },
        )
      },
    )
    return loaded
  }

  async function post(connectionId: string, data: string | Uint8Array): Promise<boolean> {
    const { sdk, client } = await load()
    const bytes = typeof data === 'string' ? encoder.encode(data) : data
    // Only a throttled port waits; the usual path has no timer.
    const wait = resumeAt - Date.now()
    if (wait > 0) await sleep(wait)
    try {
      await client.send(
        new sdk.PostToConnectionCommand({ ConnectionId: connectionId, Data: bytes }),
      )
      backoffMs = 0
      return true
    } catch (err) {
      if (isGone(err)) return false
      if (isThrottled(err)) {
        backoffMs = Math.min(backoffMax, backoffMs === 0 ? backoffMin : backoffMs * 2)
        resumeAt = Math.max(resumeAt, Date.now() + backoffMs)
        throw new GatehouseError(
          'ERR_INTEGRATION_FAILED',
          `PostToConnection throttled (${String(nameOf(err) ?? 429)}); not retried, later pushes wait ${backoffMs} ms`,
          { cause: err },
        )
      }
      throw wrap('PostToConnection', err)
    }
  }

  const port: Connections = {
    post,
    async postMany(ids, data): Promise<PostManyResult> {
      if (ids.length === 0) return { sent: 0, gone: [] }
      // Encode once: every recipient gets the same bytes.
      const bytes = typeof data === 'string' ? encoder.encode(data) : data
      return postEachBounded(ids, concurrency, (id) => post(id, bytes))
    },
    async delete(connectionId) {
      const { sdk, client } = await load()
      try {
        await client.send(new sdk.DeleteConnectionCommand({ ConnectionId: connectionId }))
        return true
      } catch (err) {
        if (isGone(err)) return false
        throw wrap('DeleteConnection', err)
      }
    },
    async get(connectionId): Promise<ConnectionInfo | null> {
      const { sdk, client } = await load()
      let out: GetConnectionOutput
      try {
        out = (await client.send(
          new sdk.GetConnectionCommand({ ConnectionId: connectionId }),
        )) as GetConnectionOutput
      } catch (err) {
        if (isGone(err)) return null
        throw wrap('GetConnection', err)
      }
      const connectedAt = out.ConnectedAt?.getTime() ?? 0
      return {
        connectedAt,
        lastActiveAt: out.LastActiveAt?.getTime() ?? connectedAt,
        sourceIp: out.Identity?.SourceIp ?? '',
        userAgent: out.Identity?.UserAgent ?? '',
      }
    },
  }
  if (endpoint === undefined) {
    learners.set(port, (event) => {
      endpoint ??= awsEndpointFromEvent(event, region)
    })
  }
  return port
}
