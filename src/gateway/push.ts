/**
 * @module gateway/push
 * The gateway's side of the {@link Connections} port: push to, describe and close the sockets
 * it holds, in process. A fan-out encodes its frame once and writes the same two buffers
 * (header and payload) to every recipient: no copy per recipient, whatever their number.
 */
import { isUtf8 } from 'node:buffer'
import { GatehouseError } from '../errors.ts'
import type { ConnectionInfo, Connections, PostManyResult } from '../push/connections.ts'
import { BINARY, type EncodedFrame, encodeFrame, TEXT } from './frame.ts'
import { CLOSE, closeConnection, isOpen, type Runtime, writeFrame } from './runtime.ts'

/**
 * Encode an outbound message once per push, whatever the number of recipients. Strings go out
 * as a text frame unscanned (the app's sender hands its messages over as strings); bytes as a
 * text frame when they are valid UTF-8, else binary (a text frame must be UTF-8, RFC 6455
 * §5.6), which costs one scan of the bytes. One size check, on the encoded payload.
 *
 * @throws GatehouseError `ERR_MESSAGE_TOO_LARGE` above `maxOutboundBytes`.
 * @example
 * ```ts
 * const frame = encodeOutbound('{"type":"hello"}', 131_072)
 * ```
 */
export function encodeOutbound(data: string | Uint8Array, maxOutboundBytes: number): EncodedFrame {
  let payload: Buffer
  let opcode: typeof TEXT | typeof BINARY = TEXT
  if (typeof data === 'string') {
    payload = Buffer.from(data, 'utf8')
  } else if (data instanceof Uint8Array) {
    // A view over the caller's bytes, not a copy.
    payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    if (!isUtf8(payload)) opcode = BINARY
  } else {
    throw new GatehouseError('ERR_INVALID_OPTION', 'A message must be a string or a Uint8Array.')
  }
  if (payload.length > maxOutboundBytes) {
    throw new GatehouseError(
      'ERR_MESSAGE_TOO_LARGE',
      `The message is ${payload.length} bytes; the limit is ${maxOutboundBytes}.`,
    )
  }
  return encodeFrame(payload, opcode)
}

/**
 * The in-process {@link Connections} port of a gateway.
 *
 * @example
 * ```ts
 * const connections = createConnectionsPort(rt)
 * await connections.postMany(ids, JSON.stringify({ type: 'news' }))
 * ```
 */
export function createConnectionsPort(rt: Runtime): Connections {
  const { table } = rt
  return {
    async post(connectionId: string, data: string | Uint8Array): Promise<boolean> {
      const frame = encodeOutbound(data, rt.options.maxOutboundBytes)
      const conn = table.get(connectionId)
      if (!conn) return false
      return writeFrame(rt, conn, frame) === 'sent'
    },

    async postMany(
      connectionIds: readonly string[],
      data: string | Uint8Array,
    ): Promise<PostManyResult> {
      const frame = encodeOutbound(data, rt.options.maxOutboundBytes)
      let sent = 0
      const gone: string[] = []
      for (const id of connectionIds) {
        const conn = table.get(id)
        if (conn && writeFrame(rt, conn, frame) === 'sent') sent += 1
        else gone.push(id)
      }
      return { sent, gone }
    },

    async delete(connectionId: string): Promise<boolean> {
      const conn = table.get(connectionId)
      if (!conn || !isOpen(conn)) return false
      closeConnection(conn, CLOSE.normal.code, CLOSE.normal.reason)
      return true
    },

    async get(connectionId: string): Promise<ConnectionInfo | null> {
      const conn = table.get(connectionId)
      if (!conn || !isOpen(conn)) return null
      return {
        connectedAt: conn.identity.connectedAt,
        lastActiveAt: conn.lastActiveAt,
        sourceIp: conn.identity.sourceIp,
        userAgent: conn.identity.userAgent ?? '',
      }
    },
  }
}
