/**
 * @module bench/lib/pool
 * Bounded concurrency: run `count` tasks with at most `concurrency` in flight, and stop
 * starting new ones at a deadline.
 */

/** What {@link runPool} did. */
export interface PoolResult<T> {
  readonly ok: T[]
  readonly failed: number
  readonly errors: string[]
  /** True when the deadline stopped the pool before `count` tasks started. */
  readonly timedOut: boolean
}

/**
 * Run `task(i)` for i in [0, count) with at most `concurrency` at once, until `deadline`
 * (a `performance.now()` value). Keeps up to 5 distinct error messages.
 *
 * @example
 * ```ts
 * const { ok } = await runPool(100, 8, now() + 10_000, (i) => connect(i))
 * ```
 */
export async function runPool<T>(
  count: number,
  concurrency: number,
  deadline: number,
  task: (i: number) => Promise<T>,
  clock: () => number = () => performance.now(),
): Promise<PoolResult<T>> {
  const ok: T[] = []
  const errors = new Set<string>()
  let failed = 0
  let next = 0
  let timedOut = false
  async function worker(): Promise<void> {
    while (next < count) {
      if (clock() > deadline) {
        timedOut = true
        return
      }
      const i = next++
      try {
        ok.push(await task(i))
      } catch (err) {
        failed++
        if (errors.size < 5) errors.add(err instanceof Error ? err.message : String(err))
      }
    }
  }
  const workers: Promise<void>[] = []
  for (let w = 0; w < Math.min(concurrency, count); w++) workers.push(worker())
  await Promise.all(workers)
  return { ok, failed, errors: [...errors], timedOut }
}

/**
 * Resolve after `ms`.
 *
 * @example
 * ```ts
 * await sleep(100)
 * ```
 */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
