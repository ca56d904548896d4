/**
 * @module test/conformance/gateway/support/harness
 * Start a gateway on 127.0.0.1:0 with fake integrations, and drive it with `ws` clients.
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocket } from 'ws'
import type { EventHandler, GatewayEvent, GatewayResponse } from '../../../../src/events/event.ts'
import { createGateway, type Gateway } from '../../../../src/gateway/gateway.ts'
import type { GatewayOptions } from '../../../../src/gateway/options.ts'

/** An in-process handler that records every event and answers with `respond`. */
export interface RecordingHandler extends EventHandler {
  readonly events: GatewayEvent[]
  /** Resolves with the first recorded event matching `predicate` (waits for it). */
  waitFor(predicate: (e: GatewayEvent) => boolean, timeoutMs?: number): Promise<GatewayEvent>
}

/**
 * A fake app.
 *
 * @example
 * ```ts
 * const app = recorder((e) => ({ status: 200, body: e.body }))
 * ```
 */
export function recorder(
  respond: (event: GatewayEvent) => GatewayResponse | Promise<GatewayResponse> = () => ({
    status: 200,
  }),
): RecordingHandler {
  const events: GatewayEvent[] = []
  const waiters: Array<{ p: (e: GatewayEvent) => boolean; r: (e: GatewayEvent) => void }> = []
  return {
    events,
    async handle(event) {
      events.push(event)
      for (const w of [...waiters]) {
        if (w.p(event)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.r(event)
        }
      }
      return respond(event)
    },
    waitFor(predicate, timeoutMs = 3_000) {
      const found = events.find(predicate)
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('event not seen in time')), timeoutMs)
        waiters.push({
          p: predicate,
          r: (e) => {
            clearTimeout(t)
            resolve(e)
          },
        })
      })
    },
  }
}

/** A started gateway. */
export interface Started {
  readonly gateway: Gateway
  readonly url: string
  readonly port: number
  close(): Promise<void>
}

/**
 * Create and start a gateway.
 *
 * @example
 * ```ts
 * const { url, close } = await startGateway({ routes: { $default: { type: 'in-process', handler: app } } })
 * ```
 */
export async function startGateway(options: GatewayOptions = {}): Promise<Started> {
  const gateway = createGateway({ port: 0, host: '127.0.0.1', ...options })
  const { url, port } = await gateway.listen()
  return { gateway, url, port, close: () => gateway.close({ drainMs: 500 }) }
}

/** A `ws` client with a message queue and a close promise. */
export interface TestClient {
  readonly ws: WebSocket
  next(timeoutMs?: number): Promise<string>
  /** Messages received and not yet taken. */
  readonly pending: string[]
  readonly closed: Promise<{ code: number; reason: string }>
  /** Wait a little and assert nothing arrived: resolves with what did. */
  quiet(ms?: number): Promise<string[]>
}

/**
 * Connect with `ws`; rejects with `{ status }` when the upgrade is refused.
 *
 * @example
 * ```ts
 * const client = await connectClient(url)
 * client.ws.send('{"action":"ping"}')
 * await client.next()
 * ```
 */
export function connectClient(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string>; localAddress?: string } = {},
): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols ?? [], {
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      perMessageDeflate: false,
    })
    const pending: string[] = []
    const waiters: Array<(m: string) => void> = []
    ws.on('message', (data) => {
      const m = data.toString()
      const w = waiters.shift()
      if (w) w(m)
      else pending.push(m)
    })
    const closed = new Promise<{ code: number; reason: string }>((r) => {
      ws.on('close', (code, reason) => r({ code, reason: reason.toString() }))
    })
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      reject(
        Object.assign(new Error(`unexpected ${res.statusCode}`), {
          status: res.statusCode,
          headers: res.headers,
        }),
      )
      res.resume()
      ws.terminate()
    })
    ws.on('error', (err) => reject(err))
    ws.on('open', () =>
      resolve({
        ws,
        pending,
        closed,
        next(timeoutMs = 3_000) {
          const m = pending.shift()
          if (m !== undefined) return Promise.resolve(m)
          return new Promise((res, rej) => {
            const t = setTimeout(() => rej(new Error('no message in time')), timeoutMs)
            waiters.push((x) => {
              clearTimeout(t)
              res(x)
            })
          })
        },
        async quiet(ms = 150) {
          await new Promise((r) => setTimeout(r, ms))
          return pending.splice(0)
        },
      }),
    )
  })
}

/** One request an HTTP backend received. */
export interface RecordedRequest {
  readonly method: string
  readonly url: string
  /** The raw header list: original casing and order. */
  readonly rawHeaders: string[]
  readonly headers: IncomingMessage['headers']
  readonly body: string
}

/** A real HTTP backend on 127.0.0.1:0 that records requests. */
export interface Backend {
  readonly url: string
  readonly port: number
  readonly requests: RecordedRequest[]
  waitFor(predicate: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>
  close(): Promise<void>
}

/**
 * Start a recording HTTP backend; `respond` decides each answer.
 *
 * @example
 * ```ts
 * const backend = await startBackend(() => ({ status: 200, body: 'ok' }))
 * ```
 */
export async function startBackend(
  respond: (
    r: RecordedRequest,
  ) =>
    | { status: number; headers?: Record<string, string>; body?: string; delayMs?: number }
    | undefined = () => ({ status: 200 }),
): Promise<Backend> {
  const requests: RecordedRequest[] = []
  const waiters: Array<{ p: (r: RecordedRequest) => boolean; r: (x: RecordedRequest) => void }> = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const rec: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        rawHeaders: req.rawHeaders,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }
      requests.push(rec)
      for (const w of [...waiters]) {
        if (w.p(rec)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.r(rec)
        }
      }
      const answer = respond(rec) ?? { status: 200 }
      const send = () => {
        if (res.destroyed) return
        res.writeHead(answer.status, answer.headers ?? {})
        res.end(answer.body ?? '')
      }
      if (answer.delayMs) setTimeout(send, answer.delayMs)
      else send()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    waitFor(predicate, timeoutMs = 3_000) {
      const found = requests.find(predicate)
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('request not seen in time')), timeoutMs)
        waiters.push({
          p: predicate,
          r: (x) => {
            clearTimeout(t)
            resolve(x)
          },
        })
      })
    },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

/** Sleep (only where a negative must be observed: "nothing arrives"). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** The raw header value with its original name casing, or undefined. */
export function rawHeader(
  raw: readonly string[],
  name: string,
): { name: string; value: string } | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] ?? '').toLowerCase() === name.toLowerCase())
      return { name: raw[i] ?? '', value: raw[i + 1] ?? '' }
  }
  return undefined
}
