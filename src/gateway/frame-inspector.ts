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
import { CLOSE } from './close-codes.ts'

/**
 * A reason to close, with the close code AWS uses for it.
 *
 * @example
 * ```ts
 * const violation: FrameViolation = { code: 1009, reason: 'Frame too large' }
 * ```
 */
export interface FrameViolation {
  readonly code: typeof CLOSE.binary.code | typeof CLOSE.frameTooLarge.code
  readonly reason: string
}

const OPCODE_BINARY = 0x2

/** Header parsing states; `DONE` once a violation was flagged. */
const HEAD = 0
const LENGTH_16 = 1
const LENGTH_64 = 2
const MASK = 3
const PAYLOAD = 4
const DONE = 5

const TOO_LARGE: FrameViolation = CLOSE.frameTooLarge
const BINARY: FrameViolation = CLOSE.binary

/**
 * Where the inspection of one connection's byte stream stands: plain number fields, so they
 * can live on the connection record itself (no buffer, no closure per connection).
 *
 * @example
 * ```ts
 * const state: FrameState = new FrameInspection()
 * inspectFrames(state, chunk, 32_768)
 * ```
 */
export interface FrameState {
  /** HEAD, LENGTH_16, LENGTH_64, MASK, PAYLOAD or DONE. */
  frameStep: number
  /** Bytes of the current header field read so far. */
  frameFill: number
  /** The first header byte, then the extended length as it is read (big-endian). */
  frameAcc: number
  /** Opcode of the current frame, with bit 0x80 set when it is masked. */
  frameHead: number
  /** Payload bytes of the current frame still to skip. */
  frameRemaining: number
}

/**
 * A fresh {@link FrameState}, for a stream that starts at a frame boundary.
 *
 * @example
 * ```ts
 * const state = new FrameInspection()
 * const violation = inspectFrames(state, chunk, 32_768)
 * ```
 */
export class FrameInspection implements FrameState {
  frameStep = HEAD
  frameFill = 0
  frameAcc = 0
  frameHead = 0
  frameRemaining = 0
}

/** A data frame's length is known: check it, and move on to the mask or the payload. */
function lengthKnown(s: FrameState, length: number, maxFrameBytes: number): FrameViolation | null {
  if ((s.frameHead & 0x0f) <= OPCODE_BINARY && length > maxFrameBytes) {
    s.frameStep = DONE
    return TOO_LARGE
  }
  s.frameRemaining = length
  s.frameStep = (s.frameHead & 0x80) !== 0 ? MASK : PAYLOAD
  s.frameFill = 0
  return null
}

/**
 * Walk the frame headers in `chunk`, continuing from `s`. Returns the first violation — the
 * first binary frame (1003) or the first data frame longer than `maxFrameBytes` (1009) —
 * once, then `null` for every later chunk.
 *
 * @example
 * ```ts
 * const violation = inspectFrames(conn, chunk, 32_768)
 * if (violation) ws.close(violation.code, violation.reason)
 * ```
 */
export function inspectFrames(
  s: FrameState,
  chunk: Buffer,
  maxFrameBytes: number,
): FrameViolation | null {
  let i = 0
  const n = chunk.length
  while (i < n) {
    switch (s.frameStep) {
      case DONE:
        return null
      case HEAD: {
        const byte = chunk[i++] ?? 0
        if (s.frameFill === 0) {
          s.frameAcc = byte
          s.frameFill = 1
          break
        }
        const opcode = s.frameAcc & 0x0f
        const len7 = byte & 0x7f
        s.frameHead = opcode | (byte & 0x80)
        s.frameFill = 0
        s.frameAcc = 0
        // A continuation frame inherits its message's opcode; the first frame was already seen.
        if (opcode === OPCODE_BINARY) {
          s.frameStep = DONE
          return BINARY
        }
        if (len7 === 126) s.frameStep = LENGTH_16
        else if (len7 === 127) s.frameStep = LENGTH_64
        else if (lengthKnown(s, len7, maxFrameBytes)) return TOO_LARGE
        break
      }
      case LENGTH_16:
      case LENGTH_64: {
        // Past 2^53 the sum rounds, but stays far above any frame limit.
        s.frameAcc = s.frameAcc * 256 + (chunk[i++] ?? 0)
        s.frameFill += 1
        if (s.frameFill === (s.frameStep === LENGTH_16 ? 2 : 8)) {
          if (lengthKnown(s, s.frameAcc, maxFrameBytes)) return TOO_LARGE
        }
        break
      }
      case MASK: {
        const take = Math.min(4 - s.frameFill, n - i)
        s.frameFill += take
        i += take
        if (s.frameFill === 4) {
          s.frameFill = 0
          s.frameStep = PAYLOAD
        }
        break
      }
      case PAYLOAD: {
        const take = Math.min(s.frameRemaining, n - i)
        s.frameRemaining -= take
        i += take
        break
      }
    }
    if (s.frameStep === PAYLOAD && s.frameRemaining === 0) s.frameStep = HEAD
  }
  return null
}

/**
 * A standalone `'data'` listener over {@link inspectFrames} that calls `onViolation` once.
 * The gateway itself keeps the state on the connection and shares one listener.
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
  const state = new FrameInspection()
  return (chunk: Buffer) => {
    const violation = inspectFrames(state, chunk, maxFrameBytes)
    if (violation) onViolation(violation)
  }
}
