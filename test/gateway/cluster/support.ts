/**
 * Test support for the cluster: gateway nodes in this process on the shared Redis (a unique
 * key prefix per test, its keys deleted afterwards), each with a recording app, and clients
 * that know their connection id.
 */
import { randomBytes } from 'node:crypto'
import type { GatewayEvent } from '../../../src/events/event.ts'
import type { ClusterOptions } from '../../../src/gateway/cluster/options.ts'
import { createGateway, type Gateway } from '../../../src/gateway/gateway.ts'
import type { GatewayOptions } from '../../../src/gateway/options.ts'
import {
  connectClient,
  type RecordingHandler,
  recorder,
  type TestClient,
} from '../../conformance/gateway/support/harness.ts'
import { connectRedis, REDIS_URL } from '../../support/backends.ts'

export const SECRET = 'cluster-test-secret-0123456789'

/** Short timers: death within 500 ms + 100 ms. */
export const FAST = { heartbeatIntervalMs: 100, deadAfterMs: 500, routeTimeoutMs: 1_000 } as const

export interface TestNode {
  readonly gateway: Gateway
  readonly app: RecordingHandler
  readonly url: string
  close(): Promise<void>
}

export function uniquePrefix(): string {
  return `gatehouse:test:cluster:${randomBytes(6).toString('hex')}:`
}

/** Start a node with an in-process recording app on every route. */
export async function startNode(
  prefix: string,
  nodeId: string,
  cluster: Partial<ClusterOptions> = {},
  options: GatewayOptions = {},
): Promise<TestNode> {
  const app = recorder()
  const gateway = createGateway({
    port: 0,
    routes: {
      $connect: { type: 'in-process', handler: app },
      $disconnect: { type: 'in-process', handler: app },
      $default: { type: 'in-process', handler: app },
    },
    ...options,
    cluster: { url: REDIS_URL, nodeId, secret: SECRET, keyPrefix: prefix, ...FAST, ...cluster },
  })
  const { url } = await gateway.listen()
  return { gateway, app, url, close: () => gateway.close({ drainMs: 500 }) }
}

/** Connect to a node; resolves with the client and its connection id (from `$connect`). */
export async function connect(node: TestNode): Promise<{ client: TestClient; id: string }> {
  const before = new Set(connectIds(node.app.events))
  const client = await connectClient(node.url)
  const event = await node.app.waitFor(
    (e) => e.eventType === 'CONNECT' && !before.has(e.connectionId),
  )
  return { client, id: event.connectionId }
}

function connectIds(events: readonly GatewayEvent[]): string[] {
  return events.filter((e) => e.eventType === 'CONNECT').map((e) => e.connectionId)
}

/**
 * A fresh registry answers "unavailable" rather than Gone for free slots until every node
 * could have re-registered (`deadAfterMs` + 2 heartbeats): wait that out.
 */
export function settled(): Promise<void> {
  return new Promise((r) => setTimeout(r, FAST.deadAfterMs + 2 * FAST.heartbeatIntervalMs + 50))
}

/** Delete every key under `prefix` on the shared Redis. */
export async function dropPrefix(prefix: string): Promise<void> {
  const redis = await connectRedis()
  if (!redis) return
  try {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
  } finally {
    redis.disconnect()
  }
}

export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
