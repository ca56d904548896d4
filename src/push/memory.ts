/**
 * @module push/memory
 * An in-memory {@link Connections} for tests: open and close connections by hand, then read
 * what each one received. No sockets, no timers.
 */
import { type Clock, systemClock } from '../clock.ts'
import type { ConnectionInfo, Connections, PostManyResult } from './connections.ts'

/** A {@link Connections} with the helpers a test drives it by. */
export interface MemoryConnections extends Connections {
  /** Mark a connection open (again); `info` overrides the identity fields. */
  open(connectionId: string, info?: Partial<Omit<ConnectionInfo, 'connectedAt'>>): void
  /** Mark a connection closed: later pushes find it gone. */
  close(connectionId: string): void
  /** Whether the connection is open. */
  isOpen(connectionId: string): boolean
  /** Every message pushed to the connection, in order, as text (kept after it closes). */
  received(connectionId: string): string[]
  /** Ids closed through `delete()`, in order. */
  readonly deleted: readonly string[]
}

interface Entry {
  info: ConnectionInfo
  open: boolean
  messages: string[]
}

const decoder = new TextDecoder()

/**
 * Build an in-memory connections port.
 *
 * @example
 * ```ts
 * const connections = createMemoryConnections()
 * connections.open('a=')
 * const app = createApp({ store, connections })
 * await app.send.toConnection('a=', { type: 'hi' })
 * connections.received('a=') // ['{"type":"hi"}']
 * ```
 */
export function createMemoryConnections(options: { clock?: Clock } = {}): MemoryConnections {
  const clock = options.clock ?? systemClock
  const entries = new Map<string, Entry>()
  const deleted: string[] = []

  function deliver(id: string, data: string | Uint8Array): boolean {
    const entry = entries.get(id)
    if (!entry?.open) return false
    entry.messages.push(typeof data === 'string' ? data : decoder.decode(data))
    entry.info = { ...entry.info, lastActiveAt: clock.now() }
    return true
  }

  return {
    open(id, info = {}) {
      const now = clock.now()
      const previous = entries.get(id)
      entries.set(id, {
        info: {
          connectedAt: now,
          lastActiveAt: now,
          sourceIp: info.sourceIp ?? '127.0.0.1',
          userAgent: info.userAgent ?? 'test',
          ...(info.lastActiveAt !== undefined ? { lastActiveAt: info.lastActiveAt } : {}),
        },
        open: true,
        messages: previous?.messages ?? [],
      })
    },
    close(id) {
      const entry = entries.get(id)
      if (entry) entry.open = false
    },
    isOpen: (id) => entries.get(id)?.open === true,
    received: (id) => [...(entries.get(id)?.messages ?? [])],
    deleted,
    post: async (id, data) => deliver(id, data),
    async postMany(ids, data): Promise<PostManyResult> {
      let sent = 0
      const gone: string[] = []
      for (const id of ids) {
        if (deliver(id, data)) sent++
        else gone.push(id)
      }
      return { sent, gone }
    },
    async delete(id) {
      const entry = entries.get(id)
      if (!entry?.open) return false
      entry.open = false
      deleted.push(id)
      return true
    },
    get: async (id) => {
      const entry = entries.get(id)
      return entry?.open ? { ...entry.info } : null
    },
  }
}
