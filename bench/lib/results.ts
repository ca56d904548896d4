/**
 * @module bench/lib/results
 * The shape of `bench/results.json`, the ratios Gatehouse is judged by, and the targets.
 */
import type { Scenario, SystemId } from './protocol.ts'

/** Figures of one scenario on one system (raw, as the load generator measured them). */
export type Figures = Record<string, unknown>

/** One system's results: figures per scenario, or why it did not run. */
export interface SystemResults {
  readonly skipped?: string
  readonly scenarios: Partial<Record<Scenario, Figures & { error?: string }>>
}

/** `bench/results.json`. */
export interface Results {
  readonly meta: Record<string, unknown>
  readonly systems: Partial<Record<SystemId, SystemResults>>
  readonly ratios: Record<string, number | null>
  readonly targets: Record<string, { target: string; value: number | null; met: boolean | null }>
}

/**
 * Read a numeric figure of one scenario by its dotted path; `null` when absent.
 *
 * @example
 * ```ts
 * figure(results.systems.ws, 'connect', 'handshakeMs.p99') // 46.6
 * ```
 */
export function figure(
  sys: SystemResults | undefined,
  scenario: Scenario,
  path: string,
): number | null {
  let v: unknown = sys?.scenarios[scenario]
  for (const key of path.split('.')) {
    if (typeof v !== 'object' || v === null) return null
    v = (v as Record<string, unknown>)[key]
  }
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

function ratio(a: number | null, b: number | null): number | null {
  if (a === null || b === null || b === 0) return null
  return Math.round((a / b) * 1000) / 1000
}

/** Each ratio: Gatehouse (in-process unless named) over another system, from which figure. */
const RATIO_SPECS: ReadonlyArray<readonly [string, SystemId, SystemId, Scenario, string]> = [
  ['connects_vs_ws', 'gatehouse', 'ws', 'connect', 'connectsPerSec'],
  ['connects_vs_socketio', 'gatehouse', 'socketio', 'connect', 'connectsPerSec'],
  ['fanout_vs_ws', 'gatehouse', 'ws', 'fanout', 'deliveriesPerSec'],
  ['fanout_vs_socketio', 'gatehouse', 'socketio', 'fanout', 'deliveriesPerSec'],
  ['rss_per_conn_vs_ws', 'gatehouse', 'ws', 'memory', 'rssPerConnBytes'],
  ['heap_per_conn_vs_ws', 'gatehouse', 'ws', 'memory', 'heapPerConnBytes'],
  ['rss_per_conn_vs_socketio', 'gatehouse', 'socketio', 'memory', 'rssPerConnBytes'],
  ['roundtrip_p99_vs_ws', 'gatehouse', 'ws', 'roundtrip', 'latencyMs.p99'],
  ['roundtrip_p99_vs_socketio', 'gatehouse', 'socketio', 'roundtrip', 'latencyMs.p99'],
  ['handshake_p99_vs_ws', 'gatehouse', 'ws', 'connect', 'handshakeMs.p99'],
  ['fanout_p99_vs_ws', 'gatehouse', 'ws', 'fanout', 'latencyMs.p99'],
  ['messages_vs_ws', 'gatehouse', 'ws', 'messages', 'messagesPerSec'],
  ['messages_vs_socketio', 'gatehouse', 'socketio', 'messages', 'messagesPerSec'],
  ['http_messages_vs_inprocess', 'gatehouse-http', 'gatehouse', 'messages', 'messagesPerSec'],
  ['http_connects_vs_inprocess', 'gatehouse-http', 'gatehouse', 'connect', 'connectsPerSec'],
  ['http_connects_vs_ws', 'gatehouse-http', 'ws', 'connect', 'connectsPerSec'],
]

/**
 * The performance targets (the second wave's), on the in-process path unless named. Every
 * run reports each of them as met or missed; none is an assertion anywhere.
 */
const TARGETS: ReadonlyArray<readonly [string, '>=' | '<=', number]> = [
  ['messages_vs_ws', '>=', 0.8],
  ['messages_vs_socketio', '>=', 1.5],
  ['connects_vs_ws', '>=', 0.8],
  ['connects_vs_socketio', '>=', 1.8],
  ['fanout_vs_ws', '>=', 1.0],
  ['fanout_vs_socketio', '>=', 1.2],
  ['roundtrip_p99_vs_ws', '<=', 1.2],
  ['rss_per_conn_vs_ws', '<=', 1.1],
  ['http_messages_vs_inprocess', '>=', 0.5],
  ['http_connects_vs_inprocess', '>=', 0.8],
]

/**
 * Compute the ratios and the targets from the per-system figures.
 *
 * @example
 * ```ts
 * const { ratios, targets } = judge(results.systems)
 * ```
 */
export function judge(systems: Results['systems']): Pick<Results, 'ratios' | 'targets'> {
  const ratios: Record<string, number | null> = {}
  for (const [name, a, b, scenario, path] of RATIO_SPECS) {
    ratios[name] = ratio(figure(systems[a], scenario, path), figure(systems[b], scenario, path))
  }
  const targets: Results['targets'] = {}
  for (const [name, op, bound] of TARGETS) {
    const value = ratios[name] ?? null
    targets[name] = {
      target: `${op} ${bound}`,
      value,
      met: value === null ? null : op === '>=' ? value >= bound : value <= bound,
    }
  }
  return { ratios, targets }
}
