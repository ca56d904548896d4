/**
 * @module gateway/frame-inspector
 * Per-frame checks `ws` does not offer. `ws` limits a whole message (`maxPayload`) but not one
 * frame, and it buffers a binary message to its end before telling anyone. AWS closes with
 * 1009 as soon as a frame exceeds 32 KB and with 1003 on the first binary frame.
 *
 * The inspector reads the same bytes as `ws`'s receiver, ahead of it (it is prepended to the
 * socket's `'data'` listeners), but only walks frame headers: payload bytes are skipped by
 * arithmetic, never copied. It flags the first violation once and then stays quiet; `ws` keeps
 * validating everything else (masking, opcodes, UTF-8, control frames).
 */

/**
 * A reason to close, with the close code AWS uses for it.
 *
 * @example
 * ```ts
 * const violation: FrameViolation = { code: 1009, reason: 'Frame too large' }
 * ```
 */
export interface FrameViolation {
  readonly code: 1003 | 1009
  readonly reason: string
}

const OPCODE_BINARY = 0x2

/** Header parsing states. */
const HEAD = 0
const LENGTH_16 = 1
const LENGTH_64 = 2
const MASK = 3
const PAYLOAD = 4

/**
 * A `'data'` listener that calls `onViolation` for the first binary frame (1003) or the first
 * data frame longer than `maxFrameBytes` (1009).
 *
 * @example
 * ```ts
 * socket.prependListener('data', createFrameInspector(32_768, (v) => ws.close(v.code, v.reason)))
 * ```
 */
export function createFrameInspector(
  maxFrameBytes: number,
  onViolation: (violation: FrameViolation) => void,
): (chunk: Buffer) => void {
  let state = HEAD
  let done = false
  // Bytes of the current header field still expected, and what was read of it so far.
  const header = Buffer.alloc(8)
  let headerFill = 0
  let opcode = 0
  let masked = false
  let remaining = 0

  function flag(violation: FrameViolation): void {
    done = true
    onViolation(violation)
  }

  /** A data frame's length is known: check it. Returns false when inspection must stop. */
  function checkLength(length: number): boolean {
    if (opcode <= OPCODE_BINARY && length > maxFrameBytes) {
      flag({ code: 1009, reason: 'Frame too large' })
      return false
    }
    remaining = length
    state = masked ? MASK : PAYLOAD
    headerFill = 0
    return true
  }

  return (chunk: Buffer) => {
    let i = 0
    const n = chunk.length
    while (!done && i < n) {
      switch (state) {
        case HEAD: {
          header[headerFill++] = chunk[i++] ?? 0
          if (headerFill < 2) break
          const b0 = header[0] ?? 0
          const b1 = header[1] ?? 0
          opcode = b0 & 0x0f
          masked = (b1 & 0x80) !== 0
          const len7 = b1 & 0x7f
          headerFill = 0
          // A continuation frame inherits its message's opcode; the first frame was already seen.
          if (opcode === OPCODE_BINARY) {
            flag({ code: 1003, reason: 'Binary frames are not supported' })
            break
          }
          if (len7 === 126) state = LENGTH_16
          else if (len7 === 127) state = LENGTH_64
          else checkLength(len7)
          break
        }
        case LENGTH_16:
          header[headerFill++] = chunk[i++] ?? 0
          if (headerFill === 2) checkLength(header.readUInt16BE(0))
          break
        case LENGTH_64:
          header[headerFill++] = chunk[i++] ?? 0
          if (headerFill === 8) {
            const length = header.readUInt32BE(0) * 2 ** 32 + header.readUInt32BE(4)
            checkLength(length)
          }
          break
        case MASK: {
          const take = Math.min(4 - headerFill, n - i)
          headerFill += take
          i += take
          if (headerFill === 4) {
            headerFill = 0
            state = PAYLOAD
          }
          break
        }
        case PAYLOAD: {
          const take = Math.min(remaining, n - i)
          remaining -= take
          i += take
          break
        }
      }
      if (state === PAYLOAD && remaining === 0) state = HEAD
    }
  }
}
