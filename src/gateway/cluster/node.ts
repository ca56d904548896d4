/**
 * @module gateway/cluster/node
 * One gateway as a node of a cluster: its registration loop, its connection table, its
 * router and its reaper, wired to the gateway's runtime.
 *
 * Every `heartbeatIntervalMs` the node renews its slot (or registers when it has none) and
 * then reaps dead nodes (once it has been registered for `deadAfterMs` itself). Any Redis failure makes it unhealthy at once: new `$connect`s get
 * 503 and remote calls fail with `ERR_CLUSTER_UNAVAILABLE`, while its own sockets and local
 * pushes carry on. When Redis answers again, the next tick registers it again: it keeps its
 * slot and its sockets when nobody can have answered Gone for them (its slot still registered
 * to it, or Redis's data lost and the registry just recreated), and rewrites its whole table.
 * Otherwise it was declared dead — reaped, or its slot lost — and it is fenced: it closes
 * every socket (1012; the `$disconnect`s the reaper sent are not sent twice, the others are
 * sent here) and registers anew under a new incarnation, so the app and the sockets agree.
 */
import { randomBytes } from 'node:crypto'
import { GatehouseError } from '../../errors.ts'
import type { Connections } from '../../push/connections.ts'
import { CLOSE } from '../close-codes.ts'
import type { Connection } from '../connection-table.ts'
import {
  type ClusterHooks,
  closeConnection,
  fireDisconnect,
  isOpen,
  type Runtime,
} from '../runtime.ts'
import { createEnvelopeCodec } from './envelope.ts'
import { clusterConnectionId, slotOf } from './ids.ts'
import type { ResolvedClusterOptions } from './options.ts'
import { reapDead } from './reaper.ts'
import { type ClusterNodeInfo, openRegistry, type Registry } from './registry.ts'
import { createRouter, type Router } from './router.ts'
import { ClusterTable } from './table.ts'

/**
 * What `gateway.cluster` shows of the node (undefined on a gateway without `cluster`).
 *
 * @example
 * ```ts
 * const { nodeId, slot, healthy } = gateway.cluster!
 * for (const node of await gateway.cluster!.nodes()) console.log(node.nodeId, node.slot)
 * ```
 */
export interface ClusterInfo {
  readonly nodeId: string
  /** The slot this node holds (0–63, the first character of its ids); -1 while unregistered. */
  readonly slot: number
  /** Registered and connected to Redis: new connections are accepted. */
  readonly healthy: boolean
  /** The registered nodes, by slot. Rejects with `ERR_CLUSTER_UNAVAILABLE` while Redis is down. */
  nodes(): Promise<Array<{ nodeId: string; slot: number; lastHeartbeatAt: number }>>
}

/**
 * A running cluster node, as the gateway holds it.
 *
 * @example
 * ```ts
 * const node = createClusterNode(rt, localPort, resolved.cluster)
 * rt.cluster = node.hooks
 * await node.ready(10_000)
 * ```
 */
export interface ClusterNode {
  readonly info: ClusterInfo
  readonly hooks: ClusterHooks
  /** The cluster-wide port (`gateway.connections`). */
  readonly connections: Connections
  /** Resolves at the first registration; rejects after `timeoutMs` without one. */
  ready(timeoutMs: number): Promise<void>
  /** Stop the loop, unregister (so nobody reaps this node) and quit Redis. */
  close(): Promise<void>
  /** For tests: run one heartbeat tick now. */
  tick(): Promise<void>
  /** For tests: the router (refused envelope count) and the table. */
  readonly router: Router | undefined
  readonly table: ClusterTable
  /** For tests: the Redis clients (to cut and restore them). */
  readonly registry: Registry | undefined
  /** For tests: stop as a crash would: no unregister, Redis dropped, sockets left alone. */
  halt(): void
}

const NODES = new WeakMap<ClusterInfo, ClusterNode>()

/**
 * The node behind `gateway.cluster`, for tests that cut its Redis or crash it.
 *
 * @example
 * ```ts
 * clusterNodeOf(gateway.cluster!)?.halt()
 * ```
 */
export function clusterNodeOf(info: ClusterInfo): ClusterNode | undefined {
  return NODES.get(info)
}

function unavailable(message: string, cause?: unknown): GatehouseError {
  return new GatehouseError('ERR_CLUSTER_UNAVAILABLE', message, cause ? { cause } : undefined)
}

/**
 * Make this gateway a node of the cluster `options` names. The loop starts at once; ids and
 * admissions follow its registration.
 *
 * @example
 * ```ts
 * const node = createClusterNode(rt, createConnectionsPort(rt), resolveClusterOptions({ url, nodeId: 'a', secret }))
 * ```
 */
