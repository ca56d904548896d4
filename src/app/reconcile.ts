/**
 * @module app/reconcile
 * Keeping the store honest. `$disconnect` is best effort (on AWS and on the bundled gateway:
 * a crashed node, a failed integration call), so a session can stay "connected" after its
 * socket is gone. `reconcileSessions` asks the gateway about a bounded sample of connected
 * sessions and marks the ones it no longer knows; `startMaintenance` runs that and the store
 * cleanup on one unref'd timer (the optional built-in timer; `gatehouse cleanup` is the CLI).
 */
import { type Clock, systemClock } from '../clock.ts'
import { DEFAULTS } from '../defaults.ts'
import { type Logger, silentLogger } from '../logger.ts'
import { mapBounded } from '../push/bounded.ts'
import type { Connections } from '../push/connections.ts'
import { CLEANUP_DEFAULTS, type CleanupAges, cleanupStore } from '../store/cleanup.ts'
import type { Store } from '../store/store.ts'
import { positiveInt } from '../util/options.ts'

/** Options of {@link reconcileSessions}. */
export interface ReconcileOptions {
  readonly store: Store
  readonly connections: Connections
  /** Sessions younger than this are left alone (their handshake may still be running). Default `DEFAULTS.goneGraceMs`. */
  readonly minAgeMs?: number
  /** Most sessions checked per run (one `GET @connections` each). Default 1000. */
  readonly limit?: number
  readonly concurrency?: number
  readonly clock?: Clock
  readonly random?: () => number
}

/** What a reconcile run did. */
export interface ReconcileResult {
  readonly checked: number
  readonly markedGone: number
}

/**
 * Ask the gateway about up to `limit` connected sessions (a random window, so every session is
 * reached over successive runs) and mark those it reports gone.
 *
 * @example
 * ```ts
 * const { checked, markedGone } = await reconcileSessions({ store, connections: gateway.connections })
 * ```
 */
export async function reconcileSessions(options: ReconcileOptions): Promise<ReconcileResult> {
  const clock = options.clock ?? systemClock
  const limit = positiveInt('limit', options.limit ?? 1000)
  const minAgeMs = positiveInt('minAgeMs', options.minAgeMs ?? DEFAULTS.goneGraceMs, 0)
  const concurrency = positiveInt('concurrency', options.concurrency ?? DEFAULTS.pushConcurrency)
  const ids = await options.store.listConnections({ all: true })
  if (ids.length === 0) return { checked: 0, markedGone: 0 }
  const start = Math.floor((options.random ?? Math.random)() * ids.length)
  const sample = ids.length <= limit ? ids : [...ids, ...ids].slice(start, start + limit)
  const results = await mapBounded(sample, concurrency, async (id) =>
    (await options.connections.get(id)) === null ? id : null,
  )
  const gone = results.flatMap((r) => (r.ok && r.value !== null ? [r.value] : []))
  const now = clock.now()
  const markedGone =
    gone.length === 0 ? 0 : await options.store.markDisconnected(gone, now, now - minAgeMs)
  return { checked: sample.length, markedGone }
}

/** Options of {@link startMaintenance}. */
export interface MaintenanceOptions {
  readonly store: Store
  /** When given, each run also reconciles sessions against the gateway. */
  readonly connections?: Connections
  /** How often to run. Default 5 minutes. */
  readonly intervalMs?: number
  readonly ages?: CleanupAges
  readonly clock?: Clock
  readonly logger?: Logger
}

/**
 * Run cleanup (and reconciliation, given `connections`) every `intervalMs` on one unref'd
 * timer that never keeps the process alive; runs never overlap. Returns a stop function.
 *
 * @example
 * ```ts
 * const stop = startMaintenance({ store, connections: gateway.connections, intervalMs: 300_000 })
 * process.on('SIGTERM', stop)
 * ```
 */
export function startMaintenance(options: MaintenanceOptions): () => void {
  const intervalMs = positiveInt('intervalMs', options.intervalMs ?? 300_000)
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? silentLogger
  let running = false
  const run = async () => {
    if (running) return
    running = true
    try {
      const removed = await cleanupStore(options.store, options.ages ?? CLEANUP_DEFAULTS, clock)
      const reconciled = options.connections
        ? await reconcileSessions({ store: options.store, connections: options.connections, clock })
        : undefined
      logger.info({ event: 'maintenance', removed, reconciled }, 'maintenance run')
    } catch (err) {
      logger.error({ event: 'maintenance_failed', err }, 'maintenance run failed')
    } finally {
      running = false
    }
  }
  const timer = setInterval(() => void run(), intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
