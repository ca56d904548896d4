/**
 * @module app/send
 * The send API: one connection, all of a user's connections, a channel, or everyone.
 * A message is serialised once and handed to the {@link Connections} port as one string (or
 * the caller's bytes) for all recipients. Connections found gone are marked disconnected in the store.
 */
import type { Clock } from '../clock.ts'
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { goneOf, mapBounded } from '../push/bounded.ts'
import type { Connections } from '../push/connections.ts'
import { audienceTarget } from '../store/audience.ts'
import type { Audience, HistoryLimits, Store } from '../store/store.ts'
import { publish, telemetry } from '../telemetry.ts'
import { historyFrame, historyText } from './history-wire.ts'

const WIDEST_EPOCH = 'x'.repeat(32)

/** What a push did: messages handed over, and recipients found gone. */
export interface SendResult {
  readonly sent: number
  readonly gone: number
}

/**
 * Options of {@link Sender.toChannel}.
 *
 * @example
 * ```ts
 * await app.send.toChannel('lobby', { type: 'chat_message', text: 'hi' }, { history: true })
 * ```
 */
export interface ChannelSendOptions {
  /** A connection id left out (e.g. the sender). */
  readonly except?: string
  /**
   * Append the message to the channel's history (a plain JSON object only), so a client
   * that reconnects receives it if it missed it. It is pushed with a `$history` key holding
   * its channel, offset and epoch (see `docs/client.md`).
   */
  readonly history?: boolean
}

/**
 * Push messages to clients. Strings are sent as they are; anything else as JSON.
 *
 * @example
 * ```ts
 * await app.send.toChannel('lobby', { type: 'chat_message', text: 'hi' })
 * await app.send.toUser('bob', { type: 'notice' })
 * await app.send.close({ userId: 'bob' }) // kick: closes all of bob's sockets
 * ```
 */
export interface Sender {
  toConnection(connectionId: string, message: unknown): Promise<SendResult>
  toUser(userId: string, message: unknown): Promise<SendResult>
  toChannel(channel: string, message: unknown, options?: ChannelSendOptions): Promise<SendResult>
  toAll(message: unknown): Promise<SendResult>
  /**
   * Close every connection of an audience and mark their sessions disconnected; returns how
   * many sockets were open and got closed. `{ connectionId }` closes that socket even when
   * the store has no connected session for it (a socket whose session was revoked while its
   * `$connect` ran). At most `DEFAULTS.pushConcurrency` closes are in flight; when some fail,
   * the others still run and are marked, then the first failure is thrown.
   */
  close(audience: Audience): Promise<number>
}

/** What {@link createSender} needs. */
export interface SenderDeps {
  readonly store: Store
  readonly connections: Connections | undefined
  readonly maxOutboundBytes: number
  /** See `DEFAULTS.goneGraceMs`. */
  readonly goneGraceMs: number
  /** What channel history keeps; default `DEFAULTS.historySize` and `DEFAULTS.historyTtlMs`. */
  readonly history?: HistoryLimits
  readonly clock: Clock
  readonly logger: Logger
  /**
   * Called with the connections a close or a Gone push ends, before and after the store
   * marks them: the app drops what it keeps in memory about them (its session cache).
   */
  readonly forget?: (connectionIds: readonly string[]) => void
}

/**
 * Build a {@link Sender} over a store and a connections port.
 *
 * @example
 * ```ts
 * const send = createSender({
 *   store, connections, maxOutboundBytes: 131072, goneGraceMs: 30_000, clock: systemClock, logger: silentLogger,
 * })
 * await send.toAll('maintenance in 5 minutes')
 * ```
 */
