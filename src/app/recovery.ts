/**
 * @module app/recovery
 * Recovery after a reconnect. A client that saw history presents its last offset and epoch
 * in the connect query (`?ws_token=…&channel=lobby&since=41&epoch=…`); `$connect` checks
 * them (400 when malformed) and keeps them here for the connection. The socket is not usable
 * before `$connect` has returned (on AWS as on the bundled gateway), so the missed messages
 * cannot be pushed from it: the client's first frame is `{"action":"$recover"}`, and the app
 * answers it here by pushing, in order, every message after the offset, then a
 * `{"type":"recovered","recovered":true,…}` notice; or only a `recovered: false` notice when
 * the epoch differs or the gap is older than the history.
 *
 * The history is read after the connection's session is written, so a message sent in
 * between may arrive twice (live, and in the batch) and live ones may overtake the batch; the
 * client buffers its channel's history messages until the notice and delivers them by offset,
 * once each. An app process that did not see the `$connect` (several processes behind AWS)
 * takes the position from the `$recover` body, which the client sends too.
 */

import type { Clock } from '../clock.ts'
import { DEFAULTS } from '../defaults.ts'
import type { Logger } from '../logger.ts'
import type { HistoryLimits, Store } from '../store/store.ts'
import { historyFrame, type RecoveredNotice } from './history-wire.ts'
import type { Sender } from './send.ts'

/**
 * A client's position in a channel's history, as it presents it.
 *
 * @example
 * ```ts
 * const at: RecoveryRequest = { since: 41, epoch: 'pW3k9Zq0Lr2xYb7A' }
 * ```
 */
export interface RecoveryRequest {
  readonly since: number
  readonly epoch: string
}

/**
 * Read a position from query or body values: `undefined` when neither is there, `null` when
 * malformed (one without the other, a non-numeric offset, a too long epoch).
 *
 * @example
 * ```ts
 * readRecoveryRequest('41', 'pW3k9Zq0Lr2xYb7A') // { since: 41, epoch: 'pW3k9Zq0Lr2xYb7A' }
 * readRecoveryRequest('41', undefined) // null
 * ```
 */
export function readRecoveryRequest(
  since: unknown,
  epoch: unknown,
): RecoveryRequest | null | undefined {
  if (since === undefined && epoch === undefined) return undefined
  const sinceText = typeof since === 'number' ? String(since) : since
  if (typeof sinceText !== 'string' || !DEFAULTS.historySincePattern.test(sinceText)) return null
  if (typeof epoch !== 'string' || !DEFAULTS.historyEpochPattern.test(epoch)) return null
  return { since: Number(sinceText), epoch }
}

/** What {@link createRecovery} needs. */
export interface RecoveryDeps {
  readonly store: Store
  readonly send: Sender
  readonly history: HistoryLimits
  readonly clock: Clock
  readonly logger: Logger
  /** Positions kept at once (a flood of connects cannot grow it without bound). */
  readonly maxPending?: number
}

/**
 * The app's recovery: positions noted at `$connect`, answered at `$recover` (once per
 * connection: a repeat is ignored and answers `null`).
 *
 * @example
 * ```ts
 * const recovery = createRecovery({ store, send, history: { size: 100, ttlMs: 300_000 }, clock, logger })
 * recovery.note('c1', { since: 41, epoch: 'e1' }) // at $connect
 * await recovery.recover('c1', 'lobby', undefined) // at {"action":"$recover"}
 * ```
 */
export interface Recovery {
  note(connectionId: string, request: RecoveryRequest): void
  forget(connectionId: string): void
  recover(
    connectionId: string,
    channel: string | null,
    fallback: RecoveryRequest | undefined,
  ): Promise<RecoveredNotice | null>
}

/**
 * Build the app's {@link Recovery}.
 *
 * @example
 * ```ts
 * const recovery = createRecovery({ store, send, history, clock: systemClock, logger: silentLogger })
 * ```
 */
export function createRecovery(deps: RecoveryDeps): Recovery {
  const { store, send, history, clock, logger } = deps
  const maxPending = deps.maxPending ?? DEFAULTS.sessionCacheMaxEntries
  // Insertion order is age order: the oldest goes first when full or expired.
  const pending = new Map<string, RecoveryRequest & { readonly at: number }>()
  // Connections that have recovered: one `$recover` could make the app push a channel's
  // whole history, so a connection gets one (in this process; bounded like `pending`).
  const answered = new Set<string>()

  function take(connectionId: string): RecoveryRequest | undefined {
    const found = pending.get(connectionId)
    pending.delete(connectionId)
    const now = clock.now()
    for (const [id, p] of pending) {
      if (now - p.at <= DEFAULTS.historyRecoverWindowMs) break
      pending.delete(id)
    }
    if (found === undefined || now - found.at > DEFAULTS.historyRecoverWindowMs) return undefined
    return found
  }

  return {
    note: (connectionId, request) => {
      pending.delete(connectionId)
      pending.set(connectionId, { ...request, at: clock.now() })
      if (pending.size > maxPending) pending.delete(pending.keys().next().value!)
    },
    forget: (connectionId) => {
      pending.delete(connectionId)
      answered.delete(connectionId)
    },
    recover: async (connectionId, channel, fallback) => {
      if (answered.has(connectionId)) {
        logger.warn({ event: 'history_recover_repeated', connectionId }, 'second $recover ignored')
        return null
      }
      answered.add(connectionId)
      if (answered.size > maxPending) answered.delete(answered.values().next().value!)
      const request = take(connectionId) ?? fallback
      if (channel === null || request === undefined) {
        const notice: RecoveredNotice = {
          type: 'recovered',
          channel,
          recovered: false,
          epoch: null,
          offset: 0,
        }
        await send.toConnection(connectionId, notice)
        return notice
      }
      const read = await store.readHistory(channel, request.since, history, clock.now())
      const recovered = read.epoch === request.epoch && read.complete
      // One push at a time, in offset order, then the notice: the client delivers them so.
      if (recovered) {
        for (const e of read.entries) {
          const pushed = await send.toConnection(
            connectionId,
            historyFrame(e.message, channel, { offset: e.offset, epoch: read.epoch! }),
          )
          if (pushed.sent === 0) break
        }
      }
      const notice: RecoveredNotice = {
        type: 'recovered',
        channel,
        recovered,
        epoch: read.epoch,
        offset: read.offset,
      }
      await send.toConnection(connectionId, notice)
      logger.info(
        {
          event: 'history_recovered',
          connectionId,
          channel,
          recovered,
          messages: recovered ? read.entries.length : 0,
        },
        'history recovery',
      )
      return notice
    },
  }
}
