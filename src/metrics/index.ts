/**
 * @module metrics
 * `gatehouse/metrics`: the Prometheus exporter. It loads `prom-client` (an optional peer
 * dependency) when created, subscribes to the telemetry stream (`gatehouse` diagnostics
 * channel) and keeps counters, gauges and histograms in a registry of its own (or yours).
 * Serve it from the gateway's management listener (`metrics` option, `GET /metrics`) or from
 * your own server (`render()`, `contentType`).
 *
 * Labels are closed sets only (outcomes, refusal reasons, limit kinds, routes, store
 * methods): never a connection, user, channel or IP.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Registry } from 'prom-client'
import { GatehouseError } from '../errors.ts'
import { subscribe, type TelemetryEvent } from '../telemetry.ts'
import { importOptional } from '../util/optional.ts'
import { FastCounter, FastHistogram } from './collectors.ts'

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Register into this `prom-client` registry (yours, with your own metrics). Default: a new one. */
  readonly registry?: Registry
  /** Name prefix of every metric. Default `gatehouse_`. */
  readonly prefix?: string
  /**
   * Where `open_connections` is read at scrape time, e.g.
   * `() => gateway.stats().openConnections`. Exact even for sockets opened before the
   * exporter was created. Without it the gauge counts open and close events since creation.
   */
  readonly openConnections?: () => number
}

/** A running exporter. */
export interface GatehouseMetrics {
  /** The `prom-client` registry holding the metrics. */
  readonly registry: Registry
  /** The exposition's content type, for your `Content-Type` header. */
  readonly contentType: string
  /** The text exposition (what a scraper reads). */
  render(): Promise<string>
  /** Stop listening to the stream and sampling the event loop; the metrics stay registered. */
  close(): void
}

const KNOWN_OPTIONS = new Set(['registry', 'prefix', 'openConnections'])
const PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]{0,63}$/
const LATENCY_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]
const FANOUT_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000]
const NONE = 'none'
// The keys of an outcome without a reason (every accepted connect), built once rather than
// joined per event: a fresh string is hashed again at each map lookup.
const NO_REASON = { accepted: `accepted|${NONE}`, refused: `refused|${NONE}` } as const

type PromClient = typeof import('prom-client')

async function loadPromClient(): Promise<PromClient> {
  const mod = (await importOptional(
    'prom-client',
    'createMetrics',
    () => import('prom-client'),
  )) as PromClient & { default?: PromClient }
  return mod.default ?? mod
}

/**
 * Create the exporter and start counting. Everything it counts comes from the telemetry
 * stream, so it counts only what happens after it is created.
 *
 * @example
 * ```ts
 * import { createMetrics } from 'gatehouse/metrics'
 * const metrics = await createMetrics()
 * // on the gateway's management listener, GET /metrics:
 * createManagementServer({ connections: gateway.connections, stage: 'production', allowUnauthenticated: true, metrics })
 * // or in your own server:
 * app.get('/metrics', async (_req, res) => res.type(metrics.contentType).send(await metrics.render()))
 * ```
 */
