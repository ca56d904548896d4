/**
 * @module examples/chat/test-hooks
 * Counters for the end-to-end tests, served only when `GATEHOUSE_DEMO_TEST=1`:
 * tokens issued per user, every `$connect` with its answer, and how many connect attempts
 * presented a token already presented before (the client must never do that). Tokens are
 * kept only as SHA-256 hashes, as everywhere else.
 */
import { createHash } from 'node:crypto'
import { GatehouseError, type GatewayEvent, type GatewayResponse, type Store } from 'gatehouse'

/** One `$connect` as the tests see it. */
export interface ConnectRecord {
  readonly user: string | null
  readonly status: number
  readonly channel: string | null
}

/** What `GET /__test/stats` answers. */
export interface TestSnapshot {
  readonly tokensIssued: Readonly<Record<string, number>>
  readonly connects: readonly ConnectRecord[]
  /** Connect attempts whose token had been presented before. */
  readonly tokensPresentedTwice: number
  /** Gateway restarts done through `/__test/restart-gateway`. */
  readonly gatewayRestarts: number
}

/** The counters. */
export interface TestCounters {
  /** A token endpoint answer for `user` (null: not logged in). */
  tokenAnswer(user: string | null, status: number): void
  /** An event the gateway passed to the app and the app's answer. */
  event(event: GatewayEvent, response: GatewayResponse, user: string | null): void
  restarted(): void
  snapshot(): TestSnapshot
}

/** Bound on remembered token hashes and connect records (tests make a few dozen). */
const MAX_RECORDS = 10_000

/**
 * Create the counters.
 *
 * @example
 * ```ts
 * const counters = createTestCounters()
 * counters.tokenAnswer('alice', 200)
 * counters.snapshot().tokensIssued.alice // 1
 * ```
 */
export function createTestCounters(): TestCounters {
  const issued = new Map<string, number>()
  const connects: ConnectRecord[] = []
  const seen = new Set<string>()
  let twice = 0
  let restarts = 0
  return {
    tokenAnswer(user, status) {
      if (status === 200 && user !== null) issued.set(user, (issued.get(user) ?? 0) + 1)
    },
    event(event, response, user) {
      if (event.eventType !== 'CONNECT' || connects.length >= MAX_RECORDS) return
      const token = event.query.ws_token
      if (token !== undefined) {
        const hash = createHash('sha256').update(token).digest('hex')
        if (seen.has(hash)) twice += 1
        else seen.add(hash)
      }
      connects.push({ user, status: response.status, channel: event.query.channel ?? null })
    },
    restarted() {
      restarts += 1
    },
    snapshot: () => ({
      tokensIssued: Object.fromEntries(issued),
      connects: [...connects],
      tokensPresentedTwice: twice,
      gatewayRestarts: restarts,
    }),
  }
}

/** A switch that makes the Gatehouse store fail like an unreachable backend (tests only). */
export interface StoreOutage {
  /** The store to give the app: the real one, unless the switch is down. */
  readonly store: Store
  setDown(down: boolean): void
}

/**
 * Wrap `inner` so `POST /__test/store-outage` can take it down: every call then rejects with
 * `ERR_STORE_UNAVAILABLE`, as a lost PostgreSQL or Redis would.
 *
 * @example
 * ```ts
 * const outage = createStoreOutage(store)
 * outage.setDown(true) // the app answers 503 from now on
 * ```
 */
export function createStoreOutage(inner: Store): StoreOutage {
  let down = false
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function' || prop === 'close') return value
      return (...args: unknown[]) =>
        down
          ? Promise.reject(new GatehouseError('ERR_STORE_UNAVAILABLE', 'test: store down'))
          : (value as (...a: unknown[]) => unknown).apply(target, args)
    },
  })
  return {
    store,
    setDown(value) {
      down = value
    },
  }
}
