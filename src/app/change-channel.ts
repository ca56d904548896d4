/**
 * @module app/change-channel
 * A ready-made `change_channel` handler. Register it explicitly (nothing is registered for
 * you); it validates the name like `$connect` does and asks `authorizeChannel` when set.
 */

import { FORBIDDEN_REPLY } from '../http/refusal.ts'
import type { HandlerFn } from './types.ts'

/**
 * Build the `change_channel` handler: `{"action":"change_channel","channel":"room2"}`.
 * Replies `{"type":"channel_changed","channel":"room2"}`, or the generic error.
 *
 * @example
 * ```ts
 * createApp({ ..., handlers: { change_channel: changeChannelHandler() } })
 * ```
 */
export function changeChannelHandler(): HandlerFn {
  return async (ctx) => {
    const channel = ctx.body.channel
    if (!(await ctx.changeChannel(channel))) return FORBIDDEN_REPLY
    return { type: 'channel_changed', channel }
  }
}
