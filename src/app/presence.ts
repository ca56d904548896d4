/**
 * @module app/presence
 * Join and leave events of channels, for an app's `onPresence` hook: a connection joins its
 * channel when its `$connect` succeeds, leaves it at `$disconnect`, and leaves one channel
 * for another on a channel change. The hook learns who moved; who is in a channel now is
 * one store query away (`app.presence(channel)`), so the two never disagree.
 */
import type { Logger } from '../logger.ts'
import type { ChannelPresence, Store } from '../store/store.ts'
import type { Sender } from './send.ts'

/**
 * One join or leave.
 *
 * @example
 * ```ts
 * const e: PresenceEvent = { type: 'join', channel: 'lobby', userId: 'alice', connectionId: 'abc=', cause: 'connect' }
 * ```
 */
export interface PresenceEvent {
  readonly type: 'join' | 'leave'
  readonly channel: string
  /** `null` for anonymous connections (`useToken: false`). */
  readonly userId: string | null
  readonly connectionId: string
  /**
   * What moved it. On `connect` the hook runs before the socket is open (the handshake
   * completes when `$connect` answers), so a push to the channel must skip `connectionId`.
   */
  readonly cause: 'connect' | 'disconnect' | 'channel_change'
}

/**
 * What the `onPresence` hook receives: the event, the app's `send`, and `presence()`, who is
 * in the event's channel now (one store query, as `app.presence(channel)`).
 *
 * @example
 * ```ts
 * const onPresence: PresenceHook = async (e) => {
 *   const { members } = await e.presence()
 *   await e.send.toChannel(e.channel, { type: 'presence', users: members.map((m) => m.userId) })
 * }
 * ```
 */
export interface PresenceContext extends PresenceEvent {
  readonly send: Sender
  presence(): Promise<ChannelPresence>
}

/**
 * The `onPresence` hook of an app.
 *
 * @example
 * ```ts
 * const onPresence: PresenceHook = (e) => console.log(`${e.userId} ${e.type}s ${e.channel}`)
 * ```
 */
export type PresenceHook = (ctx: PresenceContext) => void | Promise<void>

/**
 * Run the hook for each event in order; a hook that throws is logged (`hook_failed`) and
 * never fails the connect, disconnect or message that caused it.
 *
 * @example
 * ```ts
 * await firePresence(hook, { logger, send, store }, [{ type: 'join', channel, userId, connectionId, cause: 'connect' }])
 * ```
 */
export async function firePresence(
  hook: PresenceHook | undefined,
  deps: { readonly logger: Logger; readonly send: Sender; readonly store: Store },
  events: readonly PresenceEvent[],
): Promise<void> {
  if (hook === undefined) return
  const { logger, send, store } = deps
  for (const event of events) {
    try {
      await hook({ ...event, send, presence: () => store.channelPresence(event.channel) })
    } catch (err) {
      logger.error(
        { event: 'hook_failed', hook: 'onPresence', presence: event.type, err },
        'onPresence hook threw',
      )
    }
  }
}
