/**
 * Child process of the cluster suite: one gateway node of a cluster, as `gatehouse gateway
 * --cluster …` runs it (HTTP integrations to one app, signed; the `@connections` API unsigned
 * on loopback), but from the library so that a test can give it a key prefix of its own and
 * short timers.
 * Usage: node cluster-node.ts '{"nodeId":…,"redisUrl":…,"keyPrefix":…,"appUrl":…,…}'
 * Prints `{"ready":true,"ws":…,"management":…,"slot":n}` once it listens and its slot is
 * registered; SIGTERM closes it as the CLI does (1001, drain, exit 0).
 */
import { createGateway } from '../../src/gateway/gateway.ts'
import { createManagementServer } from '../../src/gateway/management/server.ts'
import { createLogger } from '../../src/logger.ts'

/** What the test passes to each node. */
export interface ClusterNodeConfig {
  readonly nodeId: string
  readonly redisUrl: string
  readonly keyPrefix: string
  /** Signs the envelopes between nodes (the same on every node). */
  readonly clusterSecret: string
  /** Signs the integration requests (the app's `gatewaySecret`). */
  readonly gatewaySecret: string
  /** The app's base URL; routes go to `<appUrl>/ws/connect|disconnect|default`. */
  readonly appUrl: string
  readonly heartbeatIntervalMs?: number
  readonly deadAfterMs?: number
  readonly routeTimeoutMs?: number
  /** A gateway without a cluster (the control of the regression test): no Redis at all. */
  readonly standalone?: boolean
}

const config = JSON.parse(process.argv[2] ?? '{}') as ClusterNodeConfig
const logger = createLogger({
  level: process.env.GATEHOUSE_LOG_LEVEL ?? 'warn',
  destination: process.stderr,
})
const route = (name: string, twoWay = false) => ({
  type: 'http' as const,
  url: `${config.appUrl}/ws/${name}`,
  secret: config.gatewaySecret,
  ...(twoWay ? { twoWay } : {}),
})
const gateway = createGateway({
  logger,
  routes: {
    $connect: route('connect'),
    $disconnect: route('disconnect'),
    $default: route('default', true),
  },
  ...(config.standalone ? {} : { cluster: clusterOption() }),
})

function clusterOption() {
  return {
    url: config.redisUrl,
    nodeId: config.nodeId,
    secret: config.clusterSecret,
    keyPrefix: config.keyPrefix,
    ...(config.heartbeatIntervalMs !== undefined
      ? { heartbeatIntervalMs: config.heartbeatIntervalMs }
      : {}),
    ...(config.deadAfterMs !== undefined ? { deadAfterMs: config.deadAfterMs } : {}),
    ...(config.routeTimeoutMs !== undefined ? { routeTimeoutMs: config.routeTimeoutMs } : {}),
  }
}
const management = createManagementServer({
  connections: gateway.connections,
  stage: gateway.stage,
  port: 0,
  allowUnauthenticated: true,
  logger,
})
const ws = (await gateway.listen()).url
const mgmt = (await management.listen()).url
// The CLI prints its `cluster:` line once the node holds a slot; wait for the same.
const cluster = gateway.cluster
if (!config.standalone) {
  if (cluster === undefined) throw new Error('createGateway ignored the cluster option')
  const deadline = Date.now() + 10_000
  while (!cluster.healthy || cluster.slot < 0) {
    if (Date.now() > deadline) throw new Error('the node did not register within 10 s')
    await new Promise((r) => setTimeout(r, 10))
  }
}
const slot = cluster?.slot ?? -1
process.stdout.write(`${JSON.stringify({ ready: true, ws, management: mgmt, slot })}\n`)

process.once('SIGTERM', async () => {
  await gateway.close({ drainMs: 1_000 })
  await management.close()
  process.exit(0)
})
