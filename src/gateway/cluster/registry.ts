/**
 * @module gateway/cluster/registry
 * The cluster's registry on Redis, as typed calls: register (claim or keep a slot), renew it,
 * write the connection table, reap a dead node, unregister, list the nodes. Two ioredis
 * connections per node: one for commands and publishes, one for subscriptions (a subscribed
 * connection can do nothing else). Both fail fast while Redis is down (no offline queue) and
 * reconnect by themselves; `ioredis` is an optional peer dependency, loaded on first use.
 */
import type { Redis } from 'ioredis'
import { importOptional } from '../../util/optional.ts'
import { MAX_SLOTS } from './ids.ts'
import type { ResolvedClusterOptions } from './options.ts'
import {
  CLUSTER_SCRIPTS,
  type ClusterScript,
  HEARTBEAT,
  REAP,
  REGISTER,
  SLOT_STATE,
  UNREGISTER,
  WRITE_TABLE,
} from './scripts.ts'

/** What {@link Registry.register} found. */
export type RegisterResult =
  | { readonly kind: 'ok'; readonly slot: number }
  | { readonly kind: 'fenced'; readonly reaped: boolean }
  | { readonly kind: 'full' }
  | { readonly kind: 'duplicate' }

/** Whether a slot that nobody answered for has a live owner (see `SLOT_STATE`). */
export type SlotState = 'held' | 'registered' | 'settling' | 'free'

/** One registered node, as `gateway.cluster.nodes()` lists it. */
export interface ClusterNodeInfo {
  readonly nodeId: string
  readonly slot: number
  /** Last heartbeat, epoch ms on Redis's clock. */
  readonly lastHeartbeatAt: number
}

/** How long a reaped incarnation's fence marker lives. */
const FENCE_TTL_MS = 86_400_000

/**
 * The registry calls of one node.
 *
 * @example
 * ```ts
 * const registry = await openRegistry(options)
 * const result = await registry.register(`a ${incarnation}`, incarnation, -1)
 * ```
 */
export interface Registry {
  /** Commands and publishes. */
  readonly pub: Redis
  /** Subscriptions only. */
  readonly sub: Redis
  readonly prefix: string
  register(me: string, incarnation: string, preferredSlot: number): Promise<RegisterResult>
  heartbeat(slot: number, me: string): Promise<boolean>
  writeTable(
    slot: number,
    me: string,
    incarnation: string,
    reset: boolean,
    sets: readonly (readonly [string, string])[],
    dels: readonly string[],
  ): Promise<boolean>
  /** Registered slots whose key has expired (their node is dead), but for `exceptSlot`. */
  deadSlots(exceptSlot: number): Promise<Array<{ slot: number; info: string }>>
  /** Reap one dead slot; its table as id → JSON, or null when another node reaps it. */
  reap(slot: number, info: string, reaper: string): Promise<Array<[string, string]> | null>
  unregister(slot: number, me: string, incarnation: string): Promise<void>
  slotState(slot: number): Promise<SlotState>
  nodes(): Promise<ClusterNodeInfo[]>
  /** True when both connections are up. */
  readonly ready: boolean
  quit(): Promise<void>
}

type ScriptCall = (prefix: string, ...args: (string | number)[]) => Promise<unknown>

/**
 * Connect the two clients of a node (lazily: they connect, and reconnect, on their own).
 *
 * @throws GatehouseError `ERR_INVALID_OPTION` when `ioredis` is not installed.
 * @example
 * ```ts
 * const registry = await openRegistry(resolveClusterOptions({ url, nodeId: 'a', secret }))
 * ```
 */
