import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { clfTime } from '../../src/events/clf-time.ts'

describe('clfTime', () => {
  it('formats epoch ms as API Gateway does, in UTC', () => {
    assert.equal(clfTime(Date.UTC(2024, 0, 20, 11, 55, 0)), '20/Jan/2024:11:55:00 +0000')
    assert.equal(clfTime(Date.UTC(2019, 0, 7, 9, 20, 57, 999)), '07/Jan/2019:09:20:57 +0000')
    assert.equal(clfTime(Date.UTC(2030, 11, 31, 23, 59, 59)), '31/Dec/2030:23:59:59 +0000')
  })

  it('always has the CLF shape', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }), (ms) => {
        assert.match(
          clfTime(ms),
          /^\d{2}\/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/,
        )
      }),
    )
  })
})
