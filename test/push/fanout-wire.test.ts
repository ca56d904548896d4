import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { decodeFanout, encodeFanout, fanoutBodyLimit } from '../../src/push/fanout-wire.ts'

const idArb = fc.stringMatching(/^[A-Za-z0-9_=-]{1,128}$/)

describe('fan-out wire format', () => {
  it('round-trips any ids and any data bytes, newlines and commas included', () => {
    fc.assert(
      fc.property(
        fc.array(idArb, { maxLength: 20 }),
        fc.uint8Array({ maxLength: 300 }),
        (ids, data) => {
          const decoded = decodeFanout(encodeFanout(ids, data))
          assert.ok(decoded)
          assert.deepEqual(decoded.ids, ids)
          assert.deepEqual(Buffer.from(decoded.data), Buffer.from(data))
        },
      ),
    )
  })

  it('the data is a view into the body, not a copy', () => {
    const body = encodeFanout(['a='], 'hello')
    const decoded = decodeFanout(body)
    assert.ok(decoded)
    assert.equal(decoded.data.buffer, body.buffer)
  })

  it('a body without a newline has no ids line', () => {
    assert.equal(decodeFanout(new TextEncoder().encode('a=,b=')), null)
  })

  it('the body limit covers the largest ids line plus the payload', () => {
    const ids = Array.from({ length: 3 }, (_, i) => `${i}`.padEnd(128, 'x'))
    const body = encodeFanout(ids, 'y'.repeat(100))
    assert.ok(body.byteLength <= fanoutBodyLimit(100, 3))
    assert.equal(fanoutBodyLimit(131_072), 1_421_073)
  })
})
