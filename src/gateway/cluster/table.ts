/**
 * @module gateway/cluster/table
 * This node's live connections, mirrored to Redis behind the traffic: what a survivor needs
 * to send their `$disconnect`s should this node die. Opens and closes are queued in memory
 * and written in one script call per batch, at most one batch every `FLUSH_DELAY_MS`, never
 * awaited by a connect; messages cost nothing here. A write is refused by Redis once the
 * node lost its slot, so a row is either recorded while the node owned it (and reaped with
 * it) or known to be unrecorded (and ended by the node itself).
 */
import type { ConnectionIdentity } from '../handshake.ts'

/** Delay before a batch is written: connects of one burst share one call. */
export const FLUSH_DELAY_MS = 50

/** Rows per script call, so one call never holds Redis for long. */
const BATCH_ROWS = 1_000

/**
 * What the table writes through: the `WRITE_TABLE` script bound to the node's slot. Resolves
 * false when the slot is not this node's any more.
 *
 * @example
 * ```ts
 * const write: TableWriter = (reset, sets, dels) => registry.writeTable(reset, sets, dels)
 * ```
 */
export type TableWriter = (
  reset: boolean,
  sets: readonly (readonly [string, string])[],
  dels: readonly string[],
) => Promise<boolean>

/**
 * The write-behind connection table of one node.
 *
 * @example
 * ```ts
 * const table = new ClusterTable(write, onLost)
 * table.opened(conn.identity) // queued, written within 50 ms
 * table.isRecorded(conn.id)
 * ```
 */
export class ClusterTable {
  readonly #write: TableWriter
  readonly #onFailure: (lost: boolean, error?: unknown) => void
  readonly #sets = new Map<string, ConnectionIdentity>()
  readonly #dels = new Set<string>()
  readonly #recorded = new Set<string>()
  /** Rows of the batch being written. */
  readonly #inFlight = new Set<string>()
  #reset = false
  #timer: NodeJS.Timeout | undefined
  #flushing: Promise<void> | undefined
  #paused = true

  /** `onFailure(true)`: the slot is lost; `onFailure(false, err)`: Redis failed. */
  constructor(write: TableWriter, onFailure: (lost: boolean, error?: unknown) => void) {
    this.#write = write
    this.#onFailure = onFailure
  }

  /** A connection opened on this node. */
  opened(identity: ConnectionIdentity): void {
    this.#dels.delete(identity.connectionId)
    this.#sets.set(identity.connectionId, identity)
    this.#schedule()
  }

  /** A connection of this node closed (its `$disconnect` is sent locally). */
  closed(connectionId: string): void {
    this.#sets.delete(connectionId)
    const written = this.#recorded.delete(connectionId) || this.#inFlight.has(connectionId)
    if (written || this.#reset) this.#dels.add(connectionId)
    this.#schedule()
  }

  /** True when the row of `connectionId` is on Redis (a reaper would end it). */
  isRecorded(connectionId: string): boolean {
    return this.#recorded.has(connectionId)
  }

  /**
   * Registered (again): replace the whole table on Redis with `live`, and resume writing.
   * Whatever Redis held (a previous run, a table lost with Redis's data) is overwritten.
   */
  rewrite(live: Iterable<ConnectionIdentity>): void {
    this.#sets.clear()
    this.#dels.clear()
    this.#recorded.clear()
    for (const identity of live) this.#sets.set(identity.connectionId, identity)
    this.#reset = true
    this.#paused = false
    this.#schedule(0)
  }

  /** Stop writing (unregistered, fenced or closing); queued rows wait for {@link rewrite}. */
  pause(): void {
    this.#paused = true
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** Forget everything (fenced: the rows belonged to a finished incarnation). */
  clear(): void {
    this.pause()
    this.#sets.clear()
    this.#dels.clear()
    this.#recorded.clear()
    this.#reset = false
  }

  /** Write what is queued now (close, tests); resolves once written or failed. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    while (this.#flushing) await this.#flushing
    if (this.#paused || (this.#sets.size === 0 && this.#dels.size === 0 && !this.#reset)) return
    this.#flushing = this.#writeBatch().finally(() => {
      this.#flushing = undefined
    })
    await this.#flushing
    if (!this.#paused && (this.#sets.size > 0 || this.#dels.size > 0)) this.#schedule(0)
  }

  /** Rows queued, not yet on Redis (for tests and stats). */
  get pending(): number {
    return this.#sets.size + this.#dels.size
  }

  #schedule(delay = FLUSH_DELAY_MS): void {
    if (this.#paused || this.#timer !== undefined) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.flush()
    }, delay)
    this.#timer.unref()
  }

  async #writeBatch(): Promise<void> {
    const sets: [string, string][] = []
    const taken: ConnectionIdentity[] = []
    for (const [id, identity] of this.#sets) {
      if (sets.length >= BATCH_ROWS) break
      sets.push([id, JSON.stringify(identity)])
      taken.push(identity)
    }
    const dels = [...this.#dels].slice(0, BATCH_ROWS - sets.length)
    const reset = this.#reset
    for (const [id] of sets) {
      this.#sets.delete(id)
      this.#inFlight.add(id)
    }
    for (const id of dels) this.#dels.delete(id)
    this.#reset = false
    let ok: boolean
    try {
      ok = await this.#write(reset, sets, dels)
    } catch (error) {
      this.#inFlight.clear()
      this.#requeue(reset, taken, dels)
      this.#onFailure(false, error)
      return
    }
    this.#inFlight.clear()
    if (!ok) {
      this.#requeue(reset, taken, dels)
      this.#onFailure(true)
      return
    }
    // A connection that closed while its row was in flight is deleted by the next batch.
    for (const identity of taken) {
      if (this.#dels.has(identity.connectionId)) continue
      this.#recorded.add(identity.connectionId)
    }
  }

  #requeue(reset: boolean, sets: readonly ConnectionIdentity[], dels: readonly string[]): void {
    this.#reset ||= reset
    for (const identity of sets) {
      if (!this.#dels.has(identity.connectionId) && !this.#sets.has(identity.connectionId)) {
        this.#sets.set(identity.connectionId, identity)
      }
    }
    for (const id of dels) if (!this.#sets.has(id)) this.#dels.add(id)
  }
}
