/**
 * @module examples/chat/handlers
 * The chat's message handlers, chosen by `action` from this explicit list (Gatehouse never
 * looks a name up by reflection). Every refusal is the one generic error reply, whatever the
 * cause, so a client learns nothing about which check failed.
 *
 * | action | body | effect |
 * |---|---|---|
 * | `send_message` | `text`: 1–2000 characters | `{"type":"chat_message","channel","user","text"}` to the room, sender included, kept in the room's history (it arrives with a `$history` key) |
 * | `change_channel` | `channel` | reply `{"type":"channel_changed","channel"}`; presence to both rooms (the app's `onPresence`) |
 * | `who` | — | reply `{"type":"presence","channel","users"}` |
 * | `kick` | `user` | `chat.moderate` only: the user's HTTP sessions ended and tokens revoked, all their sockets closed; they get `{"type":"kicked","by"}` first; reply `{"type":"kick_result","user","closed"}` (the generic error when the store could not complete it) |
 * | `ping` | — | nothing (the client's keep-alive) |
 */
import {
  type HandlerFn,
  type HandlerSpec,
  isGatehouseError,
  type Sender,
  type SendResult,
  type Store,
} from 'gatehouse'
import { presenceMessage } from './presence.ts'

/** The one error reply (the same as Gatehouse's own for unknown and forbidden actions). */
export const GENERIC_ERROR = Object.freeze({ type: 'error', message: 'Forbidden' })

/** Longest chat message, in UTF-16 code units. */
export const MAX_TEXT_LENGTH = 2000

const USERNAME = /^[A-Za-z0-9_-]{1,64}$/

/**
 * A text a user may post: a string of 1 to 2000 characters with something other than
 * white space in it.
 *
 * @example
 * ```ts
 * isValidText('hi') // true
 * isValidText('   ') // false
 * ```
 */
export function isValidText(text: unknown): text is string {
  return (
    typeof text === 'string' &&
    text.length >= 1 &&
    text.length <= MAX_TEXT_LENGTH &&
    text.trim() !== ''
  )
}

/**
 * Post a chat message to a room. It goes to the room's history, so a page that reconnects
 * receives what it missed (in order, once each; `gatehouse/client` does it by itself).
 *
 * @example
 * ```ts
 * await postChat(app.send, 'lobby', 'alice', 'hi')
 * ```
 */
export function postChat(
  send: Sender,
  channel: string,
  user: string,
  text: string,
): Promise<SendResult> {
  return send.toChannel(channel, { type: 'chat_message', channel, user, text }, { history: true })
}

/**
 * Build the handler table of the chat app.
 *
 * @example
 * ```ts
 * const app = createApp({ ..., handlers: chatHandlers({ store, kick: (user, by) => kickUser(user, by) }) })
 * ```
 */
export function chatHandlers(deps: {
  readonly store: Store
  /**
   * End a user's presence for good: their HTTP sessions, tokens and sockets (each socket
   * told `{"type":"kicked","by"}` first). Resolves with the sockets closed; throws
   * `ERR_REVOCATION_INCOMPLETE` when the store could not complete it.
   */
  readonly kick: (target: string, by: string) => Promise<number>
}): Record<string, HandlerFn | HandlerSpec> {
  const { store } = deps

  const sendMessage: HandlerFn = async (ctx) => {
    const text = ctx.body.text
    const channel = ctx.session.channel
    if (!isValidText(text) || channel === null || ctx.user === null) return GENERIC_ERROR
    await postChat(ctx.send, channel, ctx.user.id, text)
    return undefined
  }

  const changeChannel: HandlerFn = async (ctx) => {
    const to = ctx.body.channel
    // Validated like at connect (pattern and authorizeChannel) by changeChannel itself, which
    // also fires the app's onPresence (a leave of the old room, a join of `to`) before it returns.
    if (!(await ctx.changeChannel(to)) || typeof to !== 'string') return GENERIC_ERROR
    return { type: 'channel_changed', channel: to }
  }

  const who: HandlerFn = async (ctx) => {
    if (ctx.session.channel === null) return GENERIC_ERROR
    // One store query, whatever the number of people in the room.
    return presenceMessage(await store.channelPresence(ctx.session.channel))
  }

  const kick: HandlerSpec = {
    permissions: { anyOf: ['chat.moderate'] },
    run: async (ctx) => {
      const target = ctx.body.user
      if (typeof target !== 'string' || !USERNAME.test(target) || target === ctx.user?.id) {
        return GENERIC_ERROR
      }
      const by = ctx.user?.id ?? ''
      let closed: number
      try {
        closed = await deps.kick(target, by)
      } catch (err) {
        // Half done (the store failed): say so rather than report a kick that did not happen.
        if (isGatehouseError(err, 'ERR_REVOCATION_INCOMPLETE')) return GENERIC_ERROR
        throw err
      }
      ctx.logger.info({ event: 'kick', by, target, closed }, 'user kicked')
      return { type: 'kick_result', user: target, closed }
    },
  }

  return {
    send_message: sendMessage,
    change_channel: changeChannel,
    who,
    kick,
    ping: () => undefined,
  }
}
