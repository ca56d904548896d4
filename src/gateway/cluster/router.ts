/**
 * @module gateway/cluster/router
 * The `Connections` port of a cluster node: any id of the cluster, wherever its socket is.
 * Ids are grouped by the slot their first character names; this node's go to its own port,
 * every other node's go as one signed envelope per owning node on that slot's channel (a
 * fan-out to 6,000 sockets on 3 nodes is 2 publishes, the payload once in each), and the
 * owner answers on the requester's reply channel.
 *
 * Only the owner answers Gone. A publish no node received is Gone only when the slot has no
 * live owner (never claimed, freed, or reaped); while it is held or not yet reaped, or while
 * the registry is young (nodes re-registering after Redis lost its data), the call fails with
 * `ERR_CLUSTER_UNAVAILABLE` — never a Gone that would end a live session.
 */
import { GatehouseError, isGatehouseError } from '../../errors.ts'
import type { Logger } from '../../logger.ts'
import type { ConnectionInfo, Connections, PostManyResult } from '../../push/connections.ts'
import {
  type Envelope,
  type EnvelopeBody,
  type EnvelopeCodec,
  fromWire,
  toWire,
} from './envelope.ts'
import { slotOf } from './ids.ts'
import type { Registry } from './registry.ts'

/** What `request` resolves to when the slot has no live owner. */
const GONE: unique symbol = Symbol('gone')

/** Most ids one envelope may list (a fan-out call lists at most 10 000). */
const MAX_ENVELOPE_IDS = 100_000

/**
 * What the router needs of its node.
 *
 * @example
 * ```ts
 * const router = createRouter({ local, codec, registry, node, routeTimeoutMs: 2000, maxOutboundBytes, logger })
 * ```
 */
export interface RouterOptions {
  /** This node's own sockets (the gateway's in-process port). */
  readonly local: Connections
  readonly codec: EnvelopeCodec
  readonly registry: Registry
  /** This node's slot now (-1 while unregistered) and its reply channel. */
  readonly node: { readonly slot: number; readonly replyChannel: string }
  readonly routeTimeoutMs: number
  readonly maxOutboundBytes: number
  readonly logger: Logger
}

/**
 * The router: the cluster-wide port, and the handler of what arrives on this node's channels.
 *
 * @example
 * ```ts
 * registry.sub.on('message', (channel, message) => router.receive(channel, message))
 * await router.connections.postMany(ids, payload)
 * ```
 */
export interface Router {
  readonly connections: Connections
  receive(channel: string, message: string): void
  /** The channel of a slot. */
  routeChannel(slot: number): string
  /** Envelopes refused so far (bad signature, stale, replayed, malformed). */
  readonly refused: number
  /** Fail every call still waiting for a reply (closing). */
  abort(): void
}

interface Pending {
  resolve(result: unknown): void
  reject(error: Error): void
  timer: NodeJS.Timeout
}

function unavailable(message: string, details?: Readonly<Record<string, unknown>>): GatehouseError {
  return new GatehouseError('ERR_CLUSTER_UNAVAILABLE', message, details ? { details } : undefined)
}

function byteLength(data: string | Uint8Array): number {
  return typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength
}

/**
 * Build the router of a node.
 *
 * @example
 * ```ts
 * const router = createRouter(options)
 * await router.connections.post('DbX2Lq0v9mTz_a8K', 'hi') // to slot 3's node, wherever it is
 * ```
 */
