/**
 * @module admin/recent
 * What the admin page remembers from the telemetry stream: the latest refusals (with their
 * closed reason), totals per reason since start, and the rate-limited keys seen most often.
 * Bounded: a fixed number of refusals and of keys, whatever the traffic.
 */
import type { RefusalReason } from '../http/refusal.ts'
import { subscribe, type TelemetryEvent } from '../telemetry.ts'

/** One remembered refusal. */
export interface RecentRefusal {
  readonly at: number
  /** Who refused: the gateway, the app at `$connect`, or the token endpoint or use. */
  readonly source: 'gateway' | 'app' | 'token'
  readonly reason: RefusalReason
  readonly status?: number
}

/** The recorder of one admin handler. */
export interface RecentActivity {
  /** Newest first. */
  refusals(): readonly RecentRefusal[]
  /** Totals per `source/reason` since the handler started, largest first. */
  totals(): readonly { readonly source: string; readonly reason: string; readonly count: number }[]
  /** Rate-limited keys by count, largest first. */
  hotKeys(
    limit: number,
  ): readonly { readonly kind: string; readonly key: string; readonly count: number }[]
  close(): void
}

const MAX_KEYS = 1000

/**
 * Start recording.
 *
 * @example
 * ```ts
 * const recent = recordActivity(50, () => Date.now())
 * recent.refusals()[0]?.reason // 'origin_forbidden'
 * ```
 */
export function recordActivity(keep: number, now: () => number): RecentActivity {
  const ring: RecentRefusal[] = []
  const totals = new Map<string, number>()
  const keys = new Map<string, { kind: string; key: string; count: number }>()

  const remember = (r: RecentRefusal): void => {
    ring.unshift(r)
    if (ring.length > keep) ring.length = keep
    const k = `${r.source}/${r.reason}`
    totals.set(k, (totals.get(k) ?? 0) + 1)
  }

  const onEvent = (e: TelemetryEvent): void => {
    if (e.type === 'gateway_connect' && e.outcome === 'refused' && e.reason !== undefined) {
      // `connect_refused` relays the app's own refusal, which the app event records.
      if (e.reason !== 'connect_refused') {
        remember({ at: now(), source: 'gateway', reason: e.reason, status: e.status })
      }
    } else if (e.type === 'app_connect' && e.outcome === 'refused' && e.reason !== undefined) {
      remember({ at: now(), source: 'app', reason: e.reason, status: e.status })
    } else if (e.type === 'token_refused' && e.stage === 'issue') {
      remember({ at: now(), source: 'token', reason: e.reason })
    } else if (e.type === 'rate_limited') {
      const key = e.key ?? '(per connection)'
      const id = `${e.kind} ${key}`
      const entry = keys.get(id)
      if (entry) entry.count++
      else {
        // Bounded: past the cap the oldest key is forgotten.
        if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value as string)
        keys.set(id, { kind: e.kind, key, count: 1 })
      }
    }
  }
  const stop = subscribe(onEvent)

  return {
    refusals: () => ring.slice(),
    totals: () =>
      [...totals]
        .map(([k, count]) => {
          const slash = k.indexOf('/')
          return { source: k.slice(0, slash), reason: k.slice(slash + 1), count }
        })
        .sort((a, b) => b.count - a.count),
    hotKeys: (limit) => [...keys.values()].sort((a, b) => b.count - a.count).slice(0, limit),
    close: stop,
  }
}
