import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { backoffDelayMs } from '../../src/client/backoff.ts'
import { seededRandom } from './fakes.ts'

const MIN = 500
const MAX = 20_000

describe('backoffDelayMs', () => {
  it('stays within [min, max] and under the window of its attempt, over 10k samples each', () => {
    const random = seededRandom(1)
    for (let attempt = 0; attempt <= 40; attempt++) {
      const upper = Math.min(MAX, MIN * 2 ** (attempt + 1))
      for (let i = 0; i < 10_000; i++) {
        const d = backoffDelayMs(attempt, MIN, MAX, random)
        assert.ok(Number.isInteger(d), `attempt ${attempt}: ${d} is not an integer`)
        assert.ok(d >= MIN && d <= upper, `attempt ${attempt}: ${d} outside [${MIN}, ${upper}]`)
      }
    }
  })

  it('grows: the window doubles per attempt until the cap', () => {
    const top = () => 0.999_999_999
    assert.equal(backoffDelayMs(0, MIN, MAX, top), 1000)
    assert.equal(backoffDelayMs(1, MIN, MAX, top), 2000)
    assert.equal(backoffDelayMs(4, MIN, MAX, top), 16_000)
    assert.equal(backoffDelayMs(5, MIN, MAX, top), MAX)
    assert.equal(backoffDelayMs(1000, MIN, MAX, top), MAX)
    assert.equal(
      backoffDelayMs(3, MIN, MAX, () => 0),
      MIN,
    )
  })

  it('spreads its jitter over the whole window (attempt 5: every decile, stddev near uniform)', () => {
    const random = seededRandom(42)
    const n = 10_000
    const deciles = new Array<number>(10).fill(0)
    let sum = 0
    let sumSq = 0
    for (let i = 0; i < n; i++) {
      const d = backoffDelayMs(5, MIN, MAX, random)
      deciles[Math.min(9, Math.floor(((d - MIN) / (MAX - MIN)) * 10))]! += 1
      sum += d
      sumSq += d * d
    }
    for (const [i, count] of deciles.entries()) {
      assert.ok(count > n * 0.07, `decile ${i} holds only ${count} of ${n}`)
    }
    const mean = sum / n
    const sd = Math.sqrt(sumSq / n - mean * mean)
    // A uniform draw over the window has stddev (max - min) / sqrt(12) ≈ 0.289 · range.
    assert.ok(sd > 0.25 * (MAX - MIN), `stddev ${sd} too small: jitter does not spread`)
  })

  it('jitters the very first retry too (a restarted gateway must not see one wave)', () => {
    const random = seededRandom(7)
    const seen = new Set<number>()
    for (let i = 0; i < 1000; i++) seen.add(backoffDelayMs(0, MIN, MAX, random))
    assert.ok(seen.size > 300, `only ${seen.size} distinct first delays`)
    assert.ok(Math.min(...seen) >= MIN && Math.max(...seen) <= 2 * MIN)
  })

  it('keeps its bounds whatever the inputs, even with a broken random source', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.oneof(
          fc.integer({ min: -5, max: 10_000 }),
          fc.double(),
          fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
        ),
        fc.oneof(
          fc.double({ min: 0, max: 1, maxExcluded: true }),
          fc.double(),
          fc.constantFrom(Number.NaN, 1, -1),
        ),
        (min, extra, attempt, r) => {
          const max = min + extra
          const d = backoffDelayMs(attempt, min, max, () => r)
          return d >= min && d <= max
        },
      ),
      { numRuns: 2000 },
    )
  })
})
