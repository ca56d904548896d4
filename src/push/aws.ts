/**
 * @module push/aws
 * A {@link Connections} port over the AWS SDK's API Gateway Management API client
 * (`@aws-sdk/client-apigatewaymanagementapi`, an optional peer dependency loaded on first
 * use). AWS has no fan-out call, so `postMany` sends one `PostToConnection` per recipient
 * with bounded concurrency; `GoneException` (410) means the connection is gone.
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

/** Options of {@link createAwsConnections}. */
export interface AwsConnectionsOptions {
  /** `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}` or a custom domain + base path. */
  readonly endpoint: string
  readonly region: string
  /** A ready client (custom credentials, retries, a test double). Built from endpoint and region when absent. */
  readonly client?: ManagementApiClientLike
  /** `PostToConnection` calls in flight at once. Default `DEFAULTS.pushConcurrency`. */
  readonly concurrency?: number
}

interface SdkModule {
  ApiGatewayManagementApiClient: new (config: {
    endpoint: string
    region: string
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

function isGone(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown } }
  return e.name === 'GoneException' || e.$metadata?.httpStatusCode === 410
}

function wrap(op: string, err: unknown): GatehouseError {
  const name = (err as { name?: unknown })?.name
  if (name === 'PayloadTooLargeException') {
    return new GatehouseError('ERR_MESSAGE_TOO_LARGE', `${op}: payload too large`, { cause: err })
  }
  return new GatehouseError('ERR_INTEGRATION_FAILED', `${op} failed: ${String(name ?? err)}`, {
    cause: err,
  })
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
  const concurrency = positiveInt('concurrency', options.concurrency ?? DEFAULTS.pushConcurrency)
  let loaded: Promise<{ sdk: SdkModule; client: ManagementApiClientLike }> | undefined

  function load(): Promise<{ sdk: SdkModule; client: ManagementApiClientLike }> {
    loaded ??= import(SDK).then(
      (m) => {
        const sdk = m as SdkModule
        const client =
          options.client ??
          new sdk.ApiGatewayManagementApiClient({
            endpoint: options.endpoint,
            region: options.region,
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
    try {
      await client.send(
        new sdk.PostToConnectionCommand({ ConnectionId: connectionId, Data: bytes }),
      )
      return true
    } catch (err) {
      if (isGone(err)) return false
      throw wrap('PostToConnection', err)
    }
  }

  return {
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
}
