/**
 * @module store/observed
 * A store whose calls report their latency to the telemetry stream (`type: 'store'`, by
 * method name), for the store latency histogram. Without a subscriber a call costs one
 * extra function call and a flag read: no clock, no event.
 */
import { publish, telemetry } from '../telemetry.ts'
import type { Store } from './store.ts'

/**
 * Wrap every method of `store` (its own and inherited ones, including methods an
 * implementation adds beyond the contract) so each call is timed while someone listens.
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
    wrapped[name] = (...args: unknown[]): unknown => {
      if (!telemetry.hasSubscribers) return fn.apply(store, args)
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
