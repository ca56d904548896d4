/**
 * @module gateway/connection-table
 * Every socket the gateway holds, every handshake still waiting for `$connect`, and the
 * counts the connection caps are checked against (globally and per client address).
 * A handshake counts against the caps from the moment it is admitted, so a burst of
 * concurrent upgrades cannot overshoot a cap while their `$connect` calls are in flight.
 */
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import type { GatewayRefusalReason } from '../http/refusal.ts'
import type { TokenState } from '../limits/token-bucket.ts'
import type { FrameState } from './frame-inspector.ts'
import type { ConnectionIdentity } from './handshake.ts'

/**
 * One established connection and its bookkeeping (mutated by the gateway's parts). A class,
 * so every record has one shape: an idle connection lives for hours, and thousands of them
 * share it. It also carries the frame inspector's state ({@link FrameState}).
 *
 * @example
 * ```ts
 * const conn = new Connection(identity, ws, socket, ipKey, clock.now(), options.messageBurst)
 * table.add(conn)
 * if (conn.state === 'open') conn.lastActiveAt = clock.now()
 * ```
 */
export class Connection implements FrameState, TokenState {
  readonly id: string
  /** Only the identity: the handshake's headers and query are dropped after `$connect`. */
  readonly identity: ConnectionIdentity
  readonly ws: WebSocket
  /** The raw socket under `ws`: pushes write pre-framed buffers to it. */
  readonly socket: Duplex
  /** The client address key the per-IP caps count under. */
  readonly ipKey: string
  /** `open` until a close starts; pushes and `@connections` calls see only `open`. */
  state: 'open' | 'closing' | 'closed' = 'open'
  /** Last data frame in either direction (epoch ms): the idle timer and `lastActiveAt`. */
  lastActiveAt: number
  /** When the outstanding ping was sent; 0 when none is outstanding. */
  pingSentAt = 0
  /** When the last ping was sent (or the connection opened). */
  lastPingAt: number
  /** Set when the gateway started the close: what `$disconnect` reports. */
  closeCode: number | undefined = undefined
  closeReason: string | undefined = undefined
  /** Set when another cluster node already sent this connection's `$disconnect` (reaped). */
  skipDisconnect = false
  /** Messages refused in a row by the rate limit. */
  strikes = 0
  /** Integration calls running for this connection. */
  inFlight = 0
  /** Messages waiting for an integration slot, in arrival order. */
  readonly queue: string[] = []
  /** The inbound message rate's token bucket ({@link TokenState}): tokens left, last refill. */
  tokens: number
  tokensAt: number
  frameStep = 0
  frameFill = 0
  frameAcc = 0
  frameHead = 0
  frameRemaining = 0

  constructor(
    identity: ConnectionIdentity,
    ws: WebSocket,
    socket: Duplex,
    ipKey: string,
    now: number,
    tokens: number,
  ) {
    this.id = identity.connectionId
    this.identity = identity
    this.ws = ws
    this.socket = socket
    this.ipKey = ipKey
    this.lastActiveAt = now
    this.lastPingAt = now
    this.tokens = tokens
    this.tokensAt = now
  }
}

/** Where a socket or a `WebSocket` keeps its connection record, for the shared listeners. */
const CONNECTION = Symbol('gatehouse.connection')

/**
 * Hang `conn` off `target` (its raw socket, its `WebSocket`), so one listener function shared
 * by every connection finds the record from `this` rather than a closure per connection.
 *
 * @example
 * ```ts
 * attachConnection(socket, conn)
 * socket.prependListener('data', inspectData) // inspectData: connectionOf(this)
 * ```
 */
export function attachConnection(target: object, conn: Connection): void {
  ;(target as { [CONNECTION]?: Connection })[CONNECTION] = conn
}

/**
 * The connection record {@link attachConnection} hung off `target`, if any.
 *
 * @example
 * ```ts
 * function onPong(this: WebSocket) { const conn = connectionOf(this); if (conn) conn.pingSentAt = 0 }
 * ```
 */
export function connectionOf(target: object): Connection | undefined {
  return (target as { [CONNECTION]?: Connection })[CONNECTION]
}

