/**
 * @module examples/chat/presence
 * "Who is in the room": read from the Gatehouse store (the connected sessions of a channel),
 * so it stays right across gateway restarts and with several tabs per user.
 *
 * Wire: `{"type":"presence","channel":"lobby","users":["alice","bob"]}`, pushed to the room
 * when someone joins, leaves or moves, and sent back to whoever asks with `{"action":"who"}`.
 */
import type { Logger, Sender, Store } from 'gatehouse'

/** The presence message of a room. */
export interface PresenceMessage {
  readonly type: 'presence'
  readonly channel: string
  readonly users: readonly string[]
}

/**
 * The users connected to `channel`, sorted, each once.
 *
 * @example
 * ```ts
 * await presenceOf(store, 'lobby') // { type: 'presence', channel: 'lobby', users: ['alice', 'bob'] }
 * ```
 */
export async function presenceOf(store: Store, channel: string): Promise<PresenceMessage> {
  const ids = await store.listConnections({ channel })
  const sessions = await Promise.all(ids.map((id) => store.getSession(id)))
  const users = new Set<string>()
  for (const s of sessions) if (s?.connected && s.userId !== null) users.add(s.userId)
  return { type: 'presence', channel, users: [...users].sort() }
}

/**
 * Push the room's presence to everyone in it (but `except`, whose socket is not open yet).
 * Best effort: a failed presence push is logged, never fatal to the message that caused it.
 *
 * @example
 * ```ts
 * await announcePresence({ store, send, logger }, 'lobby')
 * ```
 */
export async function announcePresence(
  deps: { readonly store: Store; readonly send: Sender; readonly logger: Logger },
  channel: string | null,
  except?: string,
): Promise<void> {
  if (channel === null) return
  try {
    const message = await presenceOf(deps.store, channel)
    await deps.send.toChannel(channel, message, except === undefined ? undefined : { except })
  } catch (err) {
    deps.logger.warn({ event: 'presence_failed', err }, 'presence push failed')
  }
}
