/**
 * @module bench/load/clients
 * One client shape over the two protocols the systems speak: plain WebSocket (raw `ws` and
 * Gatehouse) and Socket.IO (`socket.io-client`, WebSocket transport only).
 * A client gets its token over HTTP first, then connects with it: the same job everywhere.
 */
import type { Agent } from 'node:http'
import { io, type Socket } from 'socket.io-client'
import WebSocket from 'ws'
import type { ReadyLine } from '../lib/protocol.ts'
import { httpCall } from './http.ts'

/** The channel every bench client joins. */
export const CHANNEL = 'bench'
const CONNECT_TIMEOUT_MS = 15_000
const CSRF = 'benchcsrf0123456789abcdef0123456789'

/** A connected bench client. */
export interface Client {
  /** Send `{"action":"echo","seq":n}`; the reply comes to {@link Client.onReply}. */
  request(seq: number): void
  /** Called with the `seq` of each echo reply. */
  onReply: ((seq: number) => void) | null
  /** Called for each broadcast received (in order; no parsing). */
  onBroadcast: (() => void) | null
  close(): void
}

/** A token and the session it was issued to. */
export interface Ticket {
  readonly token: string
  readonly session: number
}

function sessionCookie(session: number): string {
  return `sid=bench-session-${session}`
}

/**
 * Issue one token through the system's token endpoint, as a logged-in page would.
 *
 * @example
 * ```ts
 * const ticket = await issueToken(ready, 3, agent)
 * ```
 */
export async function issueToken(ready: ReadyLine, session: number, agent: Agent): Promise<Ticket> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (ready.sessions) {
    headers.cookie = `${sessionCookie(session)}; csrftoken=${CSRF}`
    headers['x-csrftoken'] = CSRF
  }
  if (ready.origin) headers.origin = ready.origin
  const res = await httpCall('POST', ready.tokenUrl, headers, '{}', agent)
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}`)
  const { token } = JSON.parse(res.body) as { token?: unknown }
  if (typeof token !== 'string') throw new Error('token endpoint sent no token')
  return { token, session }
}

/**
 * Connect with a ticket from `localAddress`; resolves when the upgrade (and, for Socket.IO,
 * the namespace connect) completes.
 *
 * @example
 * ```ts
 * const client = await connect(ready, ticket, '127.0.0.2')
 * client.onReply = (seq) => console.log(seq)
 * client.request(1)
 * ```
 */
export function connect(ready: ReadyLine, ticket: Ticket, localAddress: string): Promise<Client> {
  return ready.kind === 'socketio'
    ? connectSocketIo(ready, ticket, localAddress)
    : connectWs(ready, ticket, localAddress)
}

function connectWs(ready: ReadyLine, ticket: Ticket, localAddress: string): Promise<Client> {
  const headers: Record<string, string> = {}
  if (ready.sessions) headers.cookie = sessionCookie(ticket.session)
  if (ready.origin) headers.origin = ready.origin
  const url = `${ready.wsUrl}?ws_token=${encodeURIComponent(ticket.token)}&channel=${CHANNEL}`
  const ws = new WebSocket(url, {
    localAddress,
    headers,
    perMessageDeflate: false,
    skipUTF8Validation: true,
    handshakeTimeout: CONNECT_TIMEOUT_MS,
  })
  const client: Client = {
    onReply: null,
    onBroadcast: null,
    request(seq) {
      ws.send(`{"action":"echo","seq":${seq}}`)
    },
    close() {
      ws.close()
    },
  }
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.on('error', () => {})
      ws.on('message', (data: Buffer) => {
        if (client.onBroadcast) return client.onBroadcast()
        if (!client.onReply) return
        const seq = (JSON.parse(data.toString()) as { seq?: unknown }).seq
        if (typeof seq === 'number') client.onReply(seq)
      })
      resolve(client)
    })
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate()
      reject(new Error(`upgrade refused: ${res.statusCode}`))
    })
    ws.once('error', (err) => reject(err))
  })
}

function connectSocketIo(ready: ReadyLine, ticket: Ticket, localAddress: string): Promise<Client> {
  const extraHeaders: Record<string, string> = {}
  if (ready.sessions) extraHeaders.cookie = sessionCookie(ticket.session)
  if (ready.origin) extraHeaders.origin = ready.origin
  const socket: Socket = io(ready.wsUrl, {
    transports: ['websocket'],
    auth: { token: ticket.token },
    query: { channel: CHANNEL },
    reconnection: false,
    forceNew: true,
    timeout: CONNECT_TIMEOUT_MS,
    extraHeaders,
    // Passed through to the `ws` constructor by engine.io-client on Node.
    ...({ localAddress, perMessageDeflate: false } as Record<string, unknown>),
  })
  const client: Client = {
    onReply: null,
    onBroadcast: null,
    request(seq) {
      socket.emit('echo', { action: 'echo', seq }, (reply: { seq?: unknown }) => {
        if (typeof reply?.seq === 'number') client.onReply?.(reply.seq)
      })
    },
    close() {
      socket.disconnect()
    },
  }
  socket.on('bench', () => client.onBroadcast?.())
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(client))
    socket.once('connect_error', (err) => {
      socket.disconnect()
      reject(err)
    })
  })
}