/**
 * Why an upgrade is refused before `$connect` runs.
 *
 * @example
 * ```ts
 * const refusal = table.admit(ipKey) // { status: 429, reason: 'max_connections_per_ip' }
 * ```
 */
export interface Refusal {
  readonly status: 429 | 503
  readonly reason: Extract<
    GatewayRefusalReason,
    | 'pending_handshakes'
    | 'pending_handshakes_per_ip'
    | 'max_connections'
    | 'max_connections_per_ip'
  >
}

/**
 * The limits {@link ConnectionTable.admit} enforces.
 *
 * @example
 * ```ts
 * new ConnectionTable({ maxConnections: 1000, maxConnectionsPerIp: 20, maxPendingHandshakes: 256, maxPendingHandshakesPerIp: 16 })
 * ```
 */
export interface TableLimits {
  readonly maxConnections: number
  readonly maxConnectionsPerIp: number
  readonly maxPendingHandshakes: number
  readonly maxPendingHandshakesPerIp: number
}

function bump(map: Map<string, number>, key: string, delta: number): void {
  const next = (map.get(key) ?? 0) + delta
  // Zero entries are removed so a stream of distinct addresses cannot grow the map.
  if (next <= 0) map.delete(key)
  else map.set(key, next)
}

/**
 * The table of connections and pending handshakes.
 *
 * @example
 * ```ts
 * const table = new ConnectionTable(limits)
 * const refusal = table.admit(ipKey)
 * if (refusal) return reject(refusal.status)
 * table.addPending(id, ipKey)
 * ```
 */
export class ConnectionTable {
  readonly #limits: TableLimits
  readonly #open = new Map<string, Connection>()
  readonly #pending = new Map<string, string>()
  readonly #openPerIp = new Map<string, number>()
  readonly #pendingPerIp = new Map<string, number>()

  constructor(limits: TableLimits) {
    this.#limits = limits
  }

  /** `null` when a new handshake from `ipKey` may start, else the status to answer. */
  admit(ipKey: string): Refusal | null {
    const l = this.#limits
    const pendingIp = this.#pendingPerIp.get(ipKey) ?? 0
    const openIp = this.#openPerIp.get(ipKey) ?? 0
    if (this.#pending.size >= l.maxPendingHandshakes) {
      return { status: 503, reason: 'pending_handshakes' }
    }
    if (pendingIp >= l.maxPendingHandshakesPerIp) {
      return { status: 503, reason: 'pending_handshakes_per_ip' }
    }
    if (this.#open.size + this.#pending.size >= l.maxConnections) {
      return { status: 503, reason: 'max_connections' }
    }
    if (openIp + pendingIp >= l.maxConnectionsPerIp) {
      return { status: 429, reason: 'max_connections_per_ip' }
    }
    return null
  }

  addPending(id: string, ipKey: string): void {
    this.#pending.set(id, ipKey)
    bump(this.#pendingPerIp, ipKey, 1)
  }

  /** Forget a pending handshake (answered, failed or upgraded). Idempotent. */
  removePending(id: string): void {
    const ipKey = this.#pending.get(id)
    if (ipKey === undefined) return
    this.#pending.delete(id)
    bump(this.#pendingPerIp, ipKey, -1)
  }

  isPending(id: string): boolean {
    return this.#pending.has(id)
  }

  add(connection: Connection): void {
    this.#open.set(connection.id, connection)
    bump(this.#openPerIp, connection.ipKey, 1)
  }

  /** Forget a connection (closed). Idempotent. */
  remove(connection: Connection): void {
    if (this.#open.get(connection.id) !== connection) return
    this.#open.delete(connection.id)
    bump(this.#openPerIp, connection.ipKey, -1)
  }

  get(id: string): Connection | undefined {
    return this.#open.get(id)
  }

  /** Every connection still in the table (open or closing). */
  values(): IterableIterator<Connection> {
    return this.#open.values()
  }

  get size(): number {
    return this.#open.size
  }

  get pendingSize(): number {
    return this.#pending.size
  }

  /** Distinct client addresses with an open connection or a pending handshake (for tests). */
  get trackedAddresses(): number {
    return new Set([...this.#openPerIp.keys(), ...this.#pendingPerIp.keys()]).size
  }
}
