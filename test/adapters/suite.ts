/**
 * The one adapter suite every framework runs (`adapterSuite(name, start)`): a real framework
 * server on port 0, mounted as `examples/adapters/<framework>.ts` documents it, serving the
 * app behind the bundled gateway (HTTP integration, HMAC on both sides; Lambda integration
 * for Lambda), driven by a real WebSocket client: token → 101, refusals, a two-way message, a
 * push, `$disconnect`, and a body whose bytes `JSON.stringify` would change.
 */
import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { after, before, describe, test } from 'node:test'
import WebSocket from 'ws'
import { httpGateway } from '../../examples/adapters/gateway.ts'
import { sessions } from '../../examples/adapters/my-auth.ts'
import { type App, createApp } from '../../src/app/create-app.ts'
import type { Gateway } from '../../src/gateway/index.ts'
import type { SessionRecord } from '../../src/index.ts'
import type { Connections } from '../../src/push/connections.ts'
import { createMemoryStore } from '../../src/store/memory.ts'

export const ORIGIN = 'http://127.0.0.1:3000'
export const SECRET = `adapter-suite-${randomBytes(16).toString('hex')}`
export const SID = 'sid-alice-adapter-suite-000000'
const CSRF = 'csrf-adapter-suite'
const DEADLINE_MS = 5_000

/** A framework server the suite can reach. */
export interface Mounted {
  /** `http://127.0.0.1:<port>`: `/api/ws-token/` and `/ws/<route>` live under it. */
  readonly baseUrl: string
  /** The gateway in front of it; default: the HTTP-integration gateway of `examples/adapters/gateway.ts`. */
  readonly gateway?: Gateway
  close(): Promise<void>
}

/** Start one adapter's server around `app`. */
export type StartAdapter = (app: App) => Promise<Mounted>

/** What the running harness holds. */
export interface Harness {
  readonly app: App
  readonly mounted: Mounted
  readonly gateway: Gateway
  readonly wsUrl: string
  /** `$disconnect`s the app saw, with the session they ended. */
  readonly disconnects: Array<SessionRecord | null>
  close(): Promise<void>
}

/** Pushes go to the gateway once it exists (the app is built first: the server needs it). */
function lateConnections(gateway: () => Gateway | undefined): Connections {
  const port = (): Connections => {
    const g = gateway()
    if (!g) throw new Error('gateway not started')
    return g.connections
  }
  return {
    post: (id, data) => port().post(id, data),
    postMany: (ids, data) => port().postMany(ids, data),
    delete: (id) => port().delete(id),
    get: (id) => port().get(id),
  }
}

/** The app, its framework server, and the gateway in front of it. */
export async function startHarness(start: StartAdapter): Promise<Harness> {
  sessions.set(SID, 'alice')
  let gateway: Gateway | undefined
  const disconnects: Array<SessionRecord | null> = []
  const app = createApp({
    store: createMemoryStore(),
    connections: lateConnections(() => gateway),
    gatewaySecret: SECRET,
    allowedOrigins: [ORIGIN],
    identify: (event) => {
      const sessionId = /(?:^|;\s*)sessionid=([^;]+)/.exec(event.headers.cookie ?? '')?.[1] ?? null
      return { sessionId, userId: sessionId === null ? null : (sessions.get(sessionId) ?? null) }
    },
    loadUser: (id) => (id === 'alice' ? { id, permissions: ['chat.use'] } : null),
    permissions: { anyOf: ['chat.use'] },
    handlers: {
      // The raw frame as the app received it: any byte changed on the way shows here.
      echo: (ctx) => ({ type: 'echo', raw: ctx.event.body, user: ctx.user?.id }),
    },
    onDisconnect: ({ session }) => {
      disconnects.push(session)
    },
  })
  const mounted = await start(app)
  gateway = mounted.gateway ?? httpGateway(mounted.baseUrl, SECRET, 0)
  const { port } = await gateway.listen()
  const g = gateway
  return {
    app,
    mounted,
    gateway: g,
    wsUrl: `ws://127.0.0.1:${port}/`,
    disconnects,
    async close() {
      await g.close({ drainMs: 1_000 })
      await mounted.close()
    },
  }
}

/** POST the token endpoint as the logged-in page does. */
export async function issueToken(h: Harness): Promise<Response> {
  return fetch(`${h.mounted.baseUrl}/api/ws-token/`, {
    method: 'POST',
    headers: {
      cookie: `sessionid=${SID}; csrftoken=${CSRF}`,
      'x-csrftoken': CSRF,
      origin: ORIGIN,
    },
  })
}

export async function token(h: Harness): Promise<string> {
  const r = await issueToken(h)
  assert.equal(r.status, 200, await r.clone().text())
  const body = (await r.json()) as { token: string }
  return body.token
}

/** A WebSocket client that queues what it receives. */
export interface Client {
  readonly ws: WebSocket
  next(): Promise<Record<string, unknown>>
  readonly closed: Promise<void>
}