export function createRouter(options: RouterOptions): Router {
  const { local, codec, registry, node, logger } = options
  const pending = new Map<string, Pending>()
  const routeChannel = (slot: number): string => `${registry.prefix}route:${slot}`
  let refused = 0

  /** Send `body` to the owner of `slot`; `gone` when the slot has no live owner. */
  async function request(slot: number, body: EnvelopeBody): Promise<unknown> {
    if (!registry.ready) throw unavailable(`Redis is unreachable: cannot reach slot ${slot}.`)
    const channel = routeChannel(slot)
    const { id, wire } = codec.sealWithId(channel, body)
    const reply = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(
          unavailable(
            `The node of slot ${slot} did not answer within ${options.routeTimeoutMs} ms.`,
          ),
        )
      }, options.routeTimeoutMs)
      pending.set(id, { resolve, reject, timer })
    })
    // The caller awaits `reply` only after the publish; a rejection meanwhile is not unhandled.
    reply.catch(() => {})
    let receivers: number
    try {
      receivers = await registry.pub.publish(channel, wire)
    } catch (err) {
      settle(id)
      throw unavailable(`Redis is unreachable: cannot reach slot ${slot}.`, { cause: String(err) })
    }
    if (receivers === 0) {
      settle(id)
      const state = await registry.slotState(slot).catch(() => 'unknown')
      if (state === 'free') return GONE
      throw unavailable(`The node of slot ${slot} is unreachable (${state}).`)
    }
    return reply
  }

  function settle(id: string): Pending | undefined {
    const p = pending.get(id)
    if (p) {
      clearTimeout(p.timer)
      pending.delete(id)
    }
    return p
  }

  function groups(ids: readonly string[]): { mine: string[]; remote: Map<number, string[]> } {
    const mine: string[] = []
    const remote = new Map<number, string[]>()
    for (const id of ids) {
      const slot = slotOf(id)
      // An id of no slot (an AWS-shaped one) is nobody's here: the local port answers gone.
      if (slot === -1 || slot === node.slot) {
        mine.push(id)
        continue
      }
      const list = remote.get(slot)
      if (list) list.push(id)
      else remote.set(slot, [id])
    }
    return { mine, remote }
  }

  function checkSize(data: string | Uint8Array): void {
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new GatehouseError('ERR_INVALID_OPTION', 'A message must be a string or a Uint8Array.')
    }
    const size = byteLength(data)
    if (size > options.maxOutboundBytes) {
      throw new GatehouseError(
        'ERR_MESSAGE_TOO_LARGE',
        `The message is ${size} bytes; the limit is ${options.maxOutboundBytes}.`,
      )
    }
  }

  const connections: Connections = {
    async post(connectionId, data) {
      const { sent } = await connections.postMany([connectionId], data)
      return sent === 1
    },

    async postMany(connectionIds, data) {
      const { mine, remote } = groups(connectionIds)
      if (remote.size === 0) return local.postMany(mine, data)
      checkSize(data)
      const wire = toWire(data)
      const slots = [...remote.keys()]
      const results = await Promise.allSettled([
        mine.length > 0 ? local.postMany(mine, data) : Promise.resolve({ sent: 0, gone: [] }),
        ...slots.map((slot) =>
          request(slot, {
            op: 'post',
            ids: remote.get(slot) as string[],
            data: wire,
            reply: node.replyChannel,
          }),
        ),
      ])
      let sent = 0
      const gone: string[] = []
      const failed: string[] = []
      let firstError: unknown
      results.forEach((r, i) => {
        const ids = i === 0 ? mine : (remote.get(slots[i - 1] as number) as string[])
        if (r.status === 'rejected') {
          if (i === 0 || isGatehouseError(r.reason, 'ERR_MESSAGE_TOO_LARGE')) throw r.reason
          firstError ??= r.reason
          failed.push(...ids)
          return
        }
        const value = r.value === GONE ? { sent: 0, gone: ids } : (r.value as PostManyResult)
        sent += value.sent
        gone.push(...value.gone)
      })
      if (failed.length > 0) {
        // Gone would end live sessions: the ids that could not be reached are reported apart.
        // `cause.gone` as every port's partial failure has it: the app marks those gone.
        const facts = { sent, gone, unavailable: failed, error: (firstError as Error)?.message }
        throw new GatehouseError(
          'ERR_CLUSTER_UNAVAILABLE',
          `${failed.length} connection(s) are on nodes that could not be reached.`,
          { cause: facts, details: facts },
        )
      }
      return { sent, gone }
    },

    async delete(connectionId) {
      const slot = slotOf(connectionId)
      if (slot === -1 || slot === node.slot) return local.delete(connectionId)
      const result = await request(slot, {
        op: 'delete',
        ids: [connectionId],
        reply: node.replyChannel,
      })
      return result === true
    },

    async get(connectionId) {
      const slot = slotOf(connectionId)
      if (slot === -1 || slot === node.slot) return local.get(connectionId)
      const result = await request(slot, {
        op: 'get',
        ids: [connectionId],
        reply: node.replyChannel,
      })
      return result === GONE || result === null ? null : (result as ConnectionInfo)
    },
  }

  async function serve(envelope: Envelope): Promise<{ ok: boolean; result: unknown }> {
    if (envelope.op === 'reply') return { ok: false, result: 'ERR_INVALID_EVENT' }
    const ids = envelope.ids
    if (
      !Array.isArray(ids) ||
      ids.length > MAX_ENVELOPE_IDS ||
      ids.some((x) => typeof x !== 'string')
    ) {
      return { ok: false, result: 'ERR_INVALID_EVENT' }
    }
    // Only ids of this node's slot are looked up here: anything else is not ours to answer.
    const ours = ids.filter((id) => slotOf(id) === node.slot)
    const foreign = ids.filter((id) => slotOf(id) !== node.slot)
    try {
      if (envelope.op === 'post') {
        const result =
          ours.length > 0
            ? await local.postMany(ours, fromWire(envelope.data))
            : { sent: 0, gone: [] }
        return { ok: true, result: { sent: result.sent, gone: [...result.gone, ...foreign] } }
      }
      const id = ours[0]
      if (id === undefined) return { ok: true, result: envelope.op === 'get' ? null : false }
      if (envelope.op === 'delete') return { ok: true, result: await local.delete(id) }
      return { ok: true, result: await local.get(id) }
    } catch (err) {
      return {
        ok: false,
        result: isGatehouseError(err) ? err.code : 'ERR_INTEGRATION_FAILED',
      }
    }
  }

  function receive(channel: string, message: string): void {
    const opened = codec.open(channel, message)
    if (!opened.ok) {
      refused += 1
      logger.warn(
        { event: 'cluster_envelope_refused', detail: opened.reason, channel },
        'cluster envelope refused',
      )
      return
    }
    const envelope = opened.envelope
    if (channel === node.replyChannel) {
      if (envelope.op !== 'reply') return
      const p = settle(envelope.re)
      if (!p) return
      if (envelope.ok) p.resolve(envelope.result)
      else if (envelope.result === 'ERR_MESSAGE_TOO_LARGE') {
        p.reject(
          new GatehouseError('ERR_MESSAGE_TOO_LARGE', 'The owning node refused the message size.'),
        )
      } else p.reject(unavailable(`The owning node failed: ${String(envelope.result)}.`))
      return
    }
    if (channel !== routeChannel(node.slot) || envelope.op === 'reply') return
    const replyTo = envelope.reply
    if (typeof replyTo !== 'string' || !replyTo.startsWith(`${registry.prefix}reply:`)) return
    void serve(envelope)
      .then(({ ok, result }) => {
        const wire = codec.seal(replyTo, { op: 'reply', re: envelope.id, ok, result })
        return registry.pub.publish(replyTo, wire)
      })
      .catch((err: unknown) => {
        logger.warn({ event: 'cluster_reply_failed', err }, 'cluster reply failed')
      })
  }

  return {
    connections,
    receive,
    routeChannel,
    get refused() {
      return refused
    },
    abort() {
      for (const [id, p] of pending) {
        clearTimeout(p.timer)
        pending.delete(id)
        p.reject(unavailable('The gateway is closing.'))
      }
    },
  }
}
