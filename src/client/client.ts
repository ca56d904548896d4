/**
 * @module client/client
 * The browser client: one fresh token per connection attempt, jittered backoff, explicit
 * states, a bounded send queue, and an optional keep-alive.
 */
import { GatehouseError, isGatehouseError } from '../errors.ts'
import { backoffDelayMs } from './backoff.ts'
import { HistoryTracker } from './history.ts'
import { checkChannel, type ResolvedOptions, resolveOptions } from './options.ts'
import { SendQueue, utf8Length } from './queue.ts'
import { RequestTable } from './requests.ts'
import { requestToken, TOKEN_PATTERN, type TokenOutcome } from './token.ts'
import type {
  BodyOf,
  ClientEventMap,
  ClientOptions,
  ClientState,
  ErrorDetail,
  FailedDetail,
  OutgoingMap,
  ReplyOf,
  WebSocketLike,
} from './types.ts'
import { resolveSocketUrl, socketTarget } from './url.ts'
import { watchWake } from './wake.ts'

const OPEN = 1
/** Used tokens remembered to catch a repeat (they are spent, so keeping them risks nothing). */
const RECENT_TOKENS = 16

interface SocketClose {
  code: number
  reason: string
  wasClean: boolean
}

/**
 * A WebSocket client for a Gatehouse app, behind the bundled gateway or AWS API Gateway.
 *
 * Before every connection attempt it POSTs to the token endpoint (session cookie plus CSRF
 * header) for a new single-use token; a token is never sent twice. Lost connections come back
 * after a jittered, growing delay that starts over only once a connection has stayed up
 * `minUptimeMs`. A 401/403 from the token endpoint means the session is gone: the client stops
 * (`failed`) instead of retrying forever. Behind AWS a browser sees a rejected connect only as
 * close code 1006, so the token endpoint is the one reliable "you are logged out" signal.
 *
 * Events are `CustomEvent`s; use `on()` for typed listeners or `addEventListener`.
 *
 * @typeParam In - the messages the server sends (parsed JSON)
 * @typeParam Out - outgoing payloads by action name, or the app's handler map
 *   (`typeof handlers`): bodies then follow the handlers' schemas, and `request()` resolves
 *   with each handler's reply type
 *
 * @example
 * ```ts
 * import { GatehouseClient } from 'gatehouse/client'
 *
 * type In = { type: 'chat_message'; user: string; text: string } | { type: 'error'; message: string }
 * type Out = { send_message: { text: string }; change_channel: { channel: string } }
 *
 * const chat = new GatehouseClient<In, Out>({ url: 'ws://127.0.0.1:3001/', channel: 'lobby' })
 * chat.on('message', (msg) => { if (msg.type === 'chat_message') show(msg.user, msg.text) })
 * chat.on('failed', ({ reason }) => { if (reason === 'auth') location.assign('/login') })
 * chat.connect()
 * chat.send('send_message', { text: 'hi' })
 * ```
 */
export class GatehouseClient<In = unknown, Out extends object = OutgoingMap> extends EventTarget {
  private readonly o: ResolvedOptions
  private readonly queue: SendQueue
  private readonly requests: RequestTable
  /** Positions in channel histories, and the recovery after a reconnect. */
  private readonly history = new HistoryTracker()
  /** The channel whose position the current socket presented at connect. */
  private presented: string | undefined
  private recoveryTimer: unknown
  private st: ClientState = 'idle'
  private chan: string | undefined
  private ws: WebSocketLike | undefined
  /** Bumped by every transition; async work started under an older value is void. */
  private gen = 0
  /** Failed attempts since the last connection that stayed up `minUptimeMs`. */
  private attempt = 0
  /** The reconnect delay or the connect deadline (never both). */
  private timer: unknown
  private keepAliveTimer: unknown
  private abort: AbortController | undefined
  private openedAt = 0
  private lastSentAt = 0
  /** Until when a server's `Retry-After` holds the next attempt back (a wake-up too). */
  private notBefore = 0
  /** Removes the `online` / `visibilitychange` listeners; set while the client is started. */
  private stopWatching: (() => void) | undefined
  /** The last few tokens used, only to refuse a `getToken` that hands one out twice. */
  private recentTokens: string[] = []