export function createSender(deps: SenderDeps): Sender {
  const { store, maxOutboundBytes, goneGraceMs, clock, logger } = deps

  function port(): Connections {
    if (!deps.connections) {
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        'This app has no `connections` port; pass one to createApp() to push messages.',
      )
    }
    return deps.connections
  }

  // Serialised once; a string stays a string (the port frames it once, whatever the number
  // of recipients). The size is checked here only: the byte count is computed only when the
  // string could be over the limit (a UTF-16 unit is at most 3 UTF-8 bytes).
  function encode(message: unknown): string | Uint8Array {
    if (message instanceof Uint8Array) return checkSize(message, message.byteLength)
    const text = typeof message === 'string' ? message : JSON.stringify(message)
    if (text === undefined) {
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        'A message must be a string or JSON-serialisable.',
      )
    }
    return text.length * 3 <= maxOutboundBytes ? text : checkSize(text, Buffer.byteLength(text))
  }

  function checkSize<T extends string | Uint8Array>(data: T, byteLength: number): T {
    if (byteLength > maxOutboundBytes) {
      throw new GatehouseError(
        'ERR_MESSAGE_TOO_LARGE',
        `Outgoing message is ${byteLength} bytes; the limit is ${maxOutboundBytes}.`,
      )
    }
    return data
  }

  async function deliver(ids: readonly string[], data: string | Uint8Array): Promise<SendResult> {
    if (ids.length === 0) return { sent: 0, gone: 0 }
    const conns = port()
    let outcome: { sent: number; gone: readonly string[] }
    try {
      outcome =
        ids.length === 1
          ? (await conns.post(ids[0]!, data))
            ? { sent: 1, gone: [] }
            : { sent: 0, gone: [ids[0]!] }
          : await conns.postMany(ids, data)
    } catch (err) {
      // A transport failure (gateway unreachable, 5xx): operators need it, the caller decides.
      logger.error({ event: 'push_failed', recipients: ids.length, err }, 'push failed')
      if (telemetry.hasSubscribers) publish({ type: 'push_failed', recipients: ids.length })
      // Recipients a partly failed fan-out found gone are gone all the same.
      await markGone(goneOf(err)).catch(() => {})
      throw err
    }
    const { sent, gone } = outcome
    if (telemetry.hasSubscribers) {
      publish({ type: 'push', recipients: ids.length, sent })
      if (gone.length > 0) publish({ type: 'push_gone', count: gone.length })
    }
    await markGone(gone)
    return { sent, gone: gone.length }
  }

  async function markGone(gone: readonly string[]): Promise<void> {
    if (gone.length === 0) return
    deps.forget?.(gone)
    logger.info({ event: 'push_gone', count: gone.length }, 'connections gone')
    const now = clock.now()
    await store.markDisconnected(gone, now, now - goneGraceMs)
  }

  const history = deps.history ?? { size: DEFAULTS.historySize, ttlMs: DEFAULTS.historyTtlMs }
  // History sends of a channel run one after the other in this process: each is appended
  // and then fanned out before the next is appended, so its recipients get them in offset
  // order. (Sends from other processes interleave; clients drop an offset they have seen.)
  const tails = new Map<string, Promise<unknown>>()
  function inOrder<T>(channel: string, body: () => Promise<T>): Promise<T> {
    const run = (tails.get(channel) ?? Promise.resolve()).then(body)
    const tail = run.catch(() => {})
    tails.set(channel, tail)
    void tail.then(() => {
      if (tails.get(channel) === tail) tails.delete(channel)
    })
    return run
  }

  function toChannelWithHistory(
    channel: string,
    message: unknown,
    options: ChannelSendOptions,
  ): Promise<SendResult> {
    const text = historyText(message)
    // Refused before it is stored: a frame too large to push must not sit in the history.
    // Sized with the widest position a store hands out (15-digit offset, 32-character epoch).
    const widest = historyFrame(text, channel, { offset: 999_999_999_999_999, epoch: WIDEST_EPOCH })
    checkSize(text, Buffer.byteLength(widest))
    return inOrder(channel, async () => {
      const at = await store.appendHistory(channel, text, history, clock.now())
      const data = historyFrame(text, channel, at)
      let ids = await store.listConnections({ channel })
      if (options.except !== undefined) ids = ids.filter((id) => id !== options.except)
      return deliver(ids, data)
    })
  }

  return {
    toConnection: async (connectionId, message) => deliver([connectionId], encode(message)),
    toUser: async (userId, message) => {
      const data = encode(message)
      return deliver(await store.listConnections({ userId }), data)
    },
    toChannel: async (channel, message, options) => {
      if (options?.history === true) return toChannelWithHistory(channel, message, options)
      const data = encode(message)
      let ids = await store.listConnections({ channel })
      if (options?.except !== undefined) ids = ids.filter((id) => id !== options.except)
      return deliver(ids, data)
    },
    toAll: async (message) => {
      const data = encode(message)
      return deliver(await store.listConnections({ all: true }), data)
    },
    close: async (audience) => {
      const target = audienceTarget(audience)
      const ids =
        target.kind === 'connectionId' ? [target.value] : await store.listConnections(audience)
      if (ids.length === 0) return 0
      const conns = port()
      // Dropped before the sockets close and again once the store has marked them, so a
      // message read in between can neither be answered from memory nor refill it.
      deps.forget?.(ids)
      const results = await mapBounded(ids, DEFAULTS.pushConcurrency, (id) => conns.delete(id))
      // Closed now or already gone: either way the session is over. A failed close is not.
      const ended: string[] = []
      let closed = 0
      let failure: { error: unknown } | undefined
      results.forEach((r, i) => {
        if (!r.ok) {
          failure ??= r
          return
        }
        ended.push(ids[i]!)
        if (r.value) closed++
      })
      if (ended.length > 0) {
        try {
          await store.markDisconnected(ended, clock.now())
        } finally {
          deps.forget?.(ended)
        }
      }
      if (failure) {
        const failed = ids.length - ended.length
        logger.error(
          { event: 'push_failed', op: 'close', recipients: ids.length, failed, err: failure.error },
          'close failed',
        )
        throw failure.error
      }
      return closed
    },
  }
}
