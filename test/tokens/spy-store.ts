/**
 * A Store wrapper for tests: records every call (method and arguments) made to the wrapped
 * store, and can be told to fail like an unreachable backend.
 */
import { GatehouseError } from '../../src/errors.ts'
import type { Store } from '../../src/store/store.ts'

export interface StoreCall {
  readonly method: keyof Store
  readonly args: readonly unknown[]
}

export interface SpyStore {
  readonly store: Store
  readonly calls: StoreCall[]
  /** When true, every call rejects with ERR_STORE_UNAVAILABLE. */
  down: boolean
}

export function spyStore(inner: Store): SpyStore {
  const spy: SpyStore = { store: inner, calls: [], down: false }
  const wrapped = {} as Record<keyof Store, unknown>
  for (const method of Object.keys(inner) as (keyof Store)[]) {
    if (typeof inner[method] !== 'function') {
      wrapped[method] = inner[method] // `shared`: a fact, not a call
      continue
    }
    const fn = inner[method] as (...args: unknown[]) => Promise<unknown>
    wrapped[method] = (...args: unknown[]) => {
      spy.calls.push({ method, args })
      if (spy.down) {
        return Promise.reject(new GatehouseError('ERR_STORE_UNAVAILABLE', 'test: store down'))
      }
      return fn.apply(inner, args)
    }
  }
  ;(spy as { store: Store }).store = wrapped as unknown as Store
  return spy
}