export async function openRegistry(options: ResolvedClusterOptions): Promise<Registry> {
  const RedisClass: typeof Redis = (
    await importOptional('ioredis', 'cluster', () => import('ioredis'))
  ).Redis
  const config = {
    lazyConnect: true,
    connectTimeout: options.deadAfterMs,
    // A reply slower than the route timeout is as good as none.
    commandTimeout: Math.max(options.routeTimeoutMs, options.heartbeatIntervalMs),
    // Fail at once while disconnected: the node is unhealthy then, nothing should queue.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Back within a second of Redis's return, whatever the length of the outage.
    retryStrategy: (times: number) => Math.min(times * 100, 1_000),
  }
  const pub = new RedisClass(options.url, config)
  const sub = new RedisClass(options.url, config)
  // Errors also reach the failing calls, which decide; the event needs no second handling.
  pub.on('error', () => {})
  sub.on('error', () => {})
  for (const script of CLUSTER_SCRIPTS) {
    pub.defineCommand(script.name, { numberOfKeys: 1, lua: script.lua })
  }
  void pub.connect().catch(() => {})
  void sub.connect().catch(() => {})
  const p = options.keyPrefix
  const settleMs = options.deadAfterMs + 2 * options.heartbeatIntervalMs
  const run = (script: ClusterScript, ...args: (string | number)[]): Promise<unknown> =>
    (pub as unknown as Record<string, ScriptCall>)[script.name]!.call(pub, p, ...args)

  return {
    pub,
    sub,
    prefix: p,
    get ready() {
      return pub.status === 'ready' && sub.status === 'ready'
    },
    async register(me, incarnation, preferredSlot) {
      const reply = (await run(
        REGISTER,
        me,
        incarnation,
        preferredSlot,
        options.deadAfterMs,
        settleMs,
        MAX_SLOTS,
      )) as [string, number?]
      if (reply[0] === 'ok') return { kind: 'ok', slot: Number(reply[1]) }
      if (reply[0] === 'fenced') return { kind: 'fenced', reaped: Number(reply[1]) === 1 }
      if (reply[0] === 'duplicate') return { kind: 'duplicate' }
      return { kind: 'full' }
    },
    async heartbeat(slot, me) {
      return Number(await run(HEARTBEAT, slot, me, options.deadAfterMs)) === 1
    },
    async writeTable(slot, me, incarnation, reset, sets, dels) {
      const args: string[] = [String(slot), me, incarnation, reset ? '1' : '0', String(sets.length)]
      for (const [id, json] of sets) args.push(id, json)
      args.push(...dels)
      return Number(await run(WRITE_TABLE, ...args)) === 1
    },
    async deadSlots(exceptSlot) {
      const slots = await pub.hgetall(`${p}slots`)
      const entries = Object.entries(slots).filter(([s]) => Number(s) !== exceptSlot)
      if (entries.length === 0) return []
      const pipeline = pub.pipeline()
      for (const [s] of entries) pipeline.exists(`${p}slot:${s}`)
      const results = (await pipeline.exec()) ?? []
      const dead: Array<{ slot: number; info: string }> = []
      entries.forEach(([s, info], i) => {
        const [err, exists] = results[i] ?? [null, 1]
        if (err === null && Number(exists) === 0) dead.push({ slot: Number(s), info })
      })
      return dead
    },
    async reap(slot, info, reaper) {
      const rows = (await run(REAP, slot, info, reaper, FENCE_TTL_MS, settleMs)) as string[] | null
      if (!Array.isArray(rows)) return null
      const out: Array<[string, string]> = []
      for (let i = 0; i + 1 < rows.length; i += 2)
        out.push([rows[i] as string, rows[i + 1] as string])
      return out
    },
    async unregister(slot, me, incarnation) {
      await run(UNREGISTER, slot, me, incarnation, settleMs)
    },
    async slotState(slot) {
      return (await run(SLOT_STATE, slot, settleMs)) as SlotState
    },
    async nodes() {
      const [slots, beats] = await Promise.all([
        pub.hgetall(`${p}slots`),
        pub.zrange(`${p}beats`, '0', '-1', 'WITHSCORES'),
      ])
      const at = new Map<string, number>()
      for (let i = 0; i + 1 < beats.length; i += 2) at.set(beats[i] as string, Number(beats[i + 1]))
      return Object.entries(slots)
        .map(([s, info]) => ({
          nodeId: info.slice(0, info.indexOf(' ')),
          slot: Number(s),
          lastHeartbeatAt: at.get(s) ?? 0,
        }))
        .sort((a, b) => a.slot - b.slot)
    },
    async quit() {
      await Promise.allSettled([pub.quit(), sub.quit()])
      pub.disconnect()
      sub.disconnect()
    },
  }
}