export async function createMetrics(options: MetricsOptions = {}): Promise<GatehouseMetrics> {
  if (options === null || typeof options !== 'object') {
    throw new GatehouseError('ERR_INVALID_OPTION', 'createMetrics() options must be an object.')
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new GatehouseError('ERR_INVALID_OPTION', `createMetrics(): unknown option \`${key}\`.`)
    }
  }
  const prefix = options.prefix ?? 'gatehouse_'
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      'prefix must match ^[a-zA-Z_:][a-zA-Z0-9_:]{0,63}$.',
    )
  }
  const readOpen = options.openConnections
  if (readOpen !== undefined && typeof readOpen !== 'function') {
    throw new GatehouseError('ERR_INVALID_OPTION', 'openConnections must be a function.')
  }
  const prom = await loadPromClient()
  const registry = options.registry ?? new prom.Registry()
  const registers = [registry]
  const n = (name: string): string => `${prefix}${name}`
  // The event-fed metrics are updated on hot paths: plain maps, read by prom-client at
  // scrape time (see ./collectors.ts).
  const register = <M extends FastCounter | FastHistogram>(metric: M): M => {
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0])
    return metric
  }
  const counter = (name: string, help: string, labels: string[] = []): FastCounter =>
    register(new FastCounter(n(name), help, labels))
  const histogram = (name: string, help: string, labels: string[], buckets: number[]) =>
    register(new FastHistogram(n(name), help, labels, buckets))

  let openConnections = 0
  new prom.Gauge({
    name: n('open_connections'),
    help: 'WebSocket connections open on this gateway.',
    registers,
    collect() {
      this.set(readOpen === undefined ? openConnections : readOpen())
    },
  })
  const gatewayConnects = counter(
    'gateway_connects_total',
    "Upgrades by the gateway's outcome and refusal reason.",
    ['outcome', 'reason'],
  )
  const appConnects = counter(
    'app_connects_total',
    "$connect events by the app's outcome and refusal reason.",
    ['outcome', 'reason'],
  )
  const tokensIssued = counter('tokens_issued_total', 'Connection tokens issued.')
  const tokensUsed = counter('tokens_used_total', 'Connection tokens used at $connect.')
  const tokenRefusals = counter(
    'token_refusals_total',
    'Token requests (issue) and token uses (use) refused, by reason.',
    ['stage', 'reason'],
  )
  const rateLimited = counter(
    'rate_limited_total',
    'Requests refused by a rate limit, by limit kind.',
    ['kind'],
  )
  const messagesIn = counter('messages_in_total', 'Messages received from clients by the gateway.')
  const messagesOut = counter('messages_out_total', 'Messages delivered to connections by pushes.')
  const pushFailed = counter(
    'push_failed_total',
    'Pushes that failed in transport (gateway unreachable, 5xx).',
  )
  const pushGone = counter(
    'push_gone_total',
    'Connections a push found gone (410 / GoneException).',
  )
  const fanout = histogram('fanout_size', 'Connections addressed per push.', [], FANOUT_BUCKETS)
  const integration = histogram(
    'integration_duration_seconds',
    'Integration call latency of the gateway, by route group and outcome.',
    ['route', 'outcome'],
    LATENCY_BUCKETS_S,
  )
  const store = histogram(
    'store_duration_seconds',
    'Store call latency, by method and outcome.',
    ['op', 'outcome'],
    LATENCY_BUCKETS_S,
  )

  // Event-loop lag since the previous scrape: what every socket of this process waits.
  const loop = monitorEventLoopDelay({ resolution: 20 })
  loop.enable()
  new prom.Gauge({
    name: n('event_loop_lag_seconds'),
    help: 'Event-loop delay since the previous scrape, by quantile (0.5, 0.99, 1 = max).',
    labelNames: ['quantile'],
    registers,
    collect() {
      const ns = (v: number): number => (Number.isFinite(v) ? v / 1e9 : 0)
      this.set({ quantile: '0.5' }, ns(loop.percentile(50)))
      this.set({ quantile: '0.99' }, ns(loop.percentile(99)))
      this.set({ quantile: '1' }, ns(loop.max))
      loop.reset()
    },
  })

  const onEvent = (e: TelemetryEvent): void => {
    switch (e.type) {
      case 'connection_opened':
        openConnections++
        return
      case 'connection_closed':
        openConnections--
        return
      case 'gateway_connect':
        gatewayConnects.inc(
          e.reason === undefined ? NO_REASON[e.outcome] : `${e.outcome}|${e.reason}`,
        )
        return
      case 'app_connect':
        appConnects.inc(e.reason === undefined ? NO_REASON[e.outcome] : `${e.outcome}|${e.reason}`)
        return
      case 'token_issued':
        tokensIssued.inc()
        return
      case 'token_used':
        tokensUsed.inc()
        return
      case 'token_refused':
        tokenRefusals.inc(`${e.stage}|${e.reason}`)
        return
      case 'rate_limited':
        rateLimited.inc(e.kind)
        return
      case 'message_in':
        messagesIn.inc()
        return
      case 'push':
        messagesOut.inc('', e.sent)
        fanout.observe('', e.recipients)
        return
      case 'push_failed':
        pushFailed.inc()
        return
      case 'push_gone':
        pushGone.inc('', e.count)
        return
      case 'integration':
        integration.observe(`${e.route}|${e.outcome}`, e.durationMs / 1000)
        return
      case 'store':
        store.observe(e.ok ? `${e.op}|ok` : `${e.op}|error`, e.durationMs / 1000)
        return
    }
  }
  const unsubscribe = subscribe(onEvent)

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    close() {
      unsubscribe()
      loop.disable()
    },
  }
}
