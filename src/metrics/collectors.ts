/**
 * @module metrics/collectors
 * Counters and histograms whose update is a map lookup and an addition, for the events of
 * the hot paths; prom-client reads them only at scrape time (they implement its metric
 * interface: `name`, `help`, `type`, `get()`, `reset()`). prom-client's own metrics hash a
 * labels object on every update, which costs several times more per event.
 *
 * Label values travel as one key, the values joined by `|` in label-name order; every label
 * of these metrics is a closed set without `|`.
 */

/** One exposed sample, in prom-client's shape. */
interface Sample {
  readonly labels: Record<string, string | number>
  readonly value: number
  readonly metricName?: string
}

/** What prom-client's registry reads from a metric. */
interface MetricData {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'histogram'
  readonly values: Sample[]
  readonly aggregator: 'sum'
}

function labelsOf(names: readonly string[], key: string): Record<string, string> {
  const values = names.length === 0 ? [] : key.split('|')
  const labels: Record<string, string> = {}
  names.forEach((n, i) => {
    labels[n] = values[i] ?? ''
  })
  return labels
}

/**
 * A counter by label key.
 *
 * @example
 * ```ts
 * const c = new FastCounter('gatehouse_x_total', 'Things.', ['outcome'])
 * c.inc('accepted')
 * registry.registerMetric(c)
 * ```
 */
export class FastCounter {
  readonly type = 'counter'
  readonly aggregator = 'sum'
  readonly name: string
  readonly help: string
  readonly #labelNames: readonly string[]
  #values = new Map<string, number>()

  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    this.name = name
    this.help = help
    this.#labelNames = labelNames
  }

  /** Add `by` (default 1) to the series of `key` (`''` without labels). */
  inc(key = '', by = 1): void {
    this.#values.set(key, (this.#values.get(key) ?? 0) + by)
  }

  get(): Promise<MetricData> {
    const values: Sample[] = []
    if (this.#labelNames.length === 0 && this.#values.size === 0)
      values.push({ labels: {}, value: 0 })
    for (const [key, value] of this.#values) {
      values.push({ labels: labelsOf(this.#labelNames, key), value })
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    })
  }

  reset(): void {
    this.#values = new Map()
  }
}

interface Series {
  readonly counts: Float64Array
  sum: number
  count: number
}

/**
 * A histogram by label key, with fixed upper bounds.
 *
 * @example
 * ```ts
 * const h = new FastHistogram('gatehouse_x_seconds', 'Latency.', ['op'], [0.001, 0.01, 0.1])
 * h.observe('openSession', 0.002)
 * ```
 */
export class FastHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly name: string
  readonly help: string
  readonly #labelNames: readonly string[]
  readonly #bounds: readonly number[]
  #series = new Map<string, Series>()

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    bounds: readonly number[],
  ) {
    this.name = name
    this.help = help
    this.#labelNames = labelNames
    this.#bounds = [...bounds].sort((a, b) => a - b)
  }

  /** Record `value` in the series of `key` (`''` without labels). */
  observe(key: string, value: number): void {
    let s = this.#series.get(key)
    if (s === undefined) {
      s = { counts: new Float64Array(this.#bounds.length), sum: 0, count: 0 }
      this.#series.set(key, s)
    }
    const bounds = this.#bounds
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        s.counts[i] = (s.counts[i] as number) + 1
        break
      }
    }
    s.sum += value
    s.count += 1
  }

  get(): Promise<MetricData> {
    const values: Sample[] = []
    const series =
      this.#series.size === 0 && this.#labelNames.length === 0
        ? new Map([['', { counts: new Float64Array(this.#bounds.length), sum: 0, count: 0 }]])
        : this.#series
    for (const [key, s] of series) {
      const labels = labelsOf(this.#labelNames, key)
      let cumulative = 0
      this.#bounds.forEach((le, i) => {
        cumulative += s.counts[i] as number
        values.push({
          labels: { ...labels, le },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        })
      })
      values.push({
        labels: { ...labels, le: '+Inf' },
        value: s.count,
        metricName: `${this.name}_bucket`,
      })
      values.push({ labels, value: s.sum, metricName: `${this.name}_sum` })
      values.push({ labels, value: s.count, metricName: `${this.name}_count` })
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    })
  }

  reset(): void {
    this.#series = new Map()
  }
}
