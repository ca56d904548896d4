/**
 * The client against a real `ws` server and a node:http token endpoint on 127.0.0.1, through
 * Node's global `WebSocket` and `fetch` (what a browser has). Real time, tiny delays, no timing
 * assertions: each step waits for an event.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { type WebSocket, WebSocketServer } from 'ws'
import { type ClientEventMap, GatehouseClient } from '../../src/client/index.ts'

const CSRF = 'csrf-abc'

interface Backend {
  server: Server
  port: number
  /** Tokens issued and not yet used. */
  live: Set<string>
  /** Every token the upgrade handler saw, in order (accepted or not). */
  presented: string[]
  issuedCount: number
  sockets: WebSocket[]
  loggedIn: boolean
  /** Refuse the next N valid tokens with 401 (burning them). */
  rejectNext: number
}

function startBackend(): Promise<Backend> {
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has('gatehouse.v1') ? 'gatehouse.v1' : false),
  })
  const b: Backend = {
    server: createServer((req, res) => {
      if (req.method !== 'POST' || req.url !== '/api/ws-token/') {
        res.writeHead(404).end()
        return
      }
      if (!b.loggedIn || req.headers['x-csrftoken'] !== CSRF) {
        res.writeHead(403).end()
        return
      }
      const token = randomBytes(32).toString('base64url')
      b.live.add(token)
      b.issuedCount++
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify({ token, expires_in: 60 }))
    }),
    port: 0,
    live: new Set(),
    presented: [],
    issuedCount: 0,
    sockets: [],
    loggedIn: true,
    rejectNext: 0,
  }
  b.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const token = presentedToken(req)
    if (token !== undefined) b.presented.push(token)
    // Single use: consume before anything else can see the token again.
    const valid = token !== undefined && b.live.delete(token)
    const refuse = !valid || b.rejectNext > 0
    if (valid && b.rejectNext > 0) b.rejectNext--
    if (refuse) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      b.sockets.push(ws)
      ws.send(JSON.stringify({ type: 'hello', n: b.sockets.length }))
      ws.on('message', (data) => ws.send(JSON.stringify({ type: 'echo', body: String(data) })))
    })
  })
  return new Promise((resolve) => {
    b.server.listen(0, '127.0.0.1', () => {
      b.port = (b.server.address() as AddressInfo).port
      resolve(b)
    })
  })
}

function presentedToken(req: IncomingMessage): string | undefined {
  const q = new URL(req.url ?? '/', 'http://x').searchParams.get('ws_token')
  if (q !== null) return q
  const entry = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .find((s) => s.startsWith('gatehouse.token.'))
  return entry?.slice('gatehouse.token.'.length)
}

/** Resolves with the next event of `type` whose detail passes `match`. */
function next<In, K extends keyof ClientEventMap<In>>(
  client: GatehouseClient<In>,
  type: K,
  match: (d: ClientEventMap<In>[K]) => boolean = () => true,
): Promise<ClientEventMap<In>[K]> {
  return new Promise((resolve) => {
    const off = client.on(type, (d) => {
      if (!match(d)) return
      off()
      resolve(d)
    })
  })
}

type In = { type: string; n?: number; body?: string }

function makeClient(b: Backend, extra: { tokenTransport?: 'query' | 'protocol' } = {}) {
  return new GatehouseClient<In>({
    url: `ws://127.0.0.1:${b.port}/`,
    tokenUrl: `http://127.0.0.1:${b.port}/api/ws-token/`,
    channel: 'lobby',
    getCookie: (name) => (name === 'csrftoken' ? CSRF : undefined),
    minReconnectDelayMs: 5,
    maxReconnectDelayMs: 40,
    ...extra,
  })
}

describe('GatehouseClient against a real server (Node global WebSocket)', {
  timeout: 20_000,
}, () => {
  let b: Backend
  before(async () => {
    b = await startBackend()
  })
  after(() => {
    for (const ws of b.sockets) ws.terminate()
    b.server.closeAllConnections()
    b.server.close()
  })

  it('connects, receives, reconnects with a NEW token after the server closes, then fails on logout', async () => {
    b.loggedIn = true
    const start = b.presented.length
    const client = makeClient(b)
    after(() => client.close())
    const firstHello = next(client, 'message', (m) => m.type === 'hello')
    client.connect()
    const hello1 = await firstHello
    assert.equal(client.state, 'open')

    client.send('echo_me', { text: 'hi' })
    const echo = await next(client, 'message', (m) => m.type === 'echo')
    assert.deepEqual(JSON.parse(echo.body ?? ''), { text: 'hi', action: 'echo_me' })

    const secondHello = next(client, 'message', (m) => m.type === 'hello')
    b.sockets.at(-1)!.close(1001, 'restart')
    const closed = await next(client, 'close')
    assert.equal(closed.code, 1001)
    assert.equal(closed.willReconnect, true)
    const hello2 = await secondHello
    assert.notEqual(hello2.n, hello1.n)

    const tokens = b.presented.slice(start)
    assert.equal(tokens.length, 2)
    assert.notEqual(tokens[0], tokens[1], 'the reconnect used a new token')

    // Logout: the token endpoint now refuses; the next drop ends in `failed`, not a retry loop.
    b.loggedIn = false
    const failed = next(client, 'failed')
    b.sockets.at(-1)!.close(1000)
    assert.deepEqual(await failed, { reason: 'auth', status: 403 })
    assert.equal(client.state, 'failed')
    assert.equal(b.presented.length - start, 2, 'no upgrade attempted without a token')
  })

  it('retries a rejected upgrade (seen as 1006) with a fresh token', async () => {
    b.loggedIn = true
    b.rejectNext = 2
    const start = b.presented.length
    const issuedBefore = b.issuedCount
    const client = makeClient(b)
    try {
      const closes: number[] = []
      client.on('close', (d) => closes.push(d.code))
      const hello = next(client, 'message', (m) => m.type === 'hello')
      client.connect()
      await hello
      // Node's WebSocket (undici) repeats an upgrade answered 401 once by itself (the fetch
      // spec's authentication retry), so the server may see a token twice from ONE socket.
      // What the client controls: three attempts, three tokens issued, three distinct ones.
      const distinct = new Set(b.presented.slice(start))
      assert.equal(b.issuedCount - issuedBefore, 3)
      assert.equal(distinct.size, 3)
      assert.deepEqual(closes, [1006, 1006])
    } finally {
      client.close()
    }
    assert.equal(client.state, 'closed')
  })

  it('carries the token as a subprotocol entry and gets gatehouse.v1 back', async () => {
    b.loggedIn = true
    const start = b.presented.length
    const client = makeClient(b, { tokenTransport: 'protocol' })
    try {
      const opened = next(client, 'open')
      client.connect()
      assert.deepEqual(await opened, { protocol: 'gatehouse.v1' })
      assert.equal(b.presented.length - start, 1)
    } finally {
      client.close()
    }
  })
})
