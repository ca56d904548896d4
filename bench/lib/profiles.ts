/**
 * @module bench/lib/profiles
 * Sizes of each run mode. `full` is the reference (about 10 minutes on 2 cores), `quick`
 * keeps every scenario at a smaller scale (about 1 minute), `smoke` only proves the harness runs.
 */

/** The sizes of one mode. Every loop of the bench is bounded by these. */
export interface Profile {
  readonly name: 'smoke' | 'quick' | 'full'
  /** Times each scenario runs on a fresh server; figures are the median run. */
  readonly repeats: number
  /** Wall-clock budget of the whole run: once spent, remaining runs are skipped (and said so). */
  readonly budgetMs: number
  readonly connect: { connections: number; concurrency: number; deadlineMs: number }
  /** Memory and fan-out share one crowd of connections. */
  readonly crowd: {
    connections: number
    concurrency: number
    broadcasts: number
    broadcastWindow: number
    settleMs: number
    deadlineMs: number
  }
  readonly roundtrip: { connections: number; messages: number; deadlineMs: number }
  readonly messages: { connections: number; window: number; messages: number; deadlineMs: number }
  /** Clients opened and closed before each connect or crowd job, unmeasured. */
  readonly warmupConnections: number
  /** Sessions tokens are spread over (systems with sessions). */
  readonly sessions: number
  /** Distinct 127.0.0.x source addresses for client sockets. */
  readonly sourceAddresses: number
}

/**
 * Every mode by name.
 *
 * @example
 * ```ts
 * const { crowd } = PROFILES.quick // 2 000 sockets, 20 broadcasts
 * ```
 */
export const PROFILES: Readonly<Record<Profile['name'], Profile>> = {
  smoke: {
    name: 'smoke',
    repeats: 1,
    budgetMs: 100_000,
    connect: { connections: 20, concurrency: 4, deadlineMs: 15_000 },
    crowd: {
      connections: 20,
      concurrency: 4,
      broadcasts: 3,
      broadcastWindow: 1,
      settleMs: 50,
      deadlineMs: 15_000,
    },
    roundtrip: { connections: 4, messages: 100, deadlineMs: 15_000 },
    messages: { connections: 4, window: 4, messages: 200, deadlineMs: 15_000 },
    warmupConnections: 4,
    sessions: 2,
    sourceAddresses: 2,
  },
  quick: {
    name: 'quick',
    repeats: 1,
    budgetMs: 150_000,
    connect: { connections: 1000, concurrency: 32, deadlineMs: 20_000 },
    crowd: {
      connections: 2000,
      concurrency: 64,
      broadcasts: 20,
      broadcastWindow: 2,
      settleMs: 500,
      deadlineMs: 30_000,
    },
    roundtrip: { connections: 32, messages: 3000, deadlineMs: 15_000 },
    messages: { connections: 32, window: 8, messages: 10_000, deadlineMs: 15_000 },
    warmupConnections: 100,
    sessions: 16,
    sourceAddresses: 8,
  },
  full: {
    name: 'full',
    repeats: 3,
    budgetMs: 1_200_000,
    connect: { connections: 5000, concurrency: 64, deadlineMs: 60_000 },
    crowd: {
      connections: 5000,
      concurrency: 64,
      broadcasts: 40,
      broadcastWindow: 2,
      settleMs: 2000,
      deadlineMs: 90_000,
    },
    roundtrip: { connections: 64, messages: 20_000, deadlineMs: 45_000 },
    messages: { connections: 64, window: 16, messages: 40_000, deadlineMs: 60_000 },
    warmupConnections: 200,
    sessions: 64,
    sourceAddresses: 16,
  },
}
