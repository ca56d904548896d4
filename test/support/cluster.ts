/**
 * What the cluster scenarios share: gateway nodes as child processes (`gatehouse gateway
 * --cluster …`, the real command) on one Redis under a key prefix of the test's own, apps on one PostgreSQL schema of the
 * test's own, served over HTTP behind the nodes (the fault suite's app: cookie session,
 * single-use token, Origin, one permission), browser-like clients that record everything
 * they receive, and the `@connections` API called by hand. Everything started is tracked and
 * removed by {@link ClusterWorld.close}: processes by pid, keys by prefix, the schema.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import type { Pool } from 'pg'
import type WebSocket from 'ws'
import type { App } from '../../src/app/create-app.ts'
import type { AppOptions } from '../../src/app/types.ts'
import { createManagementApiConnections } from '../../src/push/management-api.ts'
import { createPostgresStore } from '../../src/store/postgres.ts'
import type { Store } from '../../src/store/store.ts'
import { connectPostgres, connectRedis, REDIS_URL } from './backends.ts'
import {
  type AppCounts,
  attempt,
  FAULT_SECRET,
  type FaultApp,
  faultApp,
  serveApp,
} from './fault-app.ts'
import { killChild, startChild, until } from './processes.ts'

export const CLUSTER_SECRET = 'cluster-suite-envelope-secret-0123456789'
const BIN = new URL('../../bin/gatehouse.ts', import.meta.url).pathname

/** How a node is started. */
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
  /** A gateway without a cluster (the control of the regression test): no Redis at all. */
  readonly standalone?: boolean
}

/** The command line of a node: ports 0, two-way messages (for `whoami`), secrets in env. */
function nodeArgs(config: ClusterNodeConfig): string[] {
  const args = [
    BIN,
    'gateway',
    '--integration',
    `${config.appUrl}/ws/`,
    '--port',
    '0',
    '--management-port',
    '0',
    '--two-way',
  ]
  if (config.standalone) return args
  args.push(
    '--cluster',
    config.redisUrl,
    '--node-id',
    config.nodeId,
    '--cluster-key-prefix',
    config.keyPrefix,
  )
  if (config.heartbeatIntervalMs !== undefined) {
    args.push('--cluster-heartbeat-ms', String(config.heartbeatIntervalMs))
  }
  if (config.deadAfterMs !== undefined) {
    args.push('--cluster-dead-after-ms', String(config.deadAfterMs))
  }
  return args
}

/** Short timers, so a death is seen in about a second and a half. */
export const FAST = Object.freeze({ heartbeatIntervalMs: 200, deadAfterMs: 1_000 })

/** A running gateway node. */
export interface ClusterNode {
  readonly id: string
  readonly ws: string
  /** `http://127.0.0.1:<port>/production`, the `@connections` API base. */
  readonly management: string
  readonly slot: number
  readonly child: ChildProcess
  /** The last 8 KB of its stderr (its warn and error logs). */
  stderr(): string
  alive(): boolean
}

/** One app behind the nodes, with what it saw. */
export interface ClusterApp {
  readonly app: App
  readonly counts: AppCounts
  readonly url: string
  issue(user: string): Promise<string>
  /** Point its `Connections` port at a node's `@connections` API (AWS: the API's endpoint). */
  pushVia(node: ClusterNode): void
}

/** A client socket and everything it received, in order. */
export interface Client {
  readonly user: string
  readonly ws: WebSocket
  readonly id: string
  readonly node: ClusterNode
  /** Parsed text frames (non-JSON frames as `{ raw }`). */
  readonly messages: Record<string, unknown>[]
  /** The close code, once closed. */
  closed: number | null
  errors: number
}

/** The scenario's world. */
export interface ClusterWorld {
  readonly redisUrl: string
  readonly keyPrefix: string
  readonly store: Store
  readonly pool: Pool
  readonly nodes: ClusterNode[]
  readonly apps: ClusterApp[]
  /** A new app on the shared store, served over HTTP (not yet pushing anywhere). */
  addApp(overrides?: Partial<AppOptions>): Promise<ClusterApp>
  /** Start a node whose integration is `app`. */
  addNode(nodeId: string, app: ClusterApp, extra?: Partial<ClusterNodeConfig>): Promise<ClusterNode>
  /** Open a socket as `user` on `node`, through `app`'s token; asks the app for its id. */
  join(node: ClusterNode, user: string, app?: ClusterApp): Promise<Client>
  close(): Promise<void>
}

