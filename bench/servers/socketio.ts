/**
 * @module bench/servers/socketio
 * What users would pick instead: Socket.IO 4 over WebSocket only, an auth middleware that
 * checks the same single-use token from a `Map`, rooms for channels, an acknowledged `echo`
 * event, and `io.to(room).emit` for broadcasts.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server } from 'socket.io'
import { announce, startControl } from '../lib/control.ts'
import { createMapTokens } from '../lib/map-tokens.ts'

const CHANNEL = /^[A-Za-z0-9_-]{1,128}$/
const tokens = createMapTokens()

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
  // Socket.IO attaches its own request listener for /socket.io/; leave those alone.
  if (!req.url?.startsWith('/socket.io/')) res.writeHead(404).end()
})

const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  maxHttpBufferSize: 131_072,
})

io.use((socket, next) => {
  const auth = socket.handshake.auth as { token?: unknown }
  const channel = socket.handshake.query.channel
  if (typeof channel !== 'string' || !CHANNEL.test(channel)) return next(new Error('bad channel'))
  if (typeof auth.token !== 'string' || !tokens.consume(auth.token)) {
    return next(new Error('unauthorized'))
  }
  socket.data.channel = channel
  next()
})

io.on('connection', (socket) => {
  socket.join(socket.data.channel as string)
  socket.on('echo', (body: unknown, ack: unknown) => {
    if (typeof ack === 'function') ack(body)
  })
})

server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address() as AddressInfo
  const control = await startControl({
    connections: () => io.engine.clientsCount,
    broadcast: (channel, payload) => {
      const room = io.sockets.adapter.rooms.get(channel)
      // Socket.IO encodes a broadcast once and writes the same frame to every socket.
      io.to(channel).emit('bench', JSON.parse(payload))
      return room ? room.size : 0
    },
  })
  announce({
    ready: true,
    kind: 'socketio',
    tokenUrl: `http://127.0.0.1:${port}/token`,
    wsUrl: `ws://127.0.0.1:${port}/`,
    controlUrl: control.url,
  })
})
