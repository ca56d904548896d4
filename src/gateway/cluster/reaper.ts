/**
 * @module gateway/cluster/reaper
 * Ending a dead node's sessions. Each heartbeat, a node lists the registered slots whose key
 * has expired; for each it tries the `REAP` script, which only one node wins (it sets the dead
 * incarnation's fence marker `NX` and takes its table in the same step). The winner sends
 * every recorded connection's `$disconnect` (1006, `Gateway node lost`) through its own
 * integration, a bounded number at a time.
 *
 * Best effort, as AWS's `$disconnect` is. Lost: a connection opened in the last table batch
 * (≤ 50 ms, written behind) before its node died, and the rest of a reap whose winner dies
 * while sending; their sessions end when a push finds them Gone or by the app's cleanup.
 * Sent twice: a connection that closed on a node cut off from Redis (its `$disconnect` sent
 * there, its row not yet deleted) and then reaped.
 *
 * A node reaps only once it has been registered for `deadAfterMs` itself: after a Redis
 * outage longer than that, every slot key has expired, and the first node back must give
 * the others the time to re-register. A dead node is thus seen within `deadAfterMs` plus one
 * heartbeat by a survivor that was already registered (6 s by default).
 */
import { DEFAULTS } from '../../defaults.ts'
import type { Logger } from '../../logger.ts'
import { CLOSE } from '../close-codes.ts'
import type { ConnectionIdentity } from '../handshake.ts'
import type { Registry } from './registry.ts'

/** `$disconnect` calls one reap runs at once. */
export const REAP_CONCURRENCY = 16

/**
 * Read one recorded row back; null for anything that is not a connection's identity.
 *
 * @example
 * ```ts
 * parseRow('DbX2Lq0v9mTz_a8K', '{"connectionId":"DbX2Lq0v9mTz_a8K","connectedAt":1,…}')
 * ```
 */
export function parseRow(id: string, json: string): ConnectionIdentity | null {
  let row: Record<string, unknown>
  try {
    row = JSON.parse(json) as Record<string, unknown>
  } catch {
    return null
  }
  if (
    typeof row !== 'object' ||
    row === null ||
    row.connectionId !== id ||
    !DEFAULTS.connectionIdPattern.test(id) ||
    typeof row.connectedAt !== 'number' ||
    typeof row.sourceIp !== 'string' ||
    typeof row.domainName !== 'string' ||
    typeof row.localPort !== 'number' ||
    (row.userAgent !== undefined && typeof row.userAgent !== 'string')
  ) {
    return null
  }
  return {
    connectionId: id,
    connectedAt: row.connectedAt,
    sourceIp: row.sourceIp,
    userAgent: row.userAgent as string | undefined,
    domainName: row.domainName,
    localPort: row.localPort,
  }
}

/**
 * Find dead nodes and reap those this node wins. Resolves with the number of `$disconnect`s
 * sent.
 *
 * @example
 * ```ts
 * await reapDead(registry, { nodeId: 'a', slot: 0 }, (identity, code, reason) => fireDisconnect(rt, identity, code, reason), logger)
 * ```
 */
export async function reapDead(
  registry: Registry,
  self: { readonly nodeId: string; readonly slot: number },
  disconnect: (identity: ConnectionIdentity, code: number, reason: string) => Promise<void>,
  logger: Logger,
): Promise<number> {
  let sent = 0
  for (const { slot, info } of await registry.deadSlots(self.slot)) {
    const rows = await registry.reap(slot, info, self.nodeId)
    if (rows === null) continue
    const identities: ConnectionIdentity[] = []
    for (const [id, json] of rows) {
      const identity = parseRow(id, json)
      if (identity) identities.push(identity)
    }
    logger.warn(
      {
        event: 'cluster_node_reaped',
        node: info.split(' ')[0],
        slot,
        connections: identities.length,
      },
      'cluster node dead: sending its $disconnects',
    )
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < identities.length) {
        const identity = identities[next++] as ConnectionIdentity
        await disconnect(identity, CLOSE.nodeLost.code, CLOSE.nodeLost.reason)
        sent += 1
      }
    }
    await Promise.all(Array.from({ length: Math.min(REAP_CONCURRENCY, identities.length) }, worker))
  }
  return sent
}
