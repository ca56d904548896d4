/**
 * @module store/group-commit
 * Group commit: the store writes of a connect (rate-limit hits, the token use, the session
 * insert) and of a token issue are queued, and everything queued in one event-loop turn runs
 * in ONE transaction, flushed on `setImmediate` (after the poll phase has handed over every
 * socket that arrived, so concurrent connects share the commit; a microtask would flush after
 * each socket's callback alone).
 *
 * Each queued write is a function of the transaction; a refusal (token already used, rate
 * limited) is its return value, so it never fails its neighbours. A store error in any of them,
 * or at the commit, rolls back the whole transaction and rejects EVERY write of the batch with
 * `ERR_STORE_UNAVAILABLE` (each connect answers 503): no token is left used without its
 * session, no session written without its token. A crash loses at most the batch in flight,
 * whose connects were never answered, so none held a socket.
 *
 * One batch is in flight at a time per store: what arrives meanwhile waits for the next one,
 * so a slow commit makes batches larger, not more numerous.
 */

/**
 * Runs the bodies of one batch in one transaction and returns their results in order, or
 * throws after rolling the whole transaction back.
 *
 * @example
 * ```ts
 * const commit: BatchCommit<DatabaseSync> = (bodies) => transaction(() => bodies.map((b) => b(db)))
 * ```
 */
export type BatchCommit<C> = (
  bodies: readonly ((tx: C) => unknown)[],
) => readonly unknown[] | Promise<readonly unknown[]>

/**
 * A per-store queue of writes that commit together; see the module comment.
 *
 * @example
 * ```ts
 * const owner = await batch.add('openSession', (db) => openSessionIn(db, claim, session, now))
 * ```
 */
export interface GroupCommit<C> {
  /** Queue one write; it settles when its batch commits (its result) or fails (rejected). */
  add<T>(op: string, body: (tx: C) => T | Promise<T>): Promise<T>
  /** Commit what is queued now and wait for every batch in flight (for `close()`). */
  drain(): Promise<void>
}

/**
 * Most writes in one transaction: a burst beyond it is split, so one commit never holds the
 * write lock for an unbounded time.
 *
 * @example
 * ```ts
 * groupCommit(commit, fail, GROUP_COMMIT_MAX_WRITES / 2)
 * ```
 */
export const GROUP_COMMIT_MAX_WRITES = 256

interface Queued<C> {
  readonly op: string
  readonly body: (tx: C) => unknown
  readonly resolve: (value: unknown) => void
  readonly reject: (err: unknown) => void
}

/**
 * A group-commit queue over `commit`; `fail(op, err)` turns a failed batch's error into the
 * error each of its writes rejects with (the store's `ERR_STORE_UNAVAILABLE`).
 *
 * @example
 * ```ts
 * const batch = groupCommit(commit, (op, err) => storeUnavailable('sqlite', op, err))
 * ```
 */
export function groupCommit<C>(
  commit: BatchCommit<C>,
  fail: (op: string, err: unknown) => unknown,
  maxWrites: number = GROUP_COMMIT_MAX_WRITES,
): GroupCommit<C> {
  let queue: Queued<C>[] = []
  let scheduled = false
  let inFlight: Promise<void> | null = null

  const schedule = (): void => {
    if (scheduled || inFlight !== null || queue.length === 0) return
    scheduled = true
    setImmediate(flush)
  }

  function flush(): void {
    scheduled = false
    if (inFlight !== null || queue.length === 0) return
    const items = queue.length <= maxWrites ? queue : queue.slice(0, maxWrites)
    queue = queue.length <= maxWrites ? [] : queue.slice(maxWrites)
    inFlight = settle(items).finally(() => {
      inFlight = null
      schedule()
    })
  }

  async function settle(items: readonly Queued<C>[]): Promise<void> {
    let results: readonly unknown[]
    try {
      results = await commit(items.map((i) => i.body))
    } catch (err) {
      // The transaction was rolled back as a whole: every write of it failed alike.
      for (const item of items) item.reject(fail(item.op, err))
      return
    }
    items.forEach((item, i) => {
      item.resolve(results[i])
    })
  }

  return {
    add<T>(op: string, body: (tx: C) => T | Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ op, body, resolve: resolve as (v: unknown) => void, reject })
        schedule()
      })
    },
    async drain(): Promise<void> {
      while (inFlight !== null || queue.length > 0) {
        if (inFlight === null) flush()
        await inFlight
      }
    },
  }
}
