/**
 * @module examples/chat/connections
 * The `Connections` port the demo hands to `createApp`. It forwards to whichever gateway is
 * running, so the gateway can be restarted without rebuilding the app. While no gateway runs,
 * every connection is gone (as the real port would say).
 */
import type { ConnectionInfo, Connections, PostManyResult } from 'gatehouse'

/** A {@link Connections} port that follows the current gateway. */
export interface SwitchableConnections extends Connections {
  /** Point at a (new) gateway's port; `null` while none is running. */
  use(target: Connections | null): void
}

/**
 * Create the switchable port.
 *
 * @example
 * ```ts
 * const connections = createSwitchableConnections()
 * const app = createApp({ store, connections, ... })
 * connections.use(gateway.connections)
 * ```
 */
export function createSwitchableConnections(): SwitchableConnections {
  let target: Connections | null = null
  return {
    use(next) {
      target = next
    },
    post: async (id, data) => (target === null ? false : target.post(id, data)),
    postMany: async (ids, data): Promise<PostManyResult> =>
      target === null ? { sent: 0, gone: [...ids] } : target.postMany(ids, data),
    delete: async (id) => (target === null ? false : target.delete(id)),
    get: async (id): Promise<ConnectionInfo | null> => (target === null ? null : target.get(id)),
  }
}
