/**
 * @module examples/chat/browser/protocol
 * The chat's messages on the wire, as the page sees them (see `handlers.ts` on the server).
 */

/** Who is logged in (`GET /api/me`, `POST /login`). */
export interface Me {
  readonly user: string
  readonly permissions: readonly string[]
}

/**
 * Server → page.
 *
 * @example
 * ```ts
 * const msg: ChatIn = { type: 'chat_message', channel: 'lobby', user: 'bob', text: 'hi' }
 * ```
 */
export type ChatIn =
  | {
      readonly type: 'chat_message'
      readonly channel: string
      readonly user: string
      readonly text: string
    }
  | { readonly type: 'presence'; readonly channel: string; readonly users: readonly string[] }
  | { readonly type: 'channel_changed'; readonly channel: string }
  | { readonly type: 'kick_result'; readonly user: string; readonly closed: number }
  | { readonly type: 'kicked'; readonly by: string }
  | { readonly type: 'error'; readonly message: string }

/**
 * Page → server, by action.
 *
 * @example
 * ```ts
 * client.send('send_message', { text: 'hi' })
 * ```
 */
export type ChatOut = {
  send_message: { text: string }
  change_channel: { channel: string }
  kick: { user: string }
  who: undefined
}
