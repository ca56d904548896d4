/**
 * @module app/activity
 * Request counts and last-seen times, written behind the message path: a message notes its
 * connection in memory, and one timer per app writes every pending note in one
 * {@link Store.recordActivity} call. The counters are statistics (cleanup and the admin page
 * read them), not authority, so a failed write is logged and dropped rather than retried
 * on the hot path, and what is pending when a process dies is lost (call `flush` on shutdown).
 */
import type { Logger } from '../logger.ts'
import type { SessionActivity, Store } from '../store/store.ts'

/**
 * Pending activity of an app's connections.
 *
 * @example
 * ```ts
 * const activity = createActivityRecorder({ store, flushMs: 1_000, logger })
 * activity.note('c1', Date.now()) // no store call; written within flushMs
 * await activity.flush() // on shutdown
 * ```
 */
export interface ActivityRecorder {
  /** Count one message of `connectionId` at `now`. */
  note(connectionId: string, now: number): void
  /** Write what is pending now (and cancel the timer). */
  flush(): Promise<void>
}

/**
 * Build an {@link ActivityRecorder}. Its timer is armed only while something is pending, and
 * is unref'd: it never keeps a process alive.
 *
 * @example
 * ```ts
 * const activity = createActivityRecorder({ store, flushMs: DEFAULTS.activityFlushMs, logger })
 * ```
 */
export function createActivityRecorder(options: {
  readonly store: Store
  readonly flushMs: number
  readonly logger: Logger
}): ActivityRecorder {
  const { store, flushMs, logger } = options
  let pending = new Map<string, { count: number; lastSeenAt: number }>()
  let timer: ReturnType<typeof setTimeout> | undefined

  async function flush(): Promise<void> {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (pending.size === 0) return
    const batch: SessionActivity[] = []
    for (const [connectionId, a] of pending)
      batch.push({ connectionId, count: a.count, lastSeenAt: a.lastSeenAt })
    pending = new Map()
    try {
      await store.recordActivity(batch)
    } catch (err) {
      logger.warn(
        { event: 'activity_write_failed', sessions: batch.length, err },
        'activity write failed; counts dropped',
      )
    }
  }

  return {
    note(connectionId, now) {
      const a = pending.get(connectionId)
      if (a === undefined) pending.set(connectionId, { count: 1, lastSeenAt: now })
      else {
        a.count += 1
        if (now > a.lastSeenAt) a.lastSeenAt = now
      }
      if (timer === undefined) {
        timer = setTimeout(() => void flush(), flushMs)
        timer.unref?.()
      }
    },
    flush,
  }
}
