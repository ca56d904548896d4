/**
 * @module bench/servers/ws
 * The floor: a raw `ws` server that checks a single-use token from a `Map` at the upgrade,
 * keeps channels as `Set`s, echoes `{"action":"echo"}` messages and broadcasts on request.
 * Anything Gatehouse does beyond this costs something; this is what it is measured against.
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { type WebSocket, WebSocketServer } from 'ws'
import { announce, startControl } from '../lib/control.ts'
import { createMapTokens } from '../lib/map-tokens.ts'

const CHANNEL = /^[A-Za-z0-9_-]{1,128}$/
const tokens = createMapTokens()
const channels = new Map<string, Set<WebSocket>>()
let open = 0

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 131_072 })

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/token') {
    req.resume()
    req.on('end', () => {
      const body = JSON.stringify({ token: tokens.issue(), expires_in: 60 })
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(body)
    })
    return
  }
  res.writeHead(404).end()
})

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}

server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
  const url = new URL(req.url ?? '/', 'http://localhost')
  const channel = url.searchParams.get('channel') ?? ''
  if (!CHANNEL.test(channel)) return reject(socket, 400, 'Bad Request')
  if (!tokens.consume(url.searchParams.get('ws_token') ?? '')) {
    return reject(socket, 401, 'Unauthorized')
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    open++
    let members = channels.get(channel)
    if (!members) {
      members = new Set()
      channels.set(channel, members)
    }
    members.add(ws)
    ws.on('message', (data, isBinary) => {
      if (isBinary) return
      let body: unknown
      try {
        body = JSON.parse(data.toString())
      } catch {
        return
      }
      if (
        typeof body === 'object' &&
        body !== null &&
        (body as { action?: unknown }).action === 'echo'
      ) {
        ws.send(JSON.stringify(body))
      }
    })
    ws.on('close', () => {
      open--
      members.delete(ws)
    })
  })
})

server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address() as AddressInfo
  const control = await startControl({
    connections: () => open,
    broadcast: (channel, payload) => {
      const members = channels.get(channel)
      if (!members) return 0
      // Encode once, as any careful ws broadcaster does; ws frames it per socket.
      const data = Buffer.from(payload)
      for (const ws of members) ws.send(data, { binary: false })
      return members.size
    },
  })
  announce({
    ready: true,
    kind: 'ws',
    tokenUrl: `http://127.0.0.1:${port}/token`,
    wsUrl: `ws://127.0.0.1:${port}/`,
    controlUrl: control.url,
  })
})
