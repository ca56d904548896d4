/**
 * @module bench/lib/hist
 * Latency recording on `perf_hooks.createHistogram`, in microseconds, reported in ms.
 */
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks'
import type { LatencyMs } from './protocol.ts'

/**
 * A latency histogram fed with millisecond durations.
 *
 * @example
 * ```ts
 * const h = latency()
 * const t0 = performance.now()
 * await work()
 * h.record(performance.now() - t0)
 * console.log(h.summary().p99)
 * ```
 */
export interface Latency {
  record(ms: number): void
  summary(): LatencyMs
  readonly count: number
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000

/**
 * Create a {@link Latency} histogram (microsecond resolution, 1 µs floor).
 *
 * @example
 * ```ts
 * const h = latency(); h.record(1.25); h.summary().p50 // 1.25
 * ```
 */
export function latency(): Latency {
  const h: RecordableHistogram = createHistogram()
  return {
    record(ms) {
      h.record(Math.max(1, Math.round(ms * 1000)))
    },
    summary() {
      if (h.count === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 }
      return {
        count: h.count,
        p50: round3(h.percentile(50) / 1000),
        p90: round3(h.percentile(90) / 1000),
        p99: round3(h.percentile(99) / 1000),
        max: round3(h.max / 1000),
        mean: round3(h.mean / 1000),
      }
    },
    get count() {
      return h.count
    },
  }
}

/**
 * Milliseconds since process start, sub-millisecond resolution.
 *
 * @example
 * ```ts
 * const t0 = now(); await work(); const ms = now() - t0
 * ```
 */
export const now = (): number => performance.now()