  /** Checks the options (throws `ERR_INVALID_OPTION`); does not connect yet. */
  constructor(options: ClientOptions) {
    super()
    this.o = resolveOptions(options)
    this.chan = this.o.channel
    this.queue = new SendQueue(this.o.maxQueuedMessages, this.o.maxQueuedBytes)
    this.requests = new RequestTable(this.o.timers, this.o.random)
  }

  /** The current state. */
  get state(): ClientState {
    return this.st
  }

  /** Messages waiting for an open socket. */
  get queued(): number {
    return this.queue.length
  }

  /** The channel the next connection attempt joins. */
  get channel(): string | undefined {
    return this.chan
  }

  /** Sets the channel for later attempts (throws `ERR_INVALID_OPTION` on a bad name). */
  set channel(name: string | undefined) {
    if (name !== undefined) checkChannel(name)
    this.chan = name
  }

  /**
   * Starts connecting. Does nothing while connecting, open or reconnecting; after `close()` or
   * `failed` it starts over with a fresh backoff.
   */
  connect(): this {
    if (this.st === 'connecting' || this.st === 'open' || this.st === 'reconnecting') return this
    this.attempt = 0
    if (this.o.reconnectOnWake && this.stopWatching === undefined) {
      this.stopWatching = watchWake(this.o.environment, () => this.onWake())
    }
    this.startAttempt()
    return this
  }

  /**
   * Closes the socket and stops reconnecting; queued messages are dropped and no timer is
   * left behind. Emits `close` with the given code and reason, then state `closed`.
   * `code` must be 1000 or 3000–4999 and `reason` at most 123 UTF-8 bytes, as for `WebSocket`.
   */
  close(code = 1000, reason = ''): void {
    if (code !== 1000 && !(Number.isInteger(code) && code >= 3000 && code <= 4999)) {
      throw new GatehouseError('ERR_INVALID_OPTION', 'close code must be 1000 or 3000-4999')
    }
    if (typeof reason !== 'string' || utf8Length(reason) > 123) {
      throw new GatehouseError('ERR_INVALID_OPTION', 'close reason must be at most 123 bytes')
    }
    if (this.st === 'closed') return
    const ws = this.stopAll()
    if (ws !== undefined) {
      const wasOpen = ws.readyState === OPEN
      try {
        if (wasOpen) ws.close(code, reason)
        else ws.close()
      } catch {
        // Closing a socket that is already closing is not an error worth reporting.
      }
      if (wasOpen) this.emit('close', { code, reason, wasClean: true, willReconnect: false })
    }
    this.unwatch()
    this.setState('closed')
  }