/** Skip (or, in CI, fail) when a real service is missing. */
export function missing(t: TestContext, what: string): void {
  if (process.env.CI === 'true') assert.fail(`${what} not reachable`)
  t.skip(`${what} not reachable: cluster scenario SKIPPED`)
}

/** Delete every key under `prefix` on the Redis at `url` (SCAN, never FLUSH). */
export async function dropKeys(url: string, prefix: string): Promise<number> {
  const { Redis } = await import('ioredis')
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  let dropped = 0
  try {
    await client.connect()
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
      cursor = next
      if (keys.length > 0) dropped += await client.del(...keys)
    } while (cursor !== '0')
  } finally {
    client.disconnect()
  }
  return dropped
}

/** Keys under `prefix` right now. */
export async function countKeys(url: string, prefix: string): Promise<number> {
  const { Redis } = await import('ioredis')
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  try {
    await client.connect()
    let n = 0
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
      cursor = next
      n += keys.length
    } while (cursor !== '0')
    return n
  } finally {
    client.disconnect()
  }
}

/**
 * The world of one scenario, or `null` (after a loud skip) when PostgreSQL or Redis is
 * missing. `redisUrl` defaults to the shared Redis.
 *
 * @example
 * ```ts
 * const world = await clusterWorld(t)
 * if (!world) return
 * try { … } finally { await world.close() }
 * ```
 */
