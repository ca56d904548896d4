/**
 * @module gateway/frame
 * Server-to-client frames built once and written as they are. A fan-out frames its message a
 * single time and hands the same two buffers (header, payload) to every socket, so a push to
 * 10 000 clients costs one encoding and no per-recipient copy.
 */

/**
 * A complete unmasked frame: its header and its payload, written back to back.
 *
 * @example
 * ```ts
 * const { header, payload, byteLength } = encodeFrame(Buffer.from('hi'))
 * ```
 */
export interface EncodedFrame {
  readonly header: Buffer
  readonly payload: Buffer
  /** Header plus payload, in bytes. */
  readonly byteLength: number
}

/**
 * Opcodes the gateway sends as data.
 *
 * @example
 * ```ts
 * encodeFrame(Buffer.from('hi'), TEXT)
 * ```
 */
export const TEXT = 0x1
export const BINARY = 0x2

/**
 * Frame `payload` as one final, unmasked data frame (servers never mask, RFC 6455 §5.1).
 *
 * @example
 * ```ts
 * const frame = encodeFrame(Buffer.from('{"type":"hello"}'))
 * socket.cork(); socket.write(frame.header); socket.write(frame.payload); socket.uncork()
 * ```
 */
export function encodeFrame(
  payload: Buffer,
  opcode: typeof TEXT | typeof BINARY = TEXT,
): EncodedFrame {
  const length = payload.length
  let header: Buffer
  if (length < 126) {
    header = Buffer.allocUnsafe(2)
    header[1] = length
  } else if (length < 65_536) {
    header = Buffer.allocUnsafe(4)
    header[1] = 126
    header.writeUInt16BE(length, 2)
  } else {
    header = Buffer.allocUnsafe(10)
    header[1] = 127
    header.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    header.writeUInt32BE(length >>> 0, 6)
  }
  header[0] = 0x80 | opcode
  return { header, payload, byteLength: header.length + length }
}
