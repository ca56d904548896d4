/**
 * End-to-end support: the demo chat in a child process (what `npm start` runs) on
 * free loopback ports and a temporary DATA_DIR, plus small HTTP and WebSocket helpers.
 * Every wait has a deadline; nothing sleeps for a fixed time.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

/** How long any one condition may take before the test fails. */
export const DEADLINE_MS = 10_000

/** A running demo process. */
export interface Demo {
  readonly appUrl: string
  readonly wsUrl: string
  readonly origin: string
  readonly ports: { readonly app: number; readonly ws: number; readonly mgmt: number }
  readonly dataDir: string
  readonly child: ChildProcess
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>
  /** Everything the process wrote, for failure messages. */
  output(): string
  /** SIGTERM, wait for the exit, remove DATA_DIR. */
  stop(): Promise<void>
}

/** A free TCP port on 127.0.0.1 (the OS picks it; released before returning). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolvePort(port))
    })
  })
}

/**
 * Poll `check` until it returns a value other than `undefined`, or fail at the deadline.
 * Polling (every 25 ms) stands in for an event the test cannot subscribe to.
 */
export async function waitUntil<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  deadlineMs = DEADLINE_MS,
): Promise<T> {
  const end = Date.now() + deadlineMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Start the demo with its test hooks on; resolves once `GET /healthz` answers 200. */
export async function startDemo(
  options: { dataDir?: string; env?: Record<string, string> } = {},
): Promise<Demo> {
  const [app, ws, mgmt] = [await freePort(), await freePort(), await freePort()]
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'gatehouse-demo-')))
  // The demo imports `gatehouse`, `gatehouse/gateway`, … as users do; the condition maps them
  // to src/ (package.json "exports"), as `npm start` does.
  const main = join(root, 'examples/chat/main.ts')
  const child = spawn(process.execPath, ['--conditions=gatehouse-source', main], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(app),
      WS_PORT: String(ws),
      MGMT_PORT: String(mgmt),
      DATA_DIR: dataDir,
      GATEHOUSE_DEMO_TEST: '1',
      LOG_LEVEL: 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8')
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8')
  })
  const exited = new Promise<number | string>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit(code ?? signal ?? 'unknown'))
  })
  let exitedEarly = false
  void exited.then(() => {
    exitedEarly = true
  })
  const appUrl = `http://127.0.0.1:${app}`
  try {
    await waitUntil(
      'GET /healthz → 200',
      async () => {
        if (exitedEarly) throw new Error(`the demo exited during start-up:\n${out}`)
        const res = await fetch(`${appUrl}/healthz`).catch(() => null)
        await res?.body?.cancel()
        return res?.status === 200 ? true : undefined
      },
      20_000,
    )
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  return {
    appUrl,
    wsUrl: `ws://127.0.0.1:${ws}/`,
    origin: appUrl,
    ports: { app, ws, mgmt },
    dataDir,
    child,
    exited,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS)
      await exited
      clearTimeout(timer)
      if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/** A logged-in HTTP session (what a browser holds). */
export interface Session {
  readonly user: string
  readonly sessionId: string
  readonly csrf: string
  /** The `Cookie` header to send. */
  readonly cookie: string
}

/** The value of cookie `name` in a response's `Set-Cookie` headers, with its attributes. */
export function setCookie(
  res: Response,
  name: string,
): { value: string; attributes: string } | undefined {
  for (const line of res.headers.getSetCookie()) {
    const [pair = '', ...attrs] = line.split(';')
    const eq = pair.indexOf('=')
    if (pair.slice(0, eq).trim() === name) {
      return { value: pair.slice(eq + 1).trim(), attributes: attrs.join(';').trim() }
    }
  }
  return undefined
}

/** POST /login. */
export async function loginRequest(
  demo: Demo,
  username: string,
  password: string,
): Promise<Response> {
  return fetch(`${demo.appUrl}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: demo.origin },
    body: JSON.stringify({ username, password }),
  })
}

/** Log in (password = name) and return the session; throws unless 200. */
export async function login(demo: Demo, user: string): Promise<Session> {
  const res = await loginRequest(demo, user, user)
  await res.body?.cancel()
  if (res.status !== 200) throw new Error(`login ${user}: ${res.status}`)
  const sessionId = setCookie(res, 'sessionid')?.value ?? ''
  const csrf = setCookie(res, 'csrftoken')?.value ?? ''
  secretsSeen.push(sessionId, csrf)
  return { user, sessionId, csrf, cookie: `sessionid=${sessionId}; csrftoken=${csrf}` }
}

/** POST /api/ws-token/ as the page does (cookie + `X-CSRFToken`). */
export async function tokenRequest(
  demo: Demo,
  session: Session | null,
  csrfHeader: string | null = session?.csrf ?? null,
): Promise<Response> {
  const headers: Record<string, string> = { origin: demo.origin, 'sec-fetch-site': 'same-origin' }
  if (session) headers.cookie = session.cookie
  if (csrfHeader !== null) headers['x-csrftoken'] = csrfHeader
  return fetch(`${demo.appUrl}/api/ws-token/`, { method: 'POST', headers })
}

/** Every token and session secret the helpers have seen, to check the logs never hold one. */
export const secretsSeen: string[] = []

/** A fresh token for `session`; throws unless 200. */
export async function token(demo: Demo, session: Session): Promise<string> {
  const res = await tokenRequest(demo, session)
  if (res.status !== 200) throw new Error(`token for ${session.user}: ${res.status}`)
  const body = (await res.json()) as { token: string }
  secretsSeen.push(body.token)
  return body.token
}

/** Options of one WebSocket attempt. */
export interface ConnectOptions {
  readonly token?: string | undefined
  readonly channel?: string | undefined
  readonly session?: Session | null | undefined
  /** Default: the app's origin; `null` sends none. */
  readonly origin?: string | null
  /** Source address on the loopback network (127.x.y.z), so per-IP limits stay per test. */
  readonly localAddress?: string
}

/** The outcome of an attempt: an open socket with its inbox, or the HTTP status of the refusal. */
export type ConnectResult =
  | { readonly status: 101; readonly socket: ChatSocket }
  | {
      readonly status: number
      readonly socket?: undefined
      readonly retryAfter?: string | undefined
    }

/** An open socket that records every JSON message it receives. */
export class ChatSocket {
  readonly ws: WebSocket
  readonly received: unknown[] = []
  readonly closed: Promise<{ code: number; reason: string }>
  private readonly waiters = new Set<() => void>()
  /** Messages before this index were taken by `next`. */
  private cursor = 0

  constructor(ws: WebSocket) {
    this.ws = ws
    // A reset is followed by 'close', which is what the tests look at.
    ws.on('error', () => {})
    ws.on('message', (data) => {
      let value: unknown
      try {
        value = JSON.parse(String(data))
      } catch {
        value = { unparsable: String(data) }
      }
      this.received.push(value)
      for (const wake of this.waiters) wake()
    })
    this.closed = new Promise((resolveClose) => {
      ws.once('close', (code, reason) => {
        resolveClose({ code, reason: reason.toString('utf8') })
        for (const wake of this.waiters) wake()
      })
    })
  }

  /** Send an object as JSON, or a string as is. */
  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  /** The next message (after those already taken) matching `match`; earlier ones are skipped. */
  async next(
    match: (m: Record<string, unknown>) => boolean = () => true,
    what = 'a message',
  ): Promise<Record<string, unknown>> {
    const end = Date.now() + DEADLINE_MS
    for (;;) {
      while (this.cursor < this.received.length) {
        const m = this.received[this.cursor++] as Record<string, unknown>
        if (typeof m === 'object' && m !== null && match(m)) return m
      }
      if (this.ws.readyState === WebSocket.CLOSED)
        throw new Error(`socket closed while waiting for ${what}`)
      const remaining = end - Date.now()
      if (remaining <= 0)
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.received)}`)
      await new Promise<void>((wake) => {
        const timer = setTimeout(done, remaining)
        function done(): void {
          clearTimeout(timer)
          waiters.delete(done)
          wake()
        }
        const waiters = this.waiters
        waiters.add(done)
      })
    }
  }

  /** The first message received at any time (taken or not) that matches; waits for one. */
  async find(
    match: (m: Record<string, unknown>) => boolean,
    what = 'a message',
  ): Promise<Record<string, unknown>> {
    return waitUntil(what, () => this.all(match)[0])
  }

  /** Every message received so far that matches. */
  all(match: (m: Record<string, unknown>) => boolean): Record<string, unknown>[] {
    return (this.received as Record<string, unknown>[]).filter(
      (m) => typeof m === 'object' && m !== null && match(m),
    )
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.close(1000)
    return this.closed
  }
}

