/**
 * @module bench/lib/protocol
 * What a bench server tells the harness when it is ready, and the jobs a load generator runs.
 * Servers print one {@link ReadyLine} as JSON on stdout; load generators receive one
 * {@link LoadJob} as JSON in argv and print one result object as JSON on stdout.
 */

/** The client protocol a system speaks: plain WebSocket frames, or Socket.IO over WebSocket. */
export type ClientKind = 'ws' | 'socketio'

/** The scenarios of the bench, in run order. */
export const SCENARIOS = ['connect', 'memory', 'fanout', 'roundtrip', 'messages'] as const

/** One scenario id. */
export type Scenario = (typeof SCENARIOS)[number]

/** The systems the bench compares, in run order. */
export const SYSTEMS = ['ws', 'socketio', 'gatehouse', 'gatehouse-http'] as const

/** Diagnostic systems, run only when named in `--only`. */
export const DIAGNOSTIC_SYSTEMS = ['gateway-bare', 'gatehouse-memory', 'gatehouse-metrics'] as const

/** Systems that run another system's server with arguments. */
export const SERVER_OF: Readonly<Record<string, { script: string; args: readonly string[] }>> = {
  'gatehouse-memory': { script: 'gatehouse', args: ['--store=memory'] },
  'gatehouse-metrics': { script: 'gatehouse', args: ['--metrics'] },
}

/** One system id. */
export type SystemId = (typeof SYSTEMS)[number] | (typeof DIAGNOSTIC_SYSTEMS)[number]

/**
 * What a server prints on stdout when it listens.
 *
 * @example
 * ```ts
 * console.log(JSON.stringify({ ready: true, kind: 'ws', tokenUrl, wsUrl, controlUrl }))
 * ```
 */
export interface ReadyLine {
  readonly ready: true
  readonly kind: ClientKind
  /** `POST` here returns `{"token": "..."}`. */
  readonly tokenUrl: string
  /** Where clients connect; the token and channel travel as `ws_token` / `channel` (or Socket.IO auth). */
  readonly wsUrl: string
  /** The bench control channel (memory, CPU, broadcast); never part of what is measured. */
  readonly controlUrl: string
  /**
   * When true, clients hold a session cookie (`sid`) and a CSRF double-submit cookie plus
   * header, as a logged-in browser does, and present the session cookie at connect.
   */
  readonly sessions?: boolean
  /** `Origin` to send on token issue and connect, when the system checks it. */
  readonly origin?: string
  /** Extra processes whose memory belongs to this system (e.g. a separate app). */
  readonly pids?: readonly number[]
}

/** Sizes of one load job. Every loop in a load generator is bounded by these and `deadlineMs`. */
export interface LoadJob {
  readonly scenario: 'connect' | 'crowd' | 'roundtrip' | 'messages'
  /** The system under load (names profile files). */
  readonly system: string
  readonly ready: ReadyLine
  /** Source addresses to spread client sockets over (127.0.0.x). */
  readonly localAddresses: readonly string[]
  /** Sessions to spread tokens over when the system uses sessions. */
  readonly sessions: number
  /** Connections to open. */
  readonly connections: number
  /** Clients to open and close first, unmeasured (compilation, pools). */
  readonly warmupConnections?: number
  /** Connects (or token issues) in flight at once. */
  readonly concurrency: number
  /** crowd: measure memory before and after connecting. */
  readonly memory?: boolean
  /** crowd: broadcasts to send (0: no fan-out). */
  readonly broadcasts?: number
  /** crowd: broadcasts in flight at once. */
  readonly broadcastWindow?: number
  /** Profile the server during the measured phase; the `.cpuprofile` lands in this directory. */
  readonly profileDir?: string
  /** crowd: write a server heap snapshot into this directory after reading memory. */
  readonly heapSnapshotDir?: string
  /** crowd: wait this long after the last connect before reading memory. */
  readonly settleMs?: number
  /** roundtrip/messages: total messages. */
  readonly messages?: number
  /** roundtrip/messages: messages in flight per connection. */
  readonly window?: number
  /** Hard stop for the whole job. */
  readonly deadlineMs: number
}

/** Percentiles in milliseconds. */
export interface LatencyMs {
  readonly count: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  readonly mean: number
}

/** Memory of the server process(es), bytes, read after `global.gc()`. */
export interface MemorySample {
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly external: number
  readonly arrayBuffers: number
}

/** CPU time of the server process(es), microseconds. */
export interface CpuSample {
  readonly userUs: number
  readonly systemUs: number
}
