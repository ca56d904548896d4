/**
 * @module store/observed
 * A store whose calls report their latency to the telemetry stream (`type: 'store'`, by
 * method name), for the store latency histogram. Without a subscriber a call costs one
 * extra function call and a flag read: no clock, no event.
 *
 * While someone listens, a sample of the calls is timed: the first call of each method, then
 * one in {@link STORE_TIMING_SAMPLE} of its calls. Timing a call costs two clock reads, a
 * closure and a promise reaction the caller waits for: 0.15–0.2 µs on the bench machine, so
 * on every call about 1 % of a `$connect` (two store calls), for a latency distribution a
 * sample gives as well. Every other call costs a counter increment.
 */
import { publish, telemetry } from '../telemetry.ts'
import type { Store } from './store.ts'

/**
 * One store call in this many is timed, per method (the first call, then every 16th).
 *
 * @example
 * ```ts
 * const expectedSamples = Math.ceil(calls / STORE_TIMING_SAMPLE)
 * ```
 */
export const STORE_TIMING_SAMPLE = 16

/**
 * Wrap every method of `store` (its own and inherited ones, including methods an
 * implementation adds beyond the contract) so a sample of its calls is timed while someone
 * listens.
 *
 * @example
 * ```ts
 * const store = observeStore(await openSqliteStore({ path: '.data/gatehouse.db' }))
 * ```
 */
export function observeStore<S extends Store>(store: S): S {
  const wrapped: Record<string, unknown> = {}
  const names = new Set<string>()
  for (
    let o: object | null = store;
    o !== null && o !== Object.prototype;
    o = Object.getPrototypeOf(o)
  ) {
    for (const name of Object.getOwnPropertyNames(o)) names.add(name)
  }
  for (const name of names) {
    if (name === 'constructor') continue
    const value = (store as Record<string, unknown>)[name]
    if (typeof value !== 'function') {
      Object.defineProperty(wrapped, name, {
        get: () => (store as Record<string, unknown>)[name],
        enumerable: true,
      })
      continue
    }
    const fn = value as (...args: unknown[]) => unknown
    // Counts the calls made while someone listens; 0 times the next one.
    let untimed = 0
    wrapped[name] = (...args: unknown[]): unknown => {
      if (!telemetry.hasSubscribers) return fn.apply(store, args)
      if (untimed !== 0) {
        untimed = untimed === STORE_TIMING_SAMPLE - 1 ? 0 : untimed + 1
        return fn.apply(store, args)
      }
      untimed = 1
      const started = performance.now()
      const done = (ok: boolean): void =>
        publish({ type: 'store', op: name, ok, durationMs: performance.now() - started })
      let result: unknown
      try {
        result = fn.apply(store, args)
      } catch (err) {
        done(false)
        throw err
      }
      if (result instanceof Promise) {
        return result.then(
          (v) => {
            done(true)
            return v
          },
          (err: unknown) => {
            done(false)
            throw err
          },
        )
      }
      done(true)
      return result
    }
  }
  return wrapped as S
}
