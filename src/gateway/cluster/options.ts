/**
 * @module gateway/cluster/options
 * The `cluster` option of `createGateway`: where the cluster's Redis is, who this node is,
 * the secret that signs what nodes send each other, and the timers. Checked like every
 * gateway option (unknown keys refused, copied and frozen); without a secret the option is
 * refused, never run unsigned.
 */
import { DEFAULTS } from '../../defaults.ts'
import { GatehouseError } from '../../errors.ts'
import { describe, isRecord, positiveInt } from '../../util/options.ts'

/**
 * The `cluster` option of `createGateway`: run this gateway as one node of several sharing a
 * Redis, behaving to the app and its clients as one gateway.
 *
 * @example
 * ```ts
 * const gateway = createGateway({
 *   routes,
 *   cluster: { url: 'redis://127.0.0.1:6379', nodeId: 'a', secret: process.env.CLUSTER_SECRET! },
 * })
 * ```
 */
export interface ClusterOptions {
  /** The Redis of the cluster, `redis://host:port` (or `rediss://`). */
  readonly url: string
  /** This node's name, unique in the cluster: 1–64 of `[A-Za-z0-9_.-]`. */
  readonly nodeId: string
  /**
   * Signs every envelope between nodes (HMAC-SHA256): at least 16 characters, the same on
   * every node. Anything on the Redis without it cannot push, read or close connections.
   */
  readonly secret: string
  /** Prefix of every key and channel. Default `DEFAULTS.clusterKeyPrefix`. */
  readonly keyPrefix?: string
  /** Slot renewal and dead-node scan period. Default `DEFAULTS.clusterHeartbeatIntervalMs`. */
  readonly heartbeatIntervalMs?: number
  /** A node silent this long is dead. Default `DEFAULTS.clusterDeadAfterMs`. */
  readonly deadAfterMs?: number
  /** How long a routed call waits for the owner. Default `DEFAULTS.clusterRouteTimeoutMs`. */
  readonly routeTimeoutMs?: number
}

/**
 * The cluster option after checks and defaults.
 *
 * @example
 * ```ts
 * const { nodeId, deadAfterMs } = resolveClusterOptions({ url, nodeId: 'a', secret })
 * ```
 */
export interface ResolvedClusterOptions {
  readonly url: string
  readonly nodeId: string
  readonly secret: string
  readonly keyPrefix: string
  readonly heartbeatIntervalMs: number
  readonly deadAfterMs: number
  readonly routeTimeoutMs: number
}

const KEYS: ReadonlySet<string> = new Set([
  'url',
  'nodeId',
  'secret',
  'keyPrefix',
  'heartbeatIntervalMs',
  'deadAfterMs',
  'routeTimeoutMs',
])

/** Node ids: readable in logs and keys, no separator the registry uses (space). */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/

/** Above this a dead node's sessions would linger for minutes; the default is 5 s. */
const MAX_DEAD_AFTER_MS = 60_000

function invalid(message: string): never {
  throw new GatehouseError('ERR_INVALID_OPTION', message)
}

/**
 * Check and complete the `cluster` option.
 *
 * @throws GatehouseError `ERR_INVALID_OPTION` for a missing secret, a bad URL or node id, an
 * unknown key; `ERR_OPTION_CONFLICT` when the heartbeat is not well under `deadAfterMs`.
 * @example
 * ```ts
 * resolveClusterOptions({ url: 'redis://127.0.0.1:6379', nodeId: 'a', secret: 's'.repeat(32) }).deadAfterMs // 5000
 * resolveClusterOptions({ url: 'redis://127.0.0.1:6379', nodeId: 'a' }) // throws ERR_INVALID_OPTION
 * ```
 */
export function resolveClusterOptions(value: unknown): ResolvedClusterOptions {
  if (!isRecord(value)) invalid(`\`cluster\` must be an object; got ${describe(value)}.`)
  for (const key of Object.keys(value)) {
    if (!KEYS.has(key)) invalid(`Unknown cluster option \`cluster.${key}\`.`)
  }
  const { url, nodeId, secret } = value
  if (typeof url !== 'string') invalid('`cluster.url` must be a redis:// URL.')
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    invalid('`cluster.url` must be a redis:// URL.')
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    invalid('`cluster.url` must be a redis:// or rediss:// URL.')
  }
  if (typeof nodeId !== 'string' || !NODE_ID_PATTERN.test(nodeId)) {
    invalid('`cluster.nodeId` must match ^[A-Za-z0-9_.-]{1,64}$.')
  }
  // Fail closed: unsigned envelopes would let anything on the Redis push to every socket.
  if (typeof secret !== 'string' || secret.length < 16) {
    invalid('`cluster.secret` must be a string of at least 16 characters (the same on every node).')
  }
  const keyPrefix = value.keyPrefix ?? DEFAULTS.clusterKeyPrefix
  if (typeof keyPrefix !== 'string' || keyPrefix.length === 0 || keyPrefix.length > 128) {
    invalid('`cluster.keyPrefix` must be a string of 1 to 128 characters.')
  }
  const heartbeatIntervalMs = positiveInt(
    'cluster.heartbeatIntervalMs',
    value.heartbeatIntervalMs ?? DEFAULTS.clusterHeartbeatIntervalMs,
    10,
  )
  const deadAfterMs = positiveInt(
    'cluster.deadAfterMs',
    value.deadAfterMs ?? DEFAULTS.clusterDeadAfterMs,
    50,
  )
  if (deadAfterMs > MAX_DEAD_AFTER_MS) {
    invalid(`\`cluster.deadAfterMs\` must be at most ${MAX_DEAD_AFTER_MS} ms.`)
  }
  const routeTimeoutMs = positiveInt(
    'cluster.routeTimeoutMs',
    value.routeTimeoutMs ?? DEFAULTS.clusterRouteTimeoutMs,
    10,
  )
  // Two missed renewals must not yet mean death: a GC pause or one slow reply is not a crash.
  if (heartbeatIntervalMs * 2 > deadAfterMs) {
    throw new GatehouseError(
      'ERR_OPTION_CONFLICT',
      '`cluster.heartbeatIntervalMs` must be at most half of `cluster.deadAfterMs`.',
    )
  }
  return Object.freeze({
    url,
    nodeId,
    secret,
    keyPrefix,
    heartbeatIntervalMs,
    deadAfterMs,
    routeTimeoutMs,
  })
}
