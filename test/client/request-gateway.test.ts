/**
 * `client.request()` end to end: GatehouseClient (on `ws`) → the bundled gateway → an app
 * with typed handlers (memory store), on 127.0.0.1 port 0. Replies come back as the route
 * response of the two-way `$default` route, as behind AWS.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { WebSocket } from 'ws'
import { z } from 'zod'
import { createApp } from '../../src/app/create-app.ts'
import { defineHandler } from '../../src/app/define-handler.ts'
import { GatehouseClient } from '../../src/client/index.ts'
import type { WebSocketConstructor } from '../../src/client/types.ts'
import { isGatehouseError } from '../../src/errors.ts'
import type { GatewayEvent } from '../../src/events/event.ts'
import { createGateway, type Gateway } from '../../src/gateway/index.ts'
import { parseCookies } from '../../src/http/cookies.ts'
import { createMemoryStore } from '../../src/store/memory.ts'

const store = createMemoryStore()
let release: () => void = () => {}
const held = new Promise<void>((r) => {
  release = r
})

const handlers = {
  echo: defineHandler({
    schema: z.object({ n: z.number().int() }),
    run: (ctx) => ({ n: ctx.body.n, connectionId: ctx.event.connectionId }),
  }),
  hold: defineHandler({
    run: async () => {
      await held
      return 'too late'
    },
  }),
}

const app = createApp({
  store,
  identify: (event) => {
    const sid = parseCookies(event.headers.cookie).get('sessionid') ?? null
    return { sessionId: sid, userId: sid === null ? null : sid.split('-')[0]! }
  },
  loadUser: (id) => ({ id, permissions: ['chat.use'] }),
  handlers,
})

function startGateway(port = 0): Gateway {
  const toApp = { handle: (event: GatewayEvent) => app.handle(event) }
  return createGateway({
    port,
    messageBurst: 1000,
    messagesPerSecond: 1000,
    maxInFlightPerConnection: 16,
    maxQueuedMessagesPerConnection: 200,
    routes: {
      $connect: { type: 'in-process', handler: toApp },
      $disconnect: { type: 'in-process', handler: toApp },
      $default: { type: 'in-process', handler: toApp, twoWay: true },
    },
  })
}

/** A `ws` WebSocket that sends this session's cookie, as a browser would. */
function withCookie(sid: string): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { headers: { cookie: `sessionid=${sid}` } })
    }
  } as unknown as WebSocketConstructor
}

function client(url: () => string, sid: string) {
  const c = new GatehouseClient<unknown, typeof handlers>({
    url,
    WebSocket: withCookie(sid),
    getToken: async () => {
      const r = await app.tokens.issue(sid.split('-')[0]!, sid)
      if (!r.ok) throw new Error(r.reason)
      return r.token
    },
    minReconnectDelayMs: 10,
    maxReconnectDelayMs: 50,
  })
  return c
}

const opened = (c: GatehouseClient<unknown, typeof handlers>) =>
  new Promise<void>((resolve) => {
    if (c.state === 'open') resolve()
    const off = c.on('open', () => {
      off()
      resolve()
    })
  })

const cleanups: (() => Promise<unknown> | unknown)[] = []
after(async () => {
  for (const f of cleanups.reverse()) await f()
})

describe('request() through the bundled gateway', () => {
  it('1,000 concurrent requests over 10 sockets each resolve with their own reply', async () => {
    const gw = startGateway()
    cleanups.push(() => gw.close())
    const { port } = await gw.listen()
    const clients = Array.from({ length: 10 }, (_, i) =>
      client(() => `ws://127.0.0.1:${port}/`, `u${i}-session-000000000000`),
    )
    for (const c of clients) cleanups.push(() => c.close())
    for (const c of clients) c.connect()
    await Promise.all(clients.map(opened))
    const own = new Map<number, Set<string>>()
    const calls = Array.from({ length: 1000 }, (_, n) => {
      const c = clients[n % 10]!
      return c.request('echo', { n }).then((reply) => ({ n, reply, c }))
    })
    const replies = await Promise.all(calls)
    for (const { n, reply, c } of replies) {
      assert.equal(reply.n, n, 'each request got its own reply')
      const set = own.get(clients.indexOf(c)) ?? new Set()
      set.add(reply.connectionId)
      own.set(clients.indexOf(c), set)
    }
    // Each client's replies came over its own socket, and the ten sockets are distinct.
    assert.equal(own.size, 10)
    const ids = [...own.values()].map((s) => {
      assert.equal(s.size, 1)
      return [...s][0]
    })
    assert.equal(new Set(ids).size, 10)
    assert.ok(clients.every((c) => c.pendingRequests === 0))

    // An invalid body: the generic validation reply, as a rejection.
    await assert.rejects(clients[0]!.request('echo', { n: 1.5 }), (err: unknown) => {
      assert.ok(isGatehouseError(err, 'ERR_REQUEST_REJECTED'))
      assert.deepEqual((err.cause as { paths: string[] }).paths, ['n'])
      return true
    })
  })

  it('a request across a gateway restart rejects with a disconnect error, and never resolves', async () => {
    let gw = startGateway()
    const { port } = await gw.listen()
    const c = client(() => `ws://127.0.0.1:${port}/`, 'r0-session-000000000000')
    cleanups.push(() => c.close())
    c.connect()
    await opened(c)
    let settled = 0
    const outcome = c.request('hold', {}).then(
      (v) => {
        settled++
        return { ok: true, v }
      },
      (err: unknown) => {
        settled++
        return { ok: false, code: isGatehouseError(err) ? err.code : String(err) }
      },
    )
    await new Promise((r) => setTimeout(r, 50)) // the request is at the app, held
    await gw.close({ drainMs: 0 })
    assert.deepEqual(await outcome, { ok: false, code: 'ERR_REQUEST_DISCONNECTED' })
    release() // the held handler now answers: nowhere to go

    gw = startGateway(port)
    cleanups.push(() => gw.close())
    await gw.listen()
    await opened(c)
    assert.equal((await c.request('echo', { n: 7 })).n, 7)
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(settled, 1)
  })
})
