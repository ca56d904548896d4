/**
 * The soak's trend check (scenario 8) over synthetic samples: flat and noisy-flat memory pass,
 * a rise in the last third fails, growth before the last third does not count. Each of these
 * fails if the check it relies on is removed (the verdict always passing, or the trend taken
 * over the whole run). The check against a real planted leak is in docs/reliability.md.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { SoakSample } from '../../bench/faults/plot.ts'
import {
  SOAK_RISE_LIMIT_PERCENT,
  sampleInterval,
  soakVerdict,
  trendRisePercent,
} from '../../bench/faults/soak.ts'

const MiB = 1_048_576
const DURATION_MS = 180_000
const EVERY_MS = 5_000

/** Samples every 5 s over 3 min, RSS from `rssMiB(t)`; heap flat at 20 MiB. */
function samples(rssMiB: (t: number, i: number) => number): SoakSample[] {
  const out: SoakSample[] = []
  for (let i = 0, t = 0; t <= DURATION_MS; i++, t += EVERY_MS) {
    out.push({ t, rss: Math.round(rssMiB(t, i) * MiB), heapUsed: 20 * MiB })
  }
  return out
}

/** A fixed pseudo-random sequence in [-1, 1) (the same on every run). */
function noise(seed: number): (i: number) => number {
  const values: number[] = []
  let x = seed
  for (let i = 0; i < 100; i++) {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648
    values.push((x / 2_147_483_648) * 2 - 1)
  }
  return (i) => values[i % values.length] as number
}

describe('soak trend check', () => {
  it('fits a line: 100 → 110 is a 10 % rise', () => {
    assert.equal(
      trendRisePercent([
        { t: 0, v: 100 },
        { t: 1, v: 110 },
      ]),
      10,
    )
    assert.equal(trendRisePercent([{ t: 0, v: 100 }]), 0)
  })

  it('passes flat memory', () => {
    const v = soakVerdict(
      samples(() => 150),
      DURATION_MS,
    )
    assert.equal(v.risePercent, 0)
    assert.equal(v.passed, true)
  })

  it('passes noisy flat memory (±3 MiB around 150 MiB)', () => {
    const n = noise(7)
    const v = soakVerdict(
      samples((_t, i) => 150 + 3 * n(i)),
      DURATION_MS,
    )
    assert.ok(Math.abs(v.risePercent) < SOAK_RISE_LIMIT_PERCENT, `rise ${v.risePercent} %`)
    assert.equal(v.passed, true)
  })

  it('fails memory rising through the last third, however noisy', () => {
    const n = noise(11)
    // 150 MiB plus 0.2 MiB a second: 12 MiB (7 %) over the last minute.
    const v = soakVerdict(
      samples((t, i) => 150 + t / 5_000 + 2 * n(i)),
      DURATION_MS,
    )
    assert.ok(v.risePercent > SOAK_RISE_LIMIT_PERCENT, `rise ${v.risePercent} %`)
    assert.equal(v.passed, false)
  })

  it('fails a rise just above the limit and passes one just below it', () => {
    // Linear over the last third (t from 120 s to 180 s): rise = slope × 60 s / start.
    const rising = (percent: number) =>
      soakVerdict(
        samples((t) => (t < 120_000 ? 100 : 100 + ((t - 120_000) / 60_000) * percent)),
        DURATION_MS,
      )
    assert.equal(rising(6).passed, false)
    assert.equal(rising(4).passed, true)
  })

  it('counts only the last third: growth while warming up then flat passes', () => {
    // 100 → 180 MiB over the first minute (the allocator growing to the working set), then flat.
    const v = soakVerdict(
      samples((t) => (t < 60_000 ? 100 + (t / 60_000) * 80 : 180)),
      DURATION_MS,
    )
    assert.equal(v.passed, true)
    assert.ok(
      trendRisePercent(
        samples((t) => (t < 60_000 ? 100 + (t / 60_000) * 80 : 180)).map((s) => ({
          t: s.t,
          v: s.rss,
        })),
      ) > SOAK_RISE_LIMIT_PERCENT,
    )
  })

  it('samples every minute, a twelfth of a short run, or as asked within 1 s to 60 s', () => {
    assert.equal(sampleInterval({ durationMs: 600_000 }), 60_000)
    assert.equal(sampleInterval({ durationMs: 180_000 }), 15_000)
    assert.equal(sampleInterval({ durationMs: 12_000 }), 5_000)
    assert.equal(sampleInterval({ durationMs: 180_000, sampleMs: 5_000 }), 5_000)
    assert.throws(() => sampleInterval({ durationMs: 180_000, sampleMs: 500 }), RangeError)
    assert.throws(() => sampleInterval({ durationMs: 180_000, sampleMs: 120_000 }), RangeError)
  })
})
