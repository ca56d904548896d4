import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  createFrameInspector,
  FrameInspection,
  type FrameViolation,
  inspectFrames,
} from '../../src/gateway/frame-inspector.ts'
import { frame } from '../conformance/gateway/support/raw-socket.ts'

function inspect(bytes: Buffer, max: number, cuts: number[] = []): FrameViolation[] {
  const seen: FrameViolation[] = []
  const feed = createFrameInspector(max, (v) => seen.push(v))
  let at = 0
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut <= at || cut >= bytes.length) continue
    feed(bytes.subarray(at, cut))
    at = cut
  }
  feed(bytes.subarray(at))
  return seen
}

test('text frames up to the limit pass, masked or not, with every length encoding', () => {
  const frames = [0, 125, 126, 1_000, 32_768].map((n) =>
    frame({ opcode: 0x1, payload: Buffer.alloc(n, 'a') }),
  )
  frames.push(
    frame({ opcode: 0x9, payload: 'ping' }),
    frame({ opcode: 0x1, payload: 'x', mask: false }),
  )
  assert.deepEqual(inspect(Buffer.concat(frames), 32_768), [])
})

test('one byte over the frame limit is 1009, including continuation frames', () => {
  assert.deepEqual(inspect(frame({ opcode: 0x1, payload: Buffer.alloc(101) }), 100), [
    { code: 1009, reason: 'Frame too large' },
  ])
  const fragmented = Buffer.concat([
    frame({ opcode: 0x1, payload: Buffer.alloc(100), fin: false }),
    frame({ opcode: 0x0, payload: Buffer.alloc(101) }),
  ])
  assert.equal(inspect(fragmented, 100)[0]?.code, 1009)
})

test('a 64-bit declared length is refused from the header alone', () => {
  const header = frame({ opcode: 0x1, declaredLength: 2 ** 40 })
  assert.equal(inspect(header.subarray(0, 10), 32_768)[0]?.code, 1009)
})

test('a binary frame is 1003 at its header; only the first violation is reported', () => {
  const bytes = Buffer.concat([
    frame({ opcode: 0x1, payload: 'ok' }),
    frame({ opcode: 0x2, payload: Buffer.alloc(5), fin: false }),
    frame({ opcode: 0x1, payload: Buffer.alloc(500) }),
  ])
  assert.deepEqual(inspect(bytes, 100), [{ code: 1003, reason: 'Binary frames are not supported' }])
})

test('property: chunk boundaries never change the verdict', () => {
  const frameArb = fc.record({
    opcode: fc.constantFrom(0x1, 0x2, 0x9, 0xa),
    length: fc.oneof(fc.integer({ min: 0, max: 130 }), fc.integer({ min: 60, max: 70_000 })),
    mask: fc.boolean(),
  })
  fc.assert(
    fc.property(
      fc.array(frameArb, { minLength: 1, maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 300_000 }), { maxLength: 20 }),
      (specs, cuts) => {
        const bytes = Buffer.concat(
          specs.map((s) =>
            frame({
              opcode: s.opcode,
              payload: Buffer.alloc(s.opcode >= 0x8 ? Math.min(s.length, 125) : s.length),
              mask: s.mask,
            }),
          ),
        )
        const whole = inspect(bytes, 65_536)
        assert.deepEqual(inspect(bytes, 65_536, cuts), whole)
        const firstBad = specs.find(
          (s) => s.opcode === 0x2 || (s.opcode === 0x1 && s.length > 65_536),
        )
        assert.equal(
          whole[0]?.code,
          firstBad === undefined ? undefined : firstBad.opcode === 0x2 ? 1003 : 1009,
        )
      },
    ),
    { numRuns: 200 },
  )
})

test('inspectFrames keeps its state in plain fields of any record, one byte at a time', () => {
  const bytes = Buffer.concat([
    frame({ opcode: 0x1, payload: Buffer.alloc(300) }),
    frame({ opcode: 0x1, payload: Buffer.alloc(70_000) }),
  ])
  const record = { other: 'kept', ...new FrameInspection() }
  const seen: FrameViolation[] = []
  for (let i = 0; i < 400; i++) {
    const v = inspectFrames(record, bytes.subarray(i, i + 1), 65_536)
    if (v) seen.push(v)
  }
  // The 70 000-byte frame's 64-bit length header ends inside the first 400 bytes.
  assert.deepEqual(seen, [{ code: 1009, reason: 'Frame too large' }])
  assert.equal(inspectFrames(record, bytes.subarray(400), 65_536), null)
  assert.equal(record.other, 'kept')
})
