/**
 * @module test/conformance/gateway/support/raw-socket
 * A WebSocket client over a bare TCP socket, for what the `ws` client refuses to do: binary,
 * oversized and hand-fragmented frames, early bytes, exact handshake headers. Frames are built
 * by hand (client frames masked with random keys) and server frames parsed by hand.
 */
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'

/** One frame as the server sent it. */
export interface ServerFrame {
  readonly fin: boolean
  readonly opcode: number
  readonly payload: Buffer
}

/** The HTTP head the server answered the upgrade with. */
export interface UpgradeAnswer {
  readonly status: number
  /** Lower-case names. */
  readonly headers: Record<string, string>
  readonly raw: string
}

/** A raw client after its handshake. */
export interface RawClient {
  readonly socket: Socket
  readonly answer: UpgradeAnswer
  /** Write bytes as they are. */
  write(bytes: Buffer): void
  /** The next server frame (control frames included), or `null` when the socket closed first. */
  nextFrame(timeoutMs?: number): Promise<ServerFrame | null>
  /** Resolves when the socket closed, with the close frame's code if one came. */
  closed(timeoutMs?: number): Promise<{ code: number | undefined; reason: string }>
  destroy(): void
}

/**
 * Build one client frame.
 *
 * @example
 * ```ts
 * frame({ opcode: 0x2, payload: Buffer.from([1, 2]) }) // a masked binary frame
 * ```
 */
export function frame(options: {
  opcode: number
  payload?: Buffer | string
  fin?: boolean
  mask?: boolean
  /** Declare this length instead of the payload's (to send a header alone). */
  declaredLength?: number
}): Buffer {
  const payload =
    typeof options.payload === 'string'
      ? Buffer.from(options.payload)
      : (options.payload ?? Buffer.alloc(0))
  const length = options.declaredLength ?? payload.length
  const mask = options.mask ?? true
  const head: number[] = [((options.fin ?? true) ? 0x80 : 0) | options.opcode]
  const maskBit = mask ? 0x80 : 0
  let ext = Buffer.alloc(0)
  if (length < 126) head.push(maskBit | length)
  else if (length < 65_536) {
    head.push(maskBit | 126)
    ext = Buffer.alloc(2)
    ext.writeUInt16BE(length)
  } else {
    head.push(maskBit | 127)
    ext = Buffer.alloc(8)
    ext.writeUInt32BE(Math.floor(length / 2 ** 32), 0)
    ext.writeUInt32BE(length >>> 0, 4)
  }
  if (!mask) return Buffer.concat([Buffer.from(head), ext, payload])
  const key = randomBytes(4)
  const masked = Buffer.alloc(payload.length)
  for (let i = 0; i < payload.length; i++) masked[i] = (payload[i] ?? 0) ^ (key[i % 4] ?? 0)
  return Buffer.concat([Buffer.from(head), ext, key, masked])
}

/** A masked text frame. */
export const text = (payload: string, fin = true): Buffer => frame({ opcode: 0x1, payload, fin })
/** A masked continuation frame. */
export const continuation = (payload: string | Buffer, fin = true): Buffer =>
  frame({ opcode: 0x0, payload, fin })
/** A masked close frame with a code. */
export function closeFrame(code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason))
  payload.writeUInt16BE(code)
  payload.write(reason, 2)
  return frame({ opcode: 0x8, payload })
}

/**
 * Open a TCP connection, send a WebSocket upgrade request and read the answer's head.
 *
 * @example
 * ```ts
 * const client = await rawUpgrade(port, { path: '/production' })
 * client.write(frame({ opcode: 0x2, payload: Buffer.from('x') }))
 * ```
 */
