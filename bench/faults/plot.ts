/**
 * @module bench/faults/plot
 * The soak curve as a PNG: RSS (blue) and heap used (orange) of the server, MiB, against
 * minutes since the soak started; the last third, whose trend decides the soak, is shaded.
 */
import { encodePng, line, plot, raster, text } from './png.ts'

/** One sample of the soak. */
export interface SoakSample {
  /** ms since the soak started. */
  readonly t: number
  readonly rss: number
  readonly heapUsed: number
}

const W = 800
const H = 400
const LEFT = 70
const RIGHT = 20
const TOP = 20
const BOTTOM = 40
const BLUE = [31, 119, 180]
const ORANGE = [255, 127, 14]
const GREY = [200, 200, 200]
const BLACK = [0, 0, 0]
const SHADE = [240, 240, 250]

/**
 * Draw the samples; returns the PNG bytes.
 *
 * @example
 * ```ts
 * writeFileSync('docs/images/soak.png', soakPlot(samples))
 * ```
 */
export function soakPlot(samples: readonly SoakSample[]): Buffer {
  const r = raster(W, H, [255, 255, 255])
  const mib = (b: number) => b / 1048576
  const tMax = Math.max(1, ...samples.map((s) => s.t))
  const yMax = Math.ceil(Math.max(1, ...samples.map((s) => mib(s.rss))) / 50) * 50
  const x = (t: number) => LEFT + (t / tMax) * (W - LEFT - RIGHT)
  const y = (v: number) => H - BOTTOM - (v / yMax) * (H - TOP - BOTTOM)
  // The last third (its trend is what the soak judges).
  for (let px = Math.round(x((tMax * 2) / 3)); px <= x(tMax); px++) {
    for (let py = TOP; py <= H - BOTTOM; py++) plot(r, px, py, SHADE)
  }
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5
    line(r, LEFT, y(v), W - RIGHT, y(v), GREY)
    text(r, 4, y(v) - 5, `${Math.round(v)} MiB`, BLACK, 2)
  }
  const minutes = tMax / 60_000
  const step = minutes > 30 ? 10 : minutes > 8 ? 2 : minutes > 3 ? 1 : 0.5
  for (let m = 0; m <= minutes + 1e-9; m += step) {
    line(r, x(m * 60_000), H - BOTTOM, x(m * 60_000), H - BOTTOM + 5, BLACK)
    text(r, x(m * 60_000) - 6, H - BOTTOM + 10, `${m}`, BLACK, 2)
  }
  text(r, W - RIGHT - 40, H - BOTTOM + 24, 'min', BLACK, 2)
  line(r, LEFT, TOP, LEFT, H - BOTTOM, BLACK)
  line(r, LEFT, H - BOTTOM, W - RIGHT, H - BOTTOM, BLACK)
  for (const [key, colour] of [
    ['rss', BLUE],
    ['heapUsed', ORANGE],
  ] as const) {
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1]!
      const b = samples[i]!
      line(r, x(a.t), y(mib(a[key])), x(b.t), y(mib(b[key])), colour, 3)
    }
    for (const s of samples) {
      for (let d = -3; d <= 3; d++)
        line(r, x(s.t) - 3, y(mib(s[key])) + d, x(s.t) + 3, y(mib(s[key])) + d, colour)
    }
  }
  // Legend: blue RSS, orange heap.
  line(r, LEFT + 20, TOP + 10, LEFT + 50, TOP + 10, BLUE, 4)
  text(r, LEFT + 56, TOP + 5, 'rss', BLACK, 2)
  line(r, LEFT + 110, TOP + 10, LEFT + 140, TOP + 10, ORANGE, 4)
  text(r, LEFT + 146, TOP + 5, 'heap', BLACK, 2)
  return encodePng(r)
}