  /**
   * Sends `{ ...payload, action }` as one JSON text frame. While not open, the message waits in
   * a bounded queue and goes out, in order, as soon as a socket opens. Returns false (and emits
   * `error`) when the message is refused: queue full, too large, or the client closed/failed.
   * Delivery is at most once: a message on a socket that then drops is not resent.
   */
  send<A extends keyof Out & string>(action: A, payload?: BodyOf<Out[A]>): boolean {
    if (typeof action !== 'string' || action === '') {
      throw new GatehouseError('ERR_INVALID_OPTION', 'send: action must be a non-empty string')
    }
    if (
      payload !== undefined &&
      (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    ) {
      throw new GatehouseError('ERR_INVALID_OPTION', 'send: payload must be a plain object')
    }
    if (this.st === 'closed' || this.st === 'failed') {
      this.emitError({ reason: 'not-connected', message: `send while ${this.st}` })
      return false
    }
    // `action` last, so a payload cannot override the route.
    const data = JSON.stringify({ ...payload, action })
    const size = utf8Length(data)
    if (size > this.o.maxMessageBytes) {
      this.emitError({ reason: 'message-too-large', message: `message of ${size} bytes refused` })
      return false
    }
    const ws = this.ws
    if (this.st === 'open' && ws !== undefined && ws.readyState === OPEN) {
      this.write(ws, data)
      return true
    }
    if (!this.queue.push(data, size)) {
      this.emitError({ reason: 'queue-full', message: 'send queue full; message refused' })
      return false
    }
    return true
  }

  /**
   * Sends `{ ...payload, action, rid }` and resolves with the handler's reply: the app answers
   * a message that carries a request id with `{"type":"reply","rid":…,"data":…}` (the route
   * response, behind AWS and the bundled gateway alike), and `data` is what this resolves
   * with. Like `send`, it waits in the queue while no socket is open.
   *
   * Rejects with a `GatehouseError`: `ERR_REQUEST_TIMEOUT` after `timeoutMs` (default
   * `requestTimeoutMs`); `ERR_REQUEST_REJECTED` on the app's error reply (its body is the
   * error's `cause`, e.g. `{ type: 'error', message: 'Bad Request', paths: ['text'], rid }`);
   * `ERR_REQUEST_DISCONNECTED` when the socket it went out on closes first, or the client is
   * closed or failed (a request is never resent: the handler may have run);
   * `ERR_MESSAGE_TOO_LARGE` over `maxMessageBytes`. It settles once.
   *
   * @example
   * ```ts
   * const reply = await client.request('send_message', { text: 'hi' }, { timeoutMs: 5000 })
   * ```
   */
  request<A extends keyof Out & string>(
    action: A,
    payload?: BodyOf<Out[A]>,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<ReplyOf<Out[A]>> {
    if (typeof action !== 'string' || action === '') {
      throw new GatehouseError('ERR_INVALID_OPTION', 'request: action must be a non-empty string')
    }
    if (
      payload !== undefined &&
      (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    ) {
      throw new GatehouseError('ERR_INVALID_OPTION', 'request: payload must be a plain object')
    }
    const timeoutMs = options.timeoutMs ?? this.o.requestTimeoutMs
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      throw new GatehouseError('ERR_INVALID_OPTION', 'request: timeoutMs must be a positive number')
    }
    if (this.st === 'closed' || this.st === 'failed') {
      return Promise.reject(
        new GatehouseError('ERR_REQUEST_DISCONNECTED', `request while ${this.st}`),
      )
    }
    const { id, promise } = this.requests.add(timeoutMs)
    // `action` and `rid` last, so a payload can override neither.
    const data = JSON.stringify({ ...payload, action, rid: id })
    const size = utf8Length(data)
    const ws = this.ws
    if (size > this.o.maxMessageBytes) {
      this.requests.fail(
        id,
        new GatehouseError('ERR_MESSAGE_TOO_LARGE', `message of ${size} bytes refused`),
      )
    } else if (this.st === 'open' && ws !== undefined && ws.readyState === OPEN) {
      this.requests.sentOn(id, ws)
      this.write(ws, data)
    } else if (!this.queue.push(data, size)) {
      this.requests.fail(
        id,
        new GatehouseError('ERR_REQUEST_DISCONNECTED', 'not connected and the send queue is full'),
      )
    }
    return promise as Promise<ReplyOf<Out[A]>>
  }

  /** Requests waiting for their reply. */
  get pendingRequests(): number {
    return this.requests.size
  }

  /**
   * Adds a typed listener; returns a function that removes it.
   *
   * @example
   * ```ts
   * const off = client.on('state', ({ state }) => console.log(state))
   * off()
   * ```
   */
  on<K extends keyof ClientEventMap<In>>(
    type: K,
    listener: (detail: ClientEventMap<In>[K]) => void,
  ): () => void {
    const wrapped = (ev: Event) => listener((ev as CustomEvent<ClientEventMap<In>[K]>).detail)
    this.addEventListener(type, wrapped)
    return () => this.removeEventListener(type, wrapped)
  }

  // ---- connection attempts -------------------------------------------------------------

  private startAttempt(): void {
    const gen = ++this.gen
    this.clearTimer()
    const abort = new AbortController()
    this.abort = abort
    // One deadline for the whole attempt: token request and opening handshake.
    this.timer = this.o.timers.setTimeout(() => this.onDeadline(gen), this.o.connectTimeoutMs)
    this.setState('connecting')
    if (gen === this.gen) void this.runAttempt(gen, abort.signal)
  }

  private async runAttempt(gen: number, signal: AbortSignal): Promise<void> {
    let base: string
    try {
      const url = this.o.url
      const raw = typeof url === 'function' ? await url() : url
      base = resolveSocketUrl(raw, (globalThis as { location?: { href?: string } }).location?.href)
    } catch (cause) {
      if (gen !== this.gen) return
      this.emitError({ reason: 'socket', message: 'could not resolve the WebSocket URL', cause })
      if (gen === this.gen) this.retry()
      return
    }
    if (gen !== this.gen) return

    const out = await this.obtainToken(signal)
    if (gen !== this.gen) return
    if (out.kind === 'auth') {
      const detail: FailedDetail = { reason: 'auth' }
      if (out.status !== undefined) detail.status = out.status
      this.fail(detail)
      return
    }
    if (out.kind === 'retry') {
      const detail: ErrorDetail = { reason: 'token', message: 'token request failed' }
      if (out.status !== undefined) detail.status = out.status
      if (out.cause !== undefined) detail.cause = out.cause
      this.emitError(detail)
      if (gen === this.gen) this.retry(out.retryAfterMs)
      return
    }
    if (this.recentTokens.includes(out.token)) {
      // A token is single-use; sending one twice would only be refused, and a getToken that
      // caches is a bug worth surfacing.
      this.emitError({ reason: 'token', message: 'the same token was issued twice; not used' })
      if (gen === this.gen) this.retry()
      return
    }
    this.recentTokens.push(out.token)
    if (this.recentTokens.length > RECENT_TOKENS) this.recentTokens.shift()

    const point =
      this.o.recover && this.chan !== undefined ? this.history.point(this.chan) : undefined
    this.presented = point === undefined ? undefined : this.chan
    const target = socketTarget(base, out.token, this.chan, this.o.tokenTransport, point)
    let ws: WebSocketLike
    try {
      ws =
        target.protocols.length > 0
          ? new this.o.WebSocket(target.url, target.protocols)
          : new this.o.WebSocket(target.url)
    } catch (cause) {
      this.emitError({ reason: 'socket', message: 'could not create the WebSocket', cause })
      if (gen === this.gen) this.retry()
      return
    }
    this.ws = ws
    ws.onopen = () => {
      if (this.ws === ws) this.onOpen(ws)
    }
    ws.onmessage = (ev: { data: unknown }) => {
      if (this.ws === ws) this.onMessage(ev.data)
    }
    ws.onerror = () => {
      if (this.ws === ws) this.emitError({ reason: 'socket', message: 'WebSocket error' })
    }
    ws.onclose = (ev: SocketClose) => {
      if (this.ws === ws) this.onSocketClose(ev)
    }
  }

  private async obtainToken(signal: AbortSignal): Promise<TokenOutcome> {
    const getToken = this.o.getToken
    if (getToken === undefined) {
      return requestToken({
        url: this.o.tokenUrl,
        fetch: this.o.fetch,
        csrfHeaderName: this.o.csrfHeaderName,
        csrfToken: this.o.getCookie(this.o.csrfCookieName),
        signal,
        now: this.o.timers.now(),
      })
    }
    try {
      const token = await getToken({ signal })
      if (typeof token === 'string' && TOKEN_PATTERN.test(token)) return { kind: 'token', token }
      return { kind: 'retry', cause: new TypeError('getToken returned a malformed token') }
    } catch (cause) {
      if (isGatehouseError(cause, 'ERR_AUTH_FAILED')) return { kind: 'auth' }
      return { kind: 'retry', cause }
    }
  }

  private onDeadline(gen: number): void {
    if (gen !== this.gen) return
    this.timer = undefined
    this.dropSocket()
    this.emitError({ reason: 'connect-timeout', message: 'connection attempt timed out' })
    if (gen === this.gen) this.retry()
  }

  private onOpen(ws: WebSocketLike): void {
    this.clearTimer()
    this.abort = undefined
    const now = this.o.timers.now()
    this.openedAt = now
    this.lastSentAt = now
    // The recovery request first: the app pushes what this client missed, then a notice;
    // until it arrives, this channel's history messages are held back (see ./history.ts).
    const presented = this.presented
    const point = presented === undefined ? undefined : this.history.point(presented)
    if (presented !== undefined && point !== undefined) {
      this.history.begin(presented)
      this.write(
        ws,
        JSON.stringify({ action: '$recover', since: point.offset, epoch: point.epoch }),
      )
      this.recoveryTimer = this.o.timers.setTimeout(() => {
        this.recoveryTimer = undefined
        this.deliver(this.history.abort())
      }, this.o.recoveryTimeoutMs)
    }
    // Queued messages first, so anything sent from a `state` or `open` listener follows them.
    for (const data of this.queue.drain()) this.write(ws, data)
    this.requests.queuedSentOn(ws)
    const gen = this.gen
    this.setState('open')
    if (gen !== this.gen) return
    this.emit('open', { protocol: ws.protocol })
    if (gen !== this.gen) return
    if (this.o.keepAliveMs > 0) this.scheduleKeepAlive(this.o.keepAliveMs)
  }

  private onMessage(data: unknown): void {
    if (typeof data !== 'string') {
      this.emitError({ reason: 'bad-message', message: 'non-text frame dropped' })
      return
    }
    let value: unknown
    try {
      value = JSON.parse(data)
    } catch (cause) {
      this.emitError({ reason: 'bad-message', message: 'non-JSON frame dropped', cause })
      return
    }
    // A reply to one of this client's requests settles it and is not a `message`.
    if (this.requests.settle(value)) return
    if (!this.o.recover) {
      this.emit('message', value as In)
      return
    }
    const { deliver, recovered } = this.history.accept(value)
    if (recovered !== undefined) this.stopRecoveryTimer()
    this.deliver(deliver)
    if (recovered !== undefined) this.emit('recovered', recovered)
  }

  private deliver(messages: readonly unknown[]): void {
    for (const m of messages) this.emit('message', m as In)
  }

  private stopRecoveryTimer(): void {
    if (this.recoveryTimer !== undefined) this.o.timers.clearTimeout(this.recoveryTimer)
    this.recoveryTimer = undefined
  }

  private onSocketClose(ev: SocketClose): void {
    const wasOpen = this.st === 'open'
    this.detach()
    const code = typeof ev.code === 'number' ? ev.code : 1006
    const reason = typeof ev.reason === 'string' ? ev.reason : ''
    const wasClean = ev.wasClean === true
    const authClose = this.o.authCloseCodes.includes(code)
    if (wasOpen && this.o.timers.now() - this.openedAt >= this.o.minUptimeMs) this.attempt = 0
    const willReconnect = !authClose && this.attempt < this.o.maxRetries
    const gen = this.gen
    this.emit('close', { code, reason, wasClean, willReconnect })
    if (gen !== this.gen) return // a listener called close() or connect()
    if (authClose) this.fail({ reason: 'auth', code })
    else this.retry()
  }

  /** Schedules the next attempt after a backoff delay (at least `retryAfterMs` when given). */
  private retry(retryAfterMs?: number): void {
    this.dropSocket()
    if (this.attempt >= this.o.maxRetries) {
      this.fail({ reason: 'gave-up' })
      return
    }
    let delayMs = backoffDelayMs(
      this.attempt,
      this.o.minReconnectDelayMs,
      this.o.maxReconnectDelayMs,
      this.o.random,
    )
    this.notBefore = 0
    if (retryAfterMs !== undefined) {
      const heldMs = Math.min(retryAfterMs, this.o.maxRetryAfterMs)
      delayMs = Math.max(delayMs, heldMs)
      this.notBefore = this.o.timers.now() + heldMs
    }
    this.attempt++
    const gen = ++this.gen
    this.clearTimer()
    this.timer = this.o.timers.setTimeout(() => {
      if (gen !== this.gen) return
      this.timer = undefined
      this.startAttempt()
    }, delayMs)
    this.setState('reconnecting', delayMs)
  }

  private fail(detail: FailedDetail): void {
    const ws = this.stopAll()
    if (ws !== undefined) {
      try {
        ws.close()
      } catch {
        // Already closing.
      }
    }
    this.unwatch()
    this.setState('failed')
    this.emit('failed', detail)
  }

  private unwatch(): void {
    this.stopWatching?.()
    this.stopWatching = undefined
  }

  /**
   * The page came back (`online`, or visible again). After a disconnect, the backoff wait is
   * cut short: the next attempt (a fresh token, as always) starts within a jittered
   * `minReconnectDelayMs`, so a fleet of tabs waking together does not arrive at once, and
   * never before a server's `Retry-After` has passed. In any other state there is nothing to do.
   */
  private onWake(): void {
    if (this.st !== 'reconnecting') return
    const jitterMs = Math.floor(this.o.random() * this.o.minReconnectDelayMs)
    const delayMs = Math.max(jitterMs, this.notBefore - this.o.timers.now())
    const gen = ++this.gen
    this.clearTimer()
    this.timer = this.o.timers.setTimeout(() => {
      if (gen !== this.gen) return
      this.timer = undefined
      this.startAttempt()
    }, delayMs)
  }

  // ---- plumbing ------------------------------------------------------------------------

  /** Voids all pending work and returns the socket (detached) for the caller to close. */
  private stopAll(): WebSocketLike | undefined {
    this.gen++
    this.clearTimer()
    this.abort?.abort()
    this.abort = undefined
    this.queue.clear()
    const ws = this.ws
    this.detach()
    // Queued requests were dropped with the queue; none of them can be answered now.
    this.requests.failAll()
    return ws
  }

  /** Abandons the current socket and request, e.g. at the connect deadline. */
  private dropSocket(): void {
    this.abort?.abort()
    this.abort = undefined
    const ws = this.ws
    this.detach()
    if (ws !== undefined) {
      try {
        ws.close()
      } catch {
        // Already closing.
      }
    }
  }

  private detach(): void {
    const ws = this.ws
    this.ws = undefined
    this.stopKeepAlive()
    // A recovery cut short by the close: what arrived of it is delivered, in order.
    this.stopRecoveryTimer()
    if (this.history.recovering) this.deliver(this.history.abort())
    if (ws === undefined) return
    // Replies travel on the socket that carried the request; once it is gone they never come.
    this.requests.disconnected(ws)
    ws.onopen = null
    ws.onmessage = null
    ws.onerror = null
    ws.onclose = null
  }

  private write(ws: WebSocketLike, data: string): void {
    ws.send(data)
    this.lastSentAt = this.o.timers.now()
  }

  private scheduleKeepAlive(ms: number): void {
    this.keepAliveTimer = this.o.timers.setTimeout(() => {
      this.keepAliveTimer = undefined
      const ws = this.ws
      if (this.st !== 'open' || ws === undefined || ws.readyState !== OPEN) return
      // AWS closes a socket after 10 minutes without data frames; protocol pings do not count.
      const idleMs = this.o.timers.now() - this.lastSentAt
      if (idleMs >= this.o.keepAliveMs) {
        this.write(ws, this.o.keepAliveMessage)
        this.scheduleKeepAlive(this.o.keepAliveMs)
      } else {
        this.scheduleKeepAlive(this.o.keepAliveMs - idleMs)
      }
    }, ms)
  }

  private stopKeepAlive(): void {
    if (this.keepAliveTimer !== undefined) this.o.timers.clearTimeout(this.keepAliveTimer)
    this.keepAliveTimer = undefined
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.o.timers.clearTimeout(this.timer)
    this.timer = undefined
  }

  private setState(next: ClientState, delayMs?: number): void {
    const previous = this.st
    if (previous === next) return
    this.st = next
    this.emit(
      'state',
      delayMs === undefined ? { state: next, previous } : { state: next, previous, delayMs },
    )
  }

  private emitError(detail: ErrorDetail): void {
    this.emit('error', detail)
  }

  private emit<K extends keyof ClientEventMap<In>>(type: K, detail: ClientEventMap<In>[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }
}
