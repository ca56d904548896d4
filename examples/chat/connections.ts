/**
 * @module examples/chat/connections
 * The `Connections` port the demo hands to `createApp`. It forwards to whichever gateway is
 * running, so the gateway can be restarted without rebuilding the app, and it does not
 * report a connection as gone in the short gap between a successful `$connect` and the 101:
 * the app records the session before the gateway opens the socket, and a broadcast in that
 * gap would otherwise mark the newcomer disconnected for good.
 */
import type { ConnectionInfo, Connections, PostManyResult } from '../../src/push/connections.ts'

/** How long a just-accepted connection is protected from being reported gone. */
const OPENING_GRACE_MS = 5_000

/** A {@link Connections} port that follows the current gateway. */
export interface SwitchableConnections extends Connections {
  /** Point at a (new) gateway's port; `null` while none is running. */
  use(target: Connections | null): void
  /** `$connect` accepted this id; its socket opens in a moment. */
  opening(connectionId: string): void
  /** The connection is over (its `$disconnect` came). */
  closed(connectionId: string): void
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
  const openingUntil = new Map<string, number>()

  /** Gone, unless it is a connection whose socket has not opened yet. */
  function reallyGone(id: string): boolean {
    const until = openingUntil.get(id)
    if (until === undefined) return true
    if (Date.now() > until) {
      openingUntil.delete(id)
      return true
    }
    return false
  }

  return {
    use(next) {
      target = next
    },
    opening(id) {
      openingUntil.set(id, Date.now() + OPENING_GRACE_MS)
    },
    closed(id) {
      openingUntil.delete(id)
    },
    async post(id, data) {
      if (target === null) return !reallyGone(id)
      const sent = await target.post(id, data)
      if (sent) openingUntil.delete(id)
      // A message to a socket still opening is dropped, not an error: the page asks for
      // the room state (`who`) once it is open.
      return sent || !reallyGone(id)
    },
    async postMany(ids, data): Promise<PostManyResult> {
      if (target === null) return { sent: 0, gone: ids.filter(reallyGone) }
      const result = await target.postMany(ids, data)
      return { sent: result.sent, gone: result.gone.filter(reallyGone) }
    },
    async delete(id) {
      return target === null ? false : target.delete(id)
    },
    async get(id): Promise<ConnectionInfo | null> {
      return target === null ? null : target.get(id)
    },
  }
}
