/**
 * @module examples/chat/presence
 * "Who is in the room", from Gatehouse's presence API: one store query
 * (`store.channelPresence`, what `app.presence(channel)` and the hook's `presence()` run)
 * returns each connected user once, so it stays right across gateway restarts and with
 * several tabs per user; the app's `onPresence` hook says when to push it.
 *
 * Wire: `{"type":"presence","channel":"lobby","users":["alice","bob"]}`, pushed to the room
 * when someone joins, leaves or moves, and sent back to whoever asks with `{"action":"who"}`.
 */
import type { ChannelPresence, Logger, PresenceHook } from 'gatehouse'

/** The presence message of a room. */
export interface PresenceMessage {
  readonly type: 'presence'
  readonly channel: string
  readonly users: readonly string[]
}

/**
 * The wire message of a channel's presence: its users, sorted, each once.
 *
 * @example
 * ```ts
 * presenceMessage(await store.channelPresence('lobby')) // { type: 'presence', channel: 'lobby', users: ['alice', 'bob'] }
 * ```
 */
export function presenceMessage(p: ChannelPresence): PresenceMessage {
  return { type: 'presence', channel: p.channel, users: p.members.map((m) => m.userId) }
}

/**
 * The chat's `onPresence` hook: push the room's presence to everyone in it on every join
 * and leave. A connection joining at `$connect` is left out (its socket opens only after the
 * hook returns; the page asks `who` once open). Best effort: a failed push is logged, never
 * fatal to the connect, message or disconnect that caused it.
 *
 * @example
 * ```ts
 * createApp({ ..., onPresence: presenceAnnouncer(logger) })
 * ```
 */
export function presenceAnnouncer(logger: Logger): PresenceHook {
  return async (e) => {
    try {
      const message = presenceMessage(await e.presence())
      const opening = e.type === 'join' && e.cause === 'connect'
      await e.send.toChannel(e.channel, message, opening ? { except: e.connectionId } : undefined)
    } catch (err) {
      logger.warn({ event: 'presence_failed', err }, 'presence push failed')
    }
  }
}