export function createClusterNode(
  rt: Runtime,
  local: Connections,
  options: ResolvedClusterOptions,
): ClusterNode {
  const { logger } = rt.options
  const { nodeId } = options
  let incarnation = randomBytes(9).toString('base64url')
  const me = (): string => `${nodeId} ${incarnation}`
  let slot = -1
  let registered = false
  /** When the node last became registered (wall ms): it reaps only after `deadAfterMs` of it. */
  let registeredAt = 0
  let closed = false
  let registry: Registry | undefined
  let router: Router | undefined
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let subscribedSlot = -1
  let replyChannel = ''
  const nodeView = {
    get slot() {
      return slot
    },
    get replyChannel() {
      return replyChannel
    },
  }
  let firstRegistration: { resolve(): void; promise: Promise<void> } | undefined = (() => {
    let resolve = (): void => {}
    const promise = new Promise<void>((r) => {
      resolve = r
    })
    return { resolve, promise }
  })()
  let startError: unknown

  const table = new ClusterTable(
    (reset, sets, dels) => {
      if (!registry || slot < 0) return Promise.resolve(false)
      return registry.writeTable(slot, me(), incarnation, reset, sets, dels)
    },
    (lost, error) => {
      if (!registered) return
      registered = false
      table.pause()
      logger.warn(
        {
          event: 'cluster_unhealthy',
          node: nodeId,
          detail: lost ? 'slot_lost' : 'redis',
          err: error,
        },
        'cluster node lost its registration',
      )
    },
  )

  // Wall time, not the gateway's injectable clock: freshness is judged between processes.
  const codec = createEnvelopeCodec({ secret: options.secret, now: Date.now })

  function healthy(): boolean {
    return registered && !closed && registry?.ready === true
  }

  // At every registration: SUBSCRIBE is idempotent, and after a reconnect or a fence this
  // does not depend on what the client remembered.
  async function resubscribe(): Promise<void> {
    if (!registry || !router) return
    if (subscribedSlot >= 0 && subscribedSlot !== slot) {
      await registry.sub.unsubscribe(router.routeChannel(subscribedSlot))
    }
    await registry.sub.subscribe(router.routeChannel(slot), replyChannel)
    subscribedSlot = slot
  }

  /** Closes every socket after a fence; reaped rows' `$disconnect`s are not sent again. */
  function fence(reaped: boolean): void {
    let closing = 0
    for (const conn of rt.table.values()) {
      conn.skipDisconnect = reaped && table.isRecorded(conn.id)
      if (isOpen(conn)) closeConnection(conn, CLOSE.nodeRejoined.code, CLOSE.nodeRejoined.reason)
      closing += 1
    }
    logger.warn(
      { event: 'cluster_fenced', node: nodeId, slot, reaped, connections: closing },
      'cluster node was declared dead: closing its sockets and rejoining',
    )
    table.clear()
    incarnation = randomBytes(9).toString('base64url')
    slot = -1
  }

  async function register(): Promise<void> {
    if (!registry) return
    let result = await registry.register(me(), incarnation, slot)
    if (result.kind === 'fenced') {
      fence(result.reaped)
      result = await registry.register(me(), incarnation, -1)
    }
    if (result.kind === 'full') {
      logger.error(
        { event: 'cluster_full', node: nodeId },
        'no free cluster slot (64 nodes at most)',
      )
      return
    }
    if (result.kind === 'duplicate') {
      // Every heartbeat until the other one ends: an operator error, to be seen at once.
      logger.error(
        { event: 'cluster_node_id_in_use', node: nodeId },
        'another live node is registered under this node id; waiting for it to end',
      )
      return
    }
    if (result.kind !== 'ok') return
    const first = slot !== result.slot
    slot = result.slot
    await resubscribe()
    registered = true
    registeredAt = Date.now()
    const live = []
    for (const conn of rt.table.values()) {
      if (conn.state === 'open' && slotOf(conn.id) === slot) live.push(conn.identity)
    }
    table.rewrite(live)
    await table.flush()
    if (first || firstRegistration) {
      logger.info({ event: 'cluster_registered', node: nodeId, slot }, 'cluster node registered')
    }
    firstRegistration?.resolve()
    firstRegistration = undefined
  }

  async function tick(): Promise<void> {
    if (closed) return
    try {
      if (!registry) {
        registry = await openRegistry(options)
        replyChannel = `${registry.prefix}reply:${randomBytes(9).toString('base64url')}`
        router = createRouter({
          local,
          codec,
          registry,
          node: nodeView,
          routeTimeoutMs: options.routeTimeoutMs,
          maxOutboundBytes: rt.options.maxOutboundBytes,
          logger,
        })
        const r = router
        registry.sub.on('message', (channel: string, message: string) =>
          r.receive(channel, message),
        )
      }
      if (!registry.ready) {
        if (registered) {
          registered = false
          table.pause()
          logger.warn(
            { event: 'cluster_unhealthy', node: nodeId, detail: 'redis' },
            'Redis unreachable',
          )
        }
        return
      }
      if (registered) {
        if (!(await registry.heartbeat(slot, me()))) {
          registered = false
          table.pause()
        }
      }
      if (!registered) await register()
      // Not right after (re)registering: after a Redis outage longer than deadAfterMs every
      // slot key has expired, and the first node back must give the others the time to
      // re-register rather than reap them all.
      if (registered && Date.now() - registeredAt >= options.deadAfterMs) {
        await reapDead(
          registry,
          { nodeId, slot },
          (identity, code, reason) => fireDisconnect(rt, identity, code, reason),
          logger,
        )
      }
    } catch (err) {
      if (isFatal(err)) {
        startError = err
        return
      }
      if (registered) {
        registered = false
        table.pause()
        logger.warn(
          { event: 'cluster_unhealthy', node: nodeId, detail: 'redis', err },
          'Redis call failed',
        )
      }
    }
  }

  function isFatal(err: unknown): boolean {
    return err instanceof GatehouseError && err.code === 'ERR_INVALID_OPTION'
  }

  function loop(): void {
    if (closed) return
    running = tick().finally(() => {
      running = undefined
      if (closed || startError) return
      timer = setTimeout(loop, options.heartbeatIntervalMs)
      timer.unref()
    })
  }
  loop()

  const hooks: ClusterHooks = {
    newConnectionId() {
      return clusterConnectionId(slot)
    },
    admits: healthy,
    opened(conn: Connection) {
      if (slotOf(conn.id) !== slot) {
        // Issued under a slot this node lost while its $connect ran: unroutable, so ended.
        closeConnection(conn, CLOSE.nodeRejoined.code, CLOSE.nodeRejoined.reason)
        return
      }
      table.opened(conn.identity)
    },
    closed(conn: Connection) {
      table.closed(conn.id)
    },
  }

  const lazyConnections: Connections = {
    post: (id, data) => routerOrLocal().post(id, data),
    postMany: (ids, data) => routerOrLocal().postMany(ids, data),
    delete: (id) => routerOrLocal().delete(id),
    get: (id) => routerOrLocal().get(id),
  }
  // Before the first registration only this node's own sockets (if any) can be reached.
  function routerOrLocal(): Connections {
    return router?.connections ?? local
  }

  const info: ClusterInfo = {
    nodeId,
    get slot() {
      return slot
    },
    get healthy() {
      return healthy()
    },
    async nodes(): Promise<ClusterNodeInfo[]> {
      if (!registry?.ready) throw unavailable('Redis is unreachable.')
      try {
        return await registry.nodes()
      } catch (err) {
        throw unavailable('Redis is unreachable.', err)
      }
    },
  }

  const node: ClusterNode = {
    info,
    hooks,
    connections: lazyConnections,
    get router() {
      return router
    },
    table,
    get registry() {
      return registry
    },
    halt() {
      closed = true
      clearTimeout(timer)
      table.pause()
      registry?.pub.disconnect()
      registry?.sub.disconnect()
    },
    tick: async () => {
      while (running) await running
      await tick()
    },
    async ready(timeoutMs) {
      if (!firstRegistration) return
      let t: NodeJS.Timeout | undefined
      const deadline = new Promise<never>((_, reject) => {
        const started = Date.now()
        const check = (): void => {
          if (startError) reject(startError)
          else if (Date.now() - started >= timeoutMs) fail()
          else t = setTimeout(check, 50)
        }
        const fail = (): void => {
          reject(
            startError ??
              unavailable(
                `cluster node ${nodeId} could not register within ${timeoutMs} ms (Redis unreachable, its node id in use by a live node, or 64 nodes registered).`,
              ),
          )
        }
        check()
      })
      try {
        await Promise.race([firstRegistration.promise, deadline])
      } finally {
        clearTimeout(t)
      }
    },
    async close() {
      if (closed) return
      closed = true
      clearTimeout(timer)
      while (running) await running
      router?.abort()
      if (!registry) return
      try {
        table.pause()
        if (registry.ready && slot >= 0) await registry.unregister(slot, me(), incarnation)
      } catch (err) {
        logger.warn(
          { event: 'cluster_unregister_failed', node: nodeId, err },
          'could not unregister',
        )
      }
      registered = false
      await registry.quit()
    },
  }
  NODES.set(info, node)
  return node
}