/** Open a WebSocket to the demo's gateway. */
export function connect(demo: Demo, options: ConnectOptions = {}): Promise<ConnectResult> {
  const url = new URL(demo.wsUrl)
  if (options.channel !== undefined) url.searchParams.set('channel', options.channel)
  if (options.token !== undefined) url.searchParams.set('ws_token', options.token)
  const headers: Record<string, string> = {}
  if (options.session) headers.cookie = options.session.cookie
  const origin = options.origin === undefined ? demo.origin : options.origin
  const ws = new WebSocket(url, {
    headers,
    ...(origin === null ? {} : { origin }),
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    handshakeTimeout: DEADLINE_MS,
  })
  return new Promise((resolveResult, reject) => {
    ws.once('open', () => resolveResult({ status: 101, socket: new ChatSocket(ws) }))
    ws.once('unexpected-response', (req, res) => {
      const retryAfter = res.headers['retry-after']
      resolveResult({ status: res.statusCode ?? 0, retryAfter })
      res.resume()
      req.destroy()
    })
    // After 'unexpected-response' ws may report the aborted request too; the first outcome wins.
    ws.on('error', reject)
  })
}

/** Connect and expect success. */
export async function open(
  demo: Demo,
  session: Session,
  channel: string,
  localAddress?: string,
): Promise<ChatSocket> {
  const result = await connect(demo, {
    session,
    channel,
    token: await token(demo, session),
    ...(localAddress ? { localAddress } : {}),
  })
  if (!result.socket) throw new Error(`connect ${session.user} to ${channel}: ${result.status}`)
  return result.socket
}

/** `GET /__test/stats` of the demo. */
export async function stats(demo: Demo): Promise<{
  tokensIssued: Record<string, number>
  connects: { user: string | null; status: number; channel: string | null }[]
  tokensPresentedTwice: number
  gatewayRestarts: number
  /** Connected sessions per seeded user, from the Gatehouse store. */
  connected: Record<string, number>
}> {
  const res = await fetch(`${demo.appUrl}/__test/stats`)
  if (res.status !== 200) throw new Error(`stats: ${res.status}`)
  return res.json() as Promise<Awaited<ReturnType<typeof stats>>>
}
