/**
 * @module app/history-wire
 * How a message sent with history travels, and the notice that ends a recovery. A history
 * message is the app's own JSON object with one key more, first: `$history`, holding the
 * channel, the offset and the epoch, so a client can track where it stands and anything that
 * reads the message as before (`type`, `text`, …) still does. Messages sent without history
 * are left exactly as they were.
 *
 * ```text
 * {"$history":{"channel":"lobby","offset":12,"epoch":"pW3k9Zq0Lr2xYb7A"},"type":"chat_message","text":"hi"}
 * {"type":"recovered","channel":"lobby","recovered":true,"epoch":"pW3k9Zq0Lr2xYb7A","offset":62}
 * ```
 */
import { GatehouseError } from '../errors.ts'
import type { HistoryPosition } from '../store/store.ts'

/** The key a history message carries its position under. */
export const HISTORY_KEY = '$history'

/**
 * The JSON text of a message that may go to history: a plain object without a `$history`
 * key of its own. Throws `ERR_INVALID_OPTION` for anything else (a string, an array, bytes).
 *
 * @example
 * ```ts
 * historyText({ type: 'chat_message', text: 'hi' }) // '{"type":"chat_message","text":"hi"}'
 * ```
 */
export function historyText(message: unknown): string {
  if (
    typeof message !== 'object' ||
    message === null ||
    Array.isArray(message) ||
    message instanceof Uint8Array ||
    Object.hasOwn(message, HISTORY_KEY)
  ) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      `A message sent with history must be a plain JSON object without a \`${HISTORY_KEY}\` key.`,
    )
  }
  const text = JSON.stringify(message)
  if (typeof text !== 'string' || !text.startsWith('{')) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'A history message must serialise to an object.')
  }
  return text
}

/**
 * A stored message's text as pushed: `$history` spliced in first, the rest untouched.
 *
 * @example
 * ```ts
 * historyFrame('{"text":"hi"}', 'lobby', { offset: 3, epoch: 'e1' })
 * // '{"$history":{"channel":"lobby","offset":3,"epoch":"e1"},"text":"hi"}'
 * ```
 */
export function historyFrame(text: string, channel: string, at: HistoryPosition): string {
  const head = `{"${HISTORY_KEY}":${JSON.stringify({ channel, offset: at.offset, epoch: at.epoch })}`
  return text === '{}' ? `${head}}` : `${head},${text.slice(1)}`
}

/**
 * What ends a recovery, after the missed messages (when `recovered`): the channel's epoch
 * (`null` without history) and its latest offset, where the client stands from now on.
 *
 * @example
 * ```ts
 * const n: RecoveredNotice = { type: 'recovered', channel: 'lobby', recovered: false, epoch: 'e2', offset: 7 }
 * ```
 */
export interface RecoveredNotice {
  readonly type: 'recovered'
  readonly channel: string | null
  readonly recovered: boolean
  readonly epoch: string | null
  readonly offset: number
}
