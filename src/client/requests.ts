/**
 * @module client/requests
 * Requests in flight: an id each, matched to the reply that carries it back. Ids are an
 * instance prefix (random) and a counter that never restarts, so they never collide across
 * reconnects, nor with another client's. One sweep timer per client, set for the earliest
 * deadline, ends the ones that time out: no timer per request.
 */
import { GatehouseError } from '../errors.ts'
import type { ClientTimers, WebSocketLike } from './types.ts'

interface Pending {
  readonly resolve: (value: unknown) => void
  readonly reject: (err: GatehouseError) => void
  readonly deadline: number
  /** The socket the request went out on; `undefined` while it waits in the send queue. */
  ws: WebSocketLike | undefined
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'

function randomPrefix(random: () => number): string {
  const bytes = new Uint8Array(10)
  const crypto = (globalThis as { crypto?: { getRandomValues?(a: Uint8Array): Uint8Array } }).crypto
  if (typeof crypto?.getRandomValues === 'function') crypto.getRandomValues(bytes)
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256)
  let out = ''
  for (const b of bytes) out += ID_ALPHABET[b % ID_ALPHABET.length]
  return out
}

/**
 * The requests of one client.
 *
 * @example
 * ```ts
 * const requests = new RequestTable(timers, Math.random)
 * const { id, promise } = requests.add(5000)
 * requests.settle({ type: 'reply', rid: id, data: 1 }) // true; promise resolves with 1
 * ```
 */
export class RequestTable {
  private readonly timers: ClientTimers
  private readonly prefix: string
  private seq = 0
  private readonly pending = new Map<string, Pending>()
  private sweepTimer: unknown
  private sweepAt = Number.POSITIVE_INFINITY

  constructor(timers: ClientTimers, random: () => number) {
    this.timers = timers
    this.prefix = randomPrefix(random)
  }

  /** Requests waiting for a reply. */
  get size(): number {
    return this.pending.size
  }

  /** A new request id and its promise; it times out after `timeoutMs`. */
  add(timeoutMs: number): { id: string; promise: Promise<unknown> } {
    const id = `${this.prefix}-${(++this.seq).toString(36)}`
    const deadline = this.timers.now() + timeoutMs
    const promise = new Promise<unknown>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, deadline, ws: undefined })
    })
    if (deadline < this.sweepAt) this.scheduleSweep(deadline)
    return { id, promise }
  }

  /** Records the socket a request was written to (so its close ends the request). */
  sentOn(id: string, ws: WebSocketLike): void {
    const p = this.pending.get(id)
    if (p !== undefined) p.ws = ws
  }

  /** Every queued request has just gone out on `ws` (the queue drains when a socket opens). */
  queuedSentOn(ws: WebSocketLike): void {
    for (const p of this.pending.values()) if (p.ws === undefined) p.ws = ws
  }

  /**
   * Settles the request a message answers. True when the message is a reply to this client
   * (its id has this client's prefix), whether or not the request is still waiting: a late
   * reply to a request that timed out is dropped, not handed out as a message.
   */
  settle(message: unknown): boolean {
    if (typeof message !== 'object' || message === null) return false
    const { rid, type } = message as { rid?: unknown; type?: unknown }
    if (typeof rid !== 'string' || !rid.startsWith(`${this.prefix}-`)) return false
    const p = this.pending.get(rid)
    if (p === undefined) return true
    if (type === 'reply') {
      this.finish(rid, p)
      p.resolve((message as { data?: unknown }).data)
    } else if (type === 'error') {
      const text = (message as { message?: unknown }).message
      this.finish(rid, p)
      p.reject(
        new GatehouseError(
          'ERR_REQUEST_REJECTED',
          `request refused: ${typeof text === 'string' ? text : 'error'}`,
          { cause: Object.freeze({ ...message }) },
        ),
      )
    } else return false
    return true
  }

  /** Ends one request with `err` (e.g. its message could not be queued). */
  fail(id: string, err: GatehouseError): void {
    const p = this.pending.get(id)
    if (p === undefined) return
    this.finish(id, p)
    p.reject(err)
  }

  /** Ends the requests that went out on `ws` (it closed): their replies can never come. */
  disconnected(ws: WebSocketLike): void {
    for (const [id, p] of this.pending) {
      if (p.ws === ws) this.fail(id, disconnectError())
    }
  }

  /** Ends every request (the client closed or failed). */
  failAll(): void {
    for (const id of [...this.pending.keys()]) this.fail(id, disconnectError())
  }

  private finish(id: string, _p: Pending): void {
    this.pending.delete(id)
    if (this.pending.size === 0) this.clearSweep()
  }

  private scheduleSweep(at: number): void {
    this.clearSweep()
    this.sweepAt = at
    this.sweepTimer = this.timers.setTimeout(
      () => {
        this.sweepTimer = undefined
        this.sweepAt = Number.POSITIVE_INFINITY
        this.sweep()
      },
      Math.max(0, at - this.timers.now()),
    )
  }

  private clearSweep(): void {
    if (this.sweepTimer !== undefined) this.timers.clearTimeout(this.sweepTimer)
    this.sweepTimer = undefined
    this.sweepAt = Number.POSITIVE_INFINITY
  }

  private sweep(): void {
    const now = this.timers.now()
    let next = Number.POSITIVE_INFINITY
    for (const [id, p] of this.pending) {
      if (p.deadline <= now) {
        this.fail(id, new GatehouseError('ERR_REQUEST_TIMEOUT', 'request timed out'))
      } else if (p.deadline < next) next = p.deadline
    }
    if (next !== Number.POSITIVE_INFINITY && this.pending.size > 0) this.scheduleSweep(next)
  }
}

function disconnectError(): GatehouseError {
  return new GatehouseError(
    'ERR_REQUEST_DISCONNECTED',
    'the connection closed before the reply arrived',
  )
}