export async function clusterWorld(
  t: TestContext,
  options: { redisUrl?: string; timers?: Partial<ClusterNodeConfig> } = {},
): Promise<ClusterWorld | null> {
  const pg = await connectPostgres()
  if (pg === null) {
    missing(t, 'PostgreSQL')
    return null
  }
  const redisUrl = options.redisUrl ?? REDIS_URL
  if (options.redisUrl === undefined && !(await redisAnswers())) {
    await pg.pool.end()
    missing(t, 'Redis')
    return null
  }
  const run = `${process.pid}_${randomBytes(4).toString('hex')}`
  const schema = `gh_cluster_${run}`
  const keyPrefix = `gh-test:cluster:${run}:`
  const { pool } = pg
  const store = await createPostgresStore({ pool, schema })
  const nodes: ClusterNode[] = []
  const apps: ClusterApp[] = []
  const servers: Awaited<ReturnType<typeof serveApp>>[] = []
  const sockets: WebSocket[] = []

  async function addApp(overrides: Partial<AppOptions> = {}): Promise<ClusterApp> {
    // The port is given its target later: the app must listen before the nodes that call it.
    let target: ReturnType<typeof createManagementApiConnections> | undefined
    const late = () => {
      if (!target) throw new Error('app.pushVia(node) first')
      return target
    }
    const fa: FaultApp = faultApp(store, {
      gatewaySecret: FAULT_SECRET,
      // Pushes answered Gone mark sessions at once: the two-pairs bug shows without waiting.
      goneGraceMs: 0,
      // Every message reads its session from the store: a session ended by mistake shows at
      // the next message, not after the cache's 2 s.
      sessionCacheTtlMs: 0,
      connections: {
        post: (id, data) => late().post(id, data),
        postMany: (ids, data) => late().postMany(ids, data),
        delete: (id) => late().delete(id),
        get: (id) => late().get(id),
      },
      handlers: {
        echo: (ctx) => ctx.body,
        whoami: (ctx) => ({ type: 'whoami', connectionId: ctx.event.connectionId }),
        chat: async (ctx) => {
          const { seq, text } = ctx.body as { seq?: unknown; text?: unknown }
          await ctx.send.toChannel('lobby', {
            type: 'chat',
            from: ctx.user?.id,
            seq,
            text,
          })
        },
      },
      onPresence: async (e) => {
        if (e.type === 'leave') {
          await e.send.toChannel(e.channel, { type: 'left', connectionId: e.connectionId })
        }
      },
      ...overrides,
    })
    const served = await serveApp(fa.app)
    servers.push(served)
    const app: ClusterApp = {
      app: fa.app,
      counts: fa.counts,
      url: served.url,
      issue: fa.issue,
      pushVia(node) {
        target = createManagementApiConnections({
          endpoint: node.management,
          useFanout: true,
          requestTimeoutMs: 5_000,
        })
      },
    }
    apps.push(app)
    return app
  }

  async function addNode(
    nodeId: string,
    app: ClusterApp,
    extra: Partial<ClusterNodeConfig> = {},
  ): Promise<ClusterNode> {
    const config: ClusterNodeConfig = {
      nodeId,
      redisUrl,
      keyPrefix,
      clusterSecret: CLUSTER_SECRET,
      gatewaySecret: FAULT_SECRET,
      appUrl: app.url,
      ...options.timers,
      ...extra,
    }
    const [script, ...args] = nodeArgs(config)
    const child = startChild(script!, {
      args,
      env: {
        GATEHOUSE_SECRET: config.gatewaySecret,
        GATEHOUSE_CLUSTER_SECRET: config.clusterSecret,
        GATEHOUSE_LOG_LEVEL: 'warn',
      },
    })
    let err = ''
    child.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-8_192)
    })
    let out = ''
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
    })
    // The command prints its URLs, and its slot once registered.
    await until(
      () => {
        if (child.exitCode !== null) throw new Error(`node ${nodeId} exited: ${err}`)
        return /^management: /m.test(out) && (config.standalone || /^cluster: /m.test(out))
      },
      20_000,
      10,
      `node ${nodeId} to start`,
    )
    const cluster = /^cluster: node (\S+) slot (\d+)$/m.exec(out)
    if (!config.standalone) assert.equal(cluster?.[1], nodeId, out)
    const node: ClusterNode = {
      id: nodeId,
      ws: /^websocket: (\S+)$/m.exec(out)![1]!,
      management: /^management: (\S+)$/m.exec(out)![1]!,
      slot: cluster ? Number(cluster[2]) : -1,
      child,
      stderr: () => err,
      alive: () => child.exitCode === null && child.signalCode === null,
    }
    nodes.push(node)
    return node
  }

  async function join(node: ClusterNode, user: string, app = apps[0]!): Promise<Client> {
    const a = await attempt(node.ws, user, await app.issue(user), { timeoutMs: 10_000 })
    assert.equal(a.status, 101, `${user} on ${node.id}: ${a.status} ${a.body}`)
    const ws = a.ws!
    sockets.push(ws)
    const client: Client & { id: string } = {
      user,
      ws,
      id: '',
      node,
      messages: [],
      closed: null,
      errors: 0,
    }
    ws.on('message', (data: Buffer) => {
      const text = data.toString()
      try {
        client.messages.push(JSON.parse(text) as Record<string, unknown>)
      } catch {
        client.messages.push({ raw: text })
      }
    })
    ws.on('close', (code) => {
      client.closed = code
    })
    ws.on('error', () => {
      client.errors++
    })
    ws.send('{"action":"whoami"}')
    await until(() => client.messages.some((m) => m.type === 'whoami'), 10_000, 10, 'whoami')
    const at = client.messages.findIndex((m) => m.type === 'whoami')
    client.id = client.messages[at]!.connectionId as string
    client.messages.splice(at, 1)
    return client
  }

  async function close(): Promise<void> {
    for (const ws of sockets) ws.terminate()
    await Promise.allSettled(nodes.map((n) => killChild(n.child, 'SIGKILL')))
    for (const s of servers) {
      s.server.closeAllConnections()
      await new Promise<void>((resolve) => s.server.close(() => resolve()))
    }
    await store.close()
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await pool.end()
    await dropKeys(redisUrl, keyPrefix).catch(() => 0)
  }

  return {
    redisUrl,
    keyPrefix,
    store,
    pool,
    nodes,
    apps,
    addApp,
    addNode,
    join,
    close,
  }
}

async function redisAnswers(): Promise<boolean> {
  const client = await connectRedis()
  client?.disconnect()
  return client !== null
}

/** What a hand-made `@connections` call answered. */
export interface Reply {
  readonly status: number
  readonly text: string
}

/**
 * Call a node's `@connections` API for one id, unsigned, as a loopback caller.
 *
 * @example
 * ```ts
 * const { status } = await management(node, 'GET', id) // 200 with the info, or 410
 * ```
 */
export async function management(
  node: ClusterNode,
  method: 'GET' | 'POST' | 'DELETE',
  connectionId: string,
  body?: string,
): Promise<Reply> {
  const res = await fetch(`${node.management}/@connections/${encodeURIComponent(connectionId)}`, {
    method,
    ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}),
    signal: AbortSignal.timeout(10_000),
  })
  return { status: res.status, text: await res.text() }
}

/** The messages of `type` a client received. */
export const ofType = (c: Client, type: string): Record<string, unknown>[] =>
  c.messages.filter((m) => m.type === type)
