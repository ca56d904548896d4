/**
 * @module app/abandon
 * Undoing a session write whose outcome is unknown. A store call that times out has not
 * necessarily failed: ioredis gives up on a script Redis has queued and then runs, and a
 * PostgreSQL statement whose connection broke may have committed. The client has been
 * answered 503 and opens no socket, so a session written anyway would be a ghost that
 * presence lists and pushes address.
 *
 * {@link abandonConnect} marks that connection id disconnected, which is idempotent and
 * harmless when nothing was written. The first attempt is sent at once, on purpose: on the
 * Redis store it travels on the same connection as the timed-out script, and Redis runs one
 * client's commands in order, so it lands after the script however late that runs. An
 * attempt that fails is repeated with growing pauses; `startMaintenance` with `connections`
 * (sessions the gateway does not know are marked gone) is the backstop for what is left.
 */
import type { Clock } from '../clock.ts'
import type { Logger } from '../logger.ts'
import type { Store } from '../store/store.ts'

/** Pauses between attempts after the first (ms); 31 s in all, past any store timeout. */
export const ABANDON_RETRY_DELAYS_MS: readonly number[] = Object.freeze([
  1_000, 2_000, 4_000, 8_000, 16_000,
])

/** What {@link abandonConnect} needs. */
export interface AbandonContext {
  readonly store: Store
  readonly clock: Clock
  readonly logger: Logger
  /** Pauses between attempts; default {@link ABANDON_RETRY_DELAYS_MS}. */
  readonly retryDelaysMs?: readonly number[]
}

/**
 * Mark `connectionId` disconnected after a failed session write, retrying in the background
 * until the store confirms it (or the attempts run out, which is logged). Returns a promise
 * of whether it was confirmed; callers answering the client need not wait for it.
 *
 * @example
 * ```ts
 * try {
 *   await store.openSession(claim, session, now)
 * } catch (err) {
 *   void abandonConnect({ store, clock, logger }, session.connectionId)
 *   throw err // the client gets 503
 * }
 * ```
 */
export function abandonConnect(ctx: AbandonContext, connectionId: string): Promise<boolean> {
  const delays = ctx.retryDelaysMs ?? ABANDON_RETRY_DELAYS_MS
  // Sent now, not after a tick: ordering behind the failed call is what makes it work.
  const attempt = (): Promise<boolean> =>
    ctx.store.markDisconnected([connectionId], ctx.clock.now()).then(
      () => true,
      () => false,
    )
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      setTimeout(resolve, ms).unref()
    })
  return (async () => {
    if (await attempt()) return true
    for (const ms of delays) {
      await pause(ms)
      if (await attempt()) return true
    }
    ctx.logger.error(
      { event: 'abandon_failed', connectionId },
      'a failed session write could not be undone; maintenance will reconcile it',
    )
    return false
  })()
}
