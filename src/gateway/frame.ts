/**
 * @module gateway/frame
 * Server-to-client frames built once and written as they are. A fan-out frames its message a
 * single time and hands the same two buffers (header, payload) to every socket, so a push to
 * 10 000 clients costs one encoding and no per-recipient copy.
 */
import * as wsModule from 'ws'

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
  // ws's own framing (public `Sender.frame`): unmasked, so it returns the header and the
  // payload itself, uncopied. The same bytes ws writes for `ws.send()` with compression off;
  // the gateway writes them straight to the socket, which is only sound while
  // permessage-deflate stays off (test/gateway/frame.test.ts guards both).
  const [header] = frameWithWs(payload, FRAME_OPTIONS[opcode]!)
  return { header: header!, payload, byteLength: header!.length + payload.length }
}

interface FrameOptions {
  readonly fin: boolean
  readonly rsv1: boolean
  readonly opcode: number
  readonly mask: boolean
  readonly readOnly: boolean
}

const FRAME_OPTIONS: Readonly<Record<number, FrameOptions>> = {
  [TEXT]: Object.freeze({ fin: true, rsv1: false, opcode: TEXT, mask: false, readOnly: false }),
  [BINARY]: Object.freeze({ fin: true, rsv1: false, opcode: BINARY, mask: false, readOnly: false }),
}

// Exported by ws at runtime, not declared by @types/ws.
const frameWithWs = (
  wsModule as unknown as {
    Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] }
  }
).Sender.frame