export function rawUpgrade(
  port: number,
  options: {
    path?: string
    headers?: Record<string, string>
    localAddress?: string
    /** Bytes written right after the request, before the answer. */
    early?: Buffer
    /** Replace the whole request head. */
    requestHead?: string
    timeoutMs?: number
  } = {},
): Promise<RawClient> {
  const headers: Record<string, string> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...options.headers,
  }
  const head =
    options.requestHead ??
    `GET ${options.path ?? '/'} HTTP/1.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n')}\r\n\r\n`
  return new Promise((resolve, reject) => {
    const socket = connect({
      port,
      host: '127.0.0.1',
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    })
    let buffer = Buffer.alloc(0)
    let answer: UpgradeAnswer | undefined
    const frames: ServerFrame[] = []
    const waiters: Array<(f: ServerFrame | null) => void> = []
    let ended = false
    let closeInfo: { code: number | undefined; reason: string } = { code: undefined, reason: '' }
    const closeWaiters: Array<() => void> = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error('upgrade answer timed out'))
    }, options.timeoutMs ?? 5_000)

    function parseFrames(): void {
      for (let guard = 0; guard < 10_000; guard++) {
        if (buffer.length < 2) return
        const b0 = buffer[0] ?? 0
        const b1 = buffer[1] ?? 0
        let length = b1 & 0x7f
        let offset = 2
        if (length === 126) {
          if (buffer.length < 4) return
          length = buffer.readUInt16BE(2)
          offset = 4
        } else if (length === 127) {
          if (buffer.length < 10) return
          length = buffer.readUInt32BE(2) * 2 ** 32 + buffer.readUInt32BE(6)
          offset = 10
        }
        if (buffer.length < offset + length) return
        const f = {
          fin: (b0 & 0x80) !== 0,
          opcode: b0 & 0x0f,
          payload: buffer.subarray(offset, offset + length),
        }
        buffer = buffer.subarray(offset + length)
        if (f.opcode === 0x8) {
          closeInfo = {
            code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined,
            reason: f.payload.subarray(2).toString('utf8'),
          }
          // Finish the closing handshake as a browser would: echo, then end.
          if (!socket.destroyed) socket.end(closeFrame(closeInfo.code ?? 1000))
        }
        const w = waiters.shift()
        if (w) w(f)
        else frames.push(f)
      }
    }

    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk])
      if (!answer) {
        const end = buffer.indexOf('\r\n\r\n')
        if (end === -1) return
        const raw = buffer.subarray(0, end).toString('latin1')
        buffer = buffer.subarray(end + 4)
        const [statusLine = '', ...lines] = raw.split('\r\n')
        const parsed: Record<string, string> = {}
        for (const line of lines) {
          const i = line.indexOf(':')
          parsed[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
        }
        answer = { status: Number(statusLine.split(' ')[1]), headers: parsed, raw }
        clearTimeout(timer)
        resolve(client)
      }
      parseFrames()
    })
    socket.on('close', () => {
      ended = true
      for (const w of waiters.splice(0)) w(null)
      for (const w of closeWaiters.splice(0)) w()
      if (!answer) {
        clearTimeout(timer)
        reject(new Error('socket closed before an answer'))
      }
    })
    socket.on('error', () => {})

    const client: RawClient = {
      socket,
      get answer() {
        return answer as UpgradeAnswer
      },
      write: (bytes) => {
        socket.write(bytes)
      },
      nextFrame(timeoutMs = 3_000) {
        const f = frames.shift()
        if (f) return Promise.resolve(f)
        if (ended) return Promise.resolve(null)
        return new Promise((res, rej) => {
          const t = setTimeout(() => rej(new Error('no frame in time')), timeoutMs)
          waiters.push((x) => {
            clearTimeout(t)
            res(x)
          })
        })
      },
      closed(timeoutMs = 3_000) {
        if (ended) return Promise.resolve(closeInfo)
        return new Promise((res, rej) => {
          const t = setTimeout(() => rej(new Error('socket not closed in time')), timeoutMs)
          closeWaiters.push(() => {
            clearTimeout(t)
            res(closeInfo)
          })
        })
      },
      destroy: () => socket.destroy(),
    }

    socket.on('connect', () => {
      socket.write(head)
      if (options.early) socket.write(options.early)
    })
  })
}
