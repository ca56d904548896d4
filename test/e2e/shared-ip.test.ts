/**
 * Acceptance: what a red-team pass found about shared IPs, through the bundled gateway with
 * real sockets and the default limits. A foreign page cannot lock an IP or a user out, and
 * a hundred users behind one IP (an office at 9 am, every page after a gateway restart) all
 * connect with the real client under Node's WebSocket.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import { toFetchRequest, writeFetchResponse } from '../../src/adapters/node.ts'
import { type App, createApp } from '../../src/app/create-app.ts'
import { GatehouseClient } from '../../src/client/index.ts'
import type { WebSocketConstructor } from '../../src/client/types.ts'
import type { EventHandler } from '../../src/events/event.ts'
import { createGateway, type Gateway } from '../../src/gateway/gateway.ts'
import { parseCookies } from '../../src/http/cookies.ts'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import type { Store } from '../../src/store/store.ts'

const ORIGIN = 'http://app.test'
const FOREIGN = 'https://evil.example'
const CSRF = 'csrf-shared-ip'

// A session cookie `sid=sid-<user>` names its user; the page's cookies as a browser sends them.
const cookieOf = (user: string) => `sid=sid-${user}; csrftoken=${CSRF}`
const userOf = (cookie: string | null | undefined): string | null => {
  const sid = parseCookies(cookie ?? undefined).get('sid')
  return sid?.startsWith('sid-') ? sid.slice(4) : null
}

describe('one IP, many users, default limits (bundled gateway, real sockets)', {
  timeout: 90_000,
}, () => {
  let store: Store
  let gateway: Gateway
  let app: App
  let http: Server
  let wsUrl: string
  let tokenUrl: string

  before(async () => {
    store = await openSqliteStore({ path: ':memory:' })
    const handler: EventHandler = { handle: (event) => app.handle(event) }
    gateway = createGateway({
      routes: {
        $connect: { type: 'in-process', handler },
        $disconnect: { type: 'in-process', handler },
        $default: { type: 'in-process', handler, twoWay: true },
      },
    })
    app = createApp({
      store,
      connections: gateway.connections,
      allowedOrigins: [ORIGIN],
      identify: (event) => {
        const user = userOf(event.headers.cookie)
        return { sessionId: user === null ? null : `sid-${user}`, userId: user }
      },
      loadUser: (id) => ({ id, permissions: [] }),
    })
    const endpoint = app.tokenEndpoint({
      authenticate: async (req) => {
        const user = userOf(req.headers.get('cookie'))
        return user === null ? null : { userId: user, sessionId: `sid-${user}` }
      },
    })
    http = createServer(async (req, res) => {
      await writeFetchResponse(res, await endpoint(await toFetchRequest(req)))
    })
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    tokenUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/api/ws-token/`
    wsUrl = (await gateway.listen()).url
  })

  after(async () => {
    await gateway?.close({ drainMs: 500 })
    http?.closeAllConnections()
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()))
    await store?.close()
  })

  async function issue(user: string): Promise<string> {
    const res = await fetch(tokenUrl, {
      method: 'POST',
      headers: { cookie: cookieOf(user), 'x-csrftoken': CSRF, origin: ORIGIN },
    })
    assert.equal(res.status, 200, `token for ${user}`)
    return ((await res.json()) as { token: string }).token
  }

  /** One upgrade; resolves with 101 (then closes the socket) or the refusal's status. */
  function attempt(options: {
    token?: string
    cookie?: string
    origin: string
    localAddress: string
  }): Promise<number> {
    const url = new URL(wsUrl)
    url.searchParams.set('channel', 'lobby')
    if (options.token !== undefined) url.searchParams.set('ws_token', options.token)
    const headers: Record<string, string> = { origin: options.origin }
    if (options.cookie !== undefined) headers.cookie = options.cookie
    const ws = new WebSocket(url, { headers, localAddress: options.localAddress })
    return new Promise((resolve) => {
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0)
        ws.terminate()
      })
      ws.once('open', () => {
        resolve(101)
        ws.close()
      })
      ws.once('error', () => resolve(0))
    })
  }

  it('21 foreign-Origin attempts from one IP, then a valid connect from it → 101', async () => {
    const ip = '127.0.0.61'
    for (let i = 0; i < 21; i++) {
      assert.equal(await attempt({ origin: FOREIGN, localAddress: ip }), 403)
    }
    const status = await attempt({
      token: await issue('alice'),
      cookie: cookieOf('alice'),
      origin: ORIGIN,
      localAddress: ip,
    })
    assert.equal(status, 101)
  })

  it("21 foreign-Origin attempts with bob's cookie, then bob's valid connect from a third IP → 101", async () => {
    for (let i = 0; i < 21; i++) {
      const status = await attempt({
        cookie: cookieOf('bob'),
        origin: FOREIGN,
        localAddress: '127.0.0.62',
      })
      assert.equal(status, 403)
    }
    const status = await attempt({
      token: await issue('bob'),
      cookie: cookieOf('bob'),
      origin: ORIGIN,
      localAddress: '127.0.0.63',
    })
    assert.equal(status, 101)
  })

  it('100 users behind one IP, each with the real client: all open within 60 s', async () => {
    const started = Date.now()
    const clients = Array.from({ length: 100 }, (_, i) => {
      const user = `office${i}`
      // Node's WebSocket with the headers a browser would add (its cookie, the page origin).
      class BrowserLikeWebSocket extends globalThis.WebSocket {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, {
            protocols,
            headers: { cookie: cookieOf(user), origin: ORIGIN },
          } as unknown as string[])
        }
      }
      return new GatehouseClient({
        url: wsUrl,
        tokenUrl,
        channel: 'lobby',
        getCookie: (name) => (name === 'csrftoken' ? CSRF : undefined),
        fetch: (url, init) =>
          fetch(url, {
            ...init,
            headers: { ...(init.headers as Record<string, string>), cookie: cookieOf(user) },
          }),
        WebSocket: BrowserLikeWebSocket as unknown as WebSocketConstructor,
      })
    })
    try {
      const opened = clients.map(
        (client) =>
          new Promise<number>((resolve) => {
            const off = client.on('open', () => {
              off()
              resolve(Date.now() - started)
            })
          }),
      )
      for (const client of clients) client.connect()
      let timer: NodeJS.Timeout | undefined
      const deadline = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), 60_000)
      })
      const all = await Promise.race([Promise.all(opened), deadline])
      clearTimeout(timer)
      assert.notEqual(all, 'late', 'some clients were still not open after 60 s')
      const times = all as number[]
      // All 100 are open at once, from one IP.
      assert.equal(gateway.stats().openConnections, 100)
      process.stdout.write(
        `# 100 clients behind one IP open; slowest after ${Math.max(...times)} ms\n`,
      )
    } finally {
      for (const client of clients) client.close()
    }
  })
})