/** Open a socket: the client on success, the refused upgrade's status otherwise. */
export function open(
  h: Harness,
  input: { token: string; origin?: string; channel?: string },
): Promise<Client | { status: number }> {
  const url = new URL(h.wsUrl)
  url.searchParams.set('ws_token', input.token)
  url.searchParams.set('channel', input.channel ?? 'lobby')
  const ws = new WebSocket(url, {
    headers: { cookie: `sessionid=${SID}; csrftoken=${CSRF}` },
    origin: input.origin ?? ORIGIN,
    handshakeTimeout: DEADLINE_MS,
    perMessageDeflate: false,
  })
  const queue: Record<string, unknown>[] = []
  const waiters: Array<(m: Record<string, unknown>) => void> = []
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as Record<string, unknown>
    const waiter = waiters.shift()
    if (waiter) waiter(message)
    else queue.push(message)
  })
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
  return new Promise((resolve, reject) => {
    ws.once('open', () =>
      resolve({
        ws,
        closed,
        next: () => {
          const queued = queue.shift()
          if (queued) return Promise.resolve(queued)
          return new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error('no message in time')), DEADLINE_MS)
            waiters.push((m) => {
              clearTimeout(timer)
              res(m)
            })
          })
        },
      }),
    )
    ws.once('unexpected-response', (req, res: IncomingMessage) => {
      resolve({ status: res.statusCode ?? 0 })
      res.resume()
      req.destroy()
    })
    ws.once('error', reject)
  })
}

export async function openOk(h: Harness, input: { token: string }): Promise<Client> {
  const result = await open(h, input)
  if (!('ws' in result)) throw new Error(`connect refused: ${result.status}`)
  return result
}

async function until(what: string, check: () => boolean): Promise<void> {
  const end = Date.now() + DEADLINE_MS
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A frame whose bytes `JSON.stringify(JSON.parse(frame))` would change: `1.0`, `\u00e9`, spacing. */
export const ODD_FRAME = '{ "action" :"echo",\t"a":1.0 , "b":"\\u00e9",  "c" : [ 1e2 ] }'

/**
 * Register the shared tests for one adapter. `http: true` adds the tests that only an HTTP
 * integration has (a call without the gateway's signature).
 */
export function adapterSuite(
  name: string,
  start: StartAdapter,
  options: { http: boolean; extra?: (harness: () => Harness) => void },
): void {
  describe(`${name} behind the bundled gateway`, () => {
    let h: Harness
    before(async () => {
      h = await startHarness(start)
    })
    after(() => h.close())

    test('token endpoint → connect 101 → two-way reply → push → $disconnect', async () => {
      const client = await openOk(h, { token: await token(h) })
      client.ws.send('{"action":"echo","n":1}')
      assert.deepEqual(await client.next(), {
        type: 'echo',
        raw: '{"action":"echo","n":1}',
        user: 'alice',
      })
      const pushed = await h.app.send.toUser('alice', { type: 'hello' })
      assert.equal(pushed.sent, 1)
      assert.deepEqual(await client.next(), { type: 'hello' })
      const before = h.disconnects.length
      client.ws.close(1000)
      await client.closed
      await until('$disconnect', () => h.disconnects.length > before)
      assert.equal(h.disconnects.at(-1)?.userId, 'alice')
    })

    test('refusals keep their status through the adapter: 401 bad token, 403 foreign Origin', async () => {
      assert.deepEqual(await open(h, { token: 'x'.repeat(43) }), { status: 401 })
      const good = await token(h)
      assert.deepEqual(await open(h, { token: good, origin: 'https://evil.test' }), {
        status: 403,
      })
      // The Origin check is cheap and runs first: the token is still unused.
      const client = await openOk(h, { token: good })
      client.ws.close(1000)
      await client.closed
      assert.deepEqual(await open(h, { token: good }), { status: 401 }) // single use
    })

    test('a frame whose bytes JSON.stringify would change reaches the app byte for byte', async () => {
      assert.notEqual(JSON.stringify(JSON.parse(ODD_FRAME)), ODD_FRAME)
      const client = await openOk(h, { token: await token(h) })
      client.ws.send(ODD_FRAME)
      // Over HTTP a changed byte fails the signature (403, no echo); the echo shows them all.
      assert.deepEqual(await client.next(), { type: 'echo', raw: ODD_FRAME, user: 'alice' })
      client.ws.close(1000)
      await client.closed
    })

    if (options.http) {
      test('a call that did not come through the signing gateway is refused 403', async () => {
        const connect = await fetch(`${h.mounted.baseUrl}/ws/connect?ws_token=${await token(h)}`, {
          method: 'POST',
          headers: {
            connectionId: 'Zm9yZ2VkLWNvbm4=',
            cookie: `sessionid=${SID}`,
            origin: ORIGIN,
            'x-forwarded-for': '203.0.113.9',
          },
        })
        assert.equal(connect.status, 403)
        // A signature made with another secret is no better.
        const timestamp = String(Date.now())
        const forged = createHmac('sha256', 'not-the-secret-0123456789').update('x').digest('hex')
        const message = await fetch(`${h.mounted.baseUrl}/ws/default`, {
          method: 'POST',
          headers: {
            connectionId: 'Zm9yZ2VkLWNvbm4=',
            'x-gatehouse-signature': forged,
            'x-gatehouse-timestamp': timestamp,
          },
          body: '{"action":"echo"}',
        })
        assert.equal(message.status, 403)
      })
    }

    options.extra?.(() => h)
  })
}
