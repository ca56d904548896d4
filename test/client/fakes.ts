/**
 * Test doubles for the browser client: a manual scheduler, a scriptable WebSocket class and a
 * token endpoint `fetch`. Nothing here waits on real time.
 */
import { randomBytes } from 'node:crypto'
import {
  type ClientEventMap,
  type ClientOptions,
  type ClientTimers,
  type FetchLike,
  GatehouseClient,
  type WebSocketConstructor,
} from '../../src/client/index.ts'

/** Lets pending promise chains (fetch → json → socket) run to completion. */
export async function flush(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r))
}

interface Timer {
  at: number
  seq: number
  fn: () => void
}

/** A scheduler whose clock moves only through `advance`. */
export class FakeTimers implements ClientTimers {
  private t = 1_700_000_000_000
  private seq = 0
  private readonly timers = new Map<number, Timer>()

  now(): number {
    return this.t
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const seq = ++this.seq
    this.timers.set(seq, { at: this.t + Math.max(0, ms), seq, fn })
    return seq
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number)
  }

  /** Timers not yet fired or cleared. */
  get pending(): number {
    return this.timers.size
  }

  /** Milliseconds until the earliest pending timer, or undefined. */
  nextInMs(): number | undefined {
    let next: number | undefined
    for (const t of this.timers.values()) if (next === undefined || t.at < next) next = t.at
    return next === undefined ? undefined : next - this.t
  }

  /** Moves the clock by `ms`, firing due timers in order and settling promises between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms
    await flush()
    for (let i = 0; i < 100_000; i++) {
      let due: Timer | undefined
      for (const t of this.timers.values()) {
        if (
          t.at <= end &&
          (due === undefined || t.at < due.at || (t.at === due.at && t.seq < due.seq))
        ) {
          due = t
        }
      }
      if (due === undefined) break
      this.timers.delete(due.seq)
      this.t = due.at
      due.fn()
      await flush()
    }
    this.t = end
    await flush()
  }
}

type Handler = ((ev: never) => unknown) | null

/** One fake socket, driven by the test. */
export class FakeSocket {
  readyState = 0
  protocol = ''
  onopen: Handler = null
  onmessage: Handler = null
  onclose: Handler = null
  onerror: Handler = null
  readonly url: string
  readonly protocols: string[]
  readonly sent: string[] = []
  readonly closeCalls: { code: number | undefined; reason: string | undefined }[] = []

  constructor(url: string, protocols?: string | string[]) {
    this.url = url
    this.protocols =
      protocols === undefined ? [] : Array.isArray(protocols) ? protocols : [protocols]
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('InvalidStateError')
    this.sent.push(data)
  }

  close(code?: number, reason?: string): void {
    this.closeCalls.push({ code, reason })
    if (this.readyState < 2) this.readyState = 2
  }

  /** The token this socket carried (query or protocol entry). */
  get token(): string | undefined {
    const q = new URL(this.url).searchParams.get('ws_token')
    if (q !== null) return q
    const p = this.protocols.find((x) => x.startsWith('gatehouse.token.'))
    return p?.slice('gatehouse.token.'.length)
  }

  // ---- test drivers ----

  open(protocol = ''): void {
    this.readyState = 1
    this.protocol = protocol
    call(this.onopen, {})
  }

  receive(data: unknown): void {
    call(this.onmessage, { data })
  }

  /** The server (or the network) closes the socket. */
  serverClose(code = 1000, reason = '', wasClean = true): void {
    this.readyState = 3
    call(this.onclose, { code, reason, wasClean })
  }

  /** What a browser reports for a rejected upgrade: error, then close 1006. */
  failToOpen(): void {
    this.readyState = 3
    call(this.onerror, {})
    call(this.onclose, { code: 1006, reason: '', wasClean: false })
  }
}

function call(h: Handler, ev: unknown): void {
  ;(h as ((e: unknown) => unknown) | null)?.(ev)
}

/** A WebSocket class that records every socket it makes. */
export function fakeWebSocket(): { WebSocket: WebSocketConstructor; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = []
  class WS extends FakeSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols)
      sockets.push(this)
    }
  }
  return { WebSocket: WS, sockets }
}

/** One recorded token request. */
export interface TokenCall {
  url: string
  init: RequestInit
  at: number
}

/**
 * A token endpoint: issues a fresh random token per call, or answers what `respond` returns.
 * `respond` may return `undefined` to issue a token as usual.
 */
export function fakeTokenEndpoint(
  timers: FakeTimers,
  respond?: (n: number, call: TokenCall) => Response | Promise<Response> | undefined,
): { fetch: FetchLike; calls: TokenCall[]; issued: string[] } {
  const calls: TokenCall[] = []
  const issued: string[] = []
  const fetch: FetchLike = async (url, init) => {
    const call = { url, init, at: timers.now() }
    calls.push(call)
    const custom = await respond?.(calls.length, call)
    if (custom !== undefined) return custom
    const token = randomBytes(32).toString('base64url')
    issued.push(token)
    return Response.json({ token, expires_in: 60 }, { headers: { 'cache-control': 'no-store' } })
  }
  return { fetch, calls, issued }
}

/** Records every event a client dispatches, in order. */
export function recordEvents<In>(
  client: GatehouseClient<In>,
): { type: keyof ClientEventMap<In>; detail: unknown }[] {
  const log: { type: keyof ClientEventMap<In>; detail: unknown }[] = []
  for (const type of ['state', 'open', 'message', 'close', 'error', 'failed'] as const) {
    client.on(type, (detail) => log.push({ type, detail }))
  }
  return log
}

/** A deterministic uniform source (mulberry32), for reproducible jitter. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A client wired to fakes: fake timers, fake sockets, fake token endpoint, seeded jitter. */
export function setupClient<In = unknown>(
  options: Partial<ClientOptions> = {},
  respond?: (n: number, call: TokenCall) => Response | Promise<Response> | undefined,
) {
  const timers = new FakeTimers()
  const ws = fakeWebSocket()
  const endpoint = fakeTokenEndpoint(timers, respond)
  const client = new GatehouseClient<In>({
    url: 'ws://127.0.0.1:3001/',
    WebSocket: ws.WebSocket,
    fetch: endpoint.fetch,
    timers,
    random: seededRandom(1),
    getCookie: (name) => (name === 'csrftoken' ? 'csrf-1' : undefined),
    ...options,
  })
  const events = recordEvents(client)
  const of = <K extends keyof ClientEventMap<In>>(type: K) =>
    events.filter((e) => e.type === type).map((e) => e.detail as ClientEventMap<In>[K])
  return { timers, sockets: ws.sockets, endpoint, client, events, of }
}
