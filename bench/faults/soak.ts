/**
 * @module bench/faults/soak
 * Fault scenario 8, the soak (`npm run bench -- --soak[=seconds]`, default 600): 2,000
 * authenticated sockets in 20 rooms, steady chat traffic (each socket sends a message about
 * every 30 s, fanned out to its room), 5 % of the sockets reconnecting per minute with fresh
 * tokens. The server's heap and RSS (after a full collection) are sampled every minute (a
 * twelfth of the run when that is shorter, or every `sampleMs`). The soak fails when the RSS
 * trend of the last third rises more than 5 % ({@link soakVerdict}): the least-squares slope
 * over that third, times its length, over the fitted value at its start.
 *
 * `plantLeakBytesPerMessage` makes the server process (bench/faults/server.ts, never `src/`)
 * keep that many bytes for every message it handles: the leak the trend check must catch.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import type { SoakSample } from './plot.ts'
import { connectUser } from './scale.ts'
import { startServer } from './server-handle.ts'

/** Sizes of a soak. */
export interface SoakOptions {
  readonly durationMs: number
  readonly connections: number
  readonly rooms: number
  /** Mean time between two messages of one socket. */
  readonly messageEveryMs: number
  /** Share of the sockets reconnecting per minute. */
  readonly reconnectShare: number
  readonly sources: number
  /** Sample every this many ms (1 s to 60 s); default every minute, a twelfth of a short run. */
  readonly sampleMs?: number
  /** Bytes the server keeps per message handled: a planted leak, to prove the check. */
  readonly plantLeakBytesPerMessage?: number
}

/** The largest RSS rise of the last third that passes, percent. */
export const SOAK_RISE_LIMIT_PERCENT = 5

/** What a soak measured. */
export interface SoakResult {
  readonly options: SoakOptions
  readonly samples: ReadonlyArray<
    SoakSample & { open: number; messages: number; delivered: number }
  >
  readonly sampleMs: number
  /** RSS rise over the last third, percent (the verdict's figure). */
  readonly lastThirdRisePercent: number
  readonly heapLastThirdRisePercent: number
  readonly passed: boolean
  readonly messagesSent: number
  readonly delivered: number
  readonly reconnects: number
  readonly reconnectFailures: number
  /** The first few reasons a reconnect failed. */
  readonly reconnectErrors: readonly string[]
}

/**
 * Rise of a least-squares line over the points, in percent of its value at the first one.
 *
 * @example
 * ```ts
 * trendRisePercent([{ t: 0, v: 100 }, { t: 1, v: 110 }]) // 10
 * ```
 */
export function trendRisePercent(points: ReadonlyArray<{ t: number; v: number }>): number {
  if (points.length < 2) return 0
  const n = points.length
  const mt = points.reduce((a, p) => a + p.t, 0) / n
  const mv = points.reduce((a, p) => a + p.v, 0) / n
  let num = 0
  let den = 0
  for (const p of points) {
    num += (p.t - mt) * (p.v - mv)
    den += (p.t - mt) ** 2
  }
  const slope = den === 0 ? 0 : num / den
  const t0 = points[0]!.t
  const t1 = points[n - 1]!.t
  const start = mv + slope * (t0 - mt)
  return start === 0 ? 0 : ((slope * (t1 - t0)) / start) * 100
}

/**
 * The soak's verdict over its samples: the RSS and heap trend of the samples in the last third
 * of `durationMs` ({@link trendRisePercent}), and whether the RSS trend stayed within
 * {@link SOAK_RISE_LIMIT_PERCENT}.
 *
 * @example
 * ```ts
 * soakVerdict([{ t: 0, rss: 100, heapUsed: 10 }, { t: 60_000, rss: 100, heapUsed: 10 }], 60_000).passed // true
 * ```
 */
export function soakVerdict(
  samples: ReadonlyArray<SoakSample>,
  durationMs: number,
): { readonly risePercent: number; readonly heapRisePercent: number; readonly passed: boolean } {
  const third = samples.filter((s) => s.t >= (durationMs * 2) / 3)
  const rise = trendRisePercent(third.map((s) => ({ t: s.t, v: s.rss })))
  const heapRise = trendRisePercent(third.map((s) => ({ t: s.t, v: s.heapUsed })))
  return {
    risePercent: Math.round(rise * 100) / 100,
    heapRisePercent: Math.round(heapRise * 100) / 100,
    passed: rise <= SOAK_RISE_LIMIT_PERCENT,
  }
}

/**
 * The sample interval of a soak: `sampleMs` when given (1 s to 60 s), else every minute, or a
 * twelfth of a soak shorter than ten minutes (at least 5 s), so it still draws a curve.
 *
 * @example
 * ```ts
 * sampleInterval({ durationMs: 180_000 }) // 15_000
 * ```
 */
export function sampleInterval(o: Pick<SoakOptions, 'durationMs' | 'sampleMs'>): number {
  if (o.sampleMs !== undefined) {
    if (!Number.isFinite(o.sampleMs) || o.sampleMs < 1_000 || o.sampleMs > 60_000) {
      throw new RangeError(`sampleMs must be 1000 to 60000, got ${o.sampleMs}`)
    }
    return Math.round(o.sampleMs)
  }
  return o.durationMs >= 600_000 ? 60_000 : Math.max(5_000, Math.round(o.durationMs / 12))
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Run a soak.
 *
 * @example
 * ```ts
 * const r = await runSoak({ durationMs: 600_000, connections: 2_000, rooms: 20, messageEveryMs: 30_000, reconnectShare: 0.05, sources: 10 })
 * ```
 */
export async function runSoak(
  o: SoakOptions,
  log: (line: string) => void = () => {},
): Promise<SoakResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-faults-soak-'))
  const sampleMs = sampleInterval(o)
  const server = await startServer({
    dir,
    ...(o.plantLeakBytesPerMessage ? { plantLeakBytesPerMessage: o.plantLeakBytesPerMessage } : {}),
    gateway: {
      maxConnectionsPerIp: Math.max(1_000, Math.ceil(o.connections / o.sources) + 100),
      maxPendingHandshakesPerIp: 256,
      upgradeBurstPerIp: o.connections * 2,
    },
  })
  const sockets: Array<WebSocket | null> = new Array(o.connections).fill(null)
  let delivered = 0
  let messagesSent = 0
  let reconnects = 0
  let reconnectFailures = 0
  const reconnectErrors = new Set<string>()
  const room = (i: number) => `room${i % o.rooms}`
  const open = async (i: number) => {
    const ws = await connectUser(server, `u${i}`, `127.0.0.${2 + (i % o.sources)}`, room(i))
    ws.on('message', () => {
      delivered++
    })
    sockets[i] = ws
  }
  try {
    let next = 0
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < o.connections) await open(next++)
      }),
    )
    log(`soak: ${o.connections} sockets open`)
    const samples: Array<SoakResult['samples'][number]> = []
    const started = performance.now()
    const sample = async () => {
      const s = await server.stats(true)
      const point = {
        t: Math.round(performance.now() - started),
        rss: s.rss,
        heapUsed: s.heapUsed,
        open: s.open,
        messages: s.messages,
        delivered,
      }
      samples.push(point)
      log(
        `soak: t=${(point.t / 1000).toFixed(0)} s rss ${(s.rss / 1048576).toFixed(1)} MiB heap ${(s.heapUsed / 1048576).toFixed(1)} MiB open ${s.open} delivered ${delivered}`,
      )
    }
    await sample()
    // Traffic: one tick every 100 ms sends this tick's share of the messages.
    const perTick = (o.connections * 100) / o.messageEveryMs
    let owed = 0
    const traffic = setInterval(() => {
      owed += perTick
      for (; owed >= 1; owed--) {
        const ws = sockets[Math.floor(Math.random() * o.connections)]
        if (ws?.readyState !== WebSocket.OPEN) continue
        ws.send(`{"action":"send_message","text":"soak message ${messagesSent}"}`)
        messagesSent++
      }
    }, 100)
    // Reconnects: evenly spread, `reconnectShare` of the sockets per minute.
    const reconnectEveryMs = 60_000 / Math.max(1, o.connections * o.reconnectShare)
    const churn = setInterval(() => {
      const i = Math.floor(Math.random() * o.connections)
      const ws = sockets[i]
      if (!ws) return
      sockets[i] = null
      ws.close()
      reconnects++
      open(i).catch((err: unknown) => {
        reconnectFailures++
        if (reconnectErrors.size < 5) reconnectErrors.add(String(err))
      })
    }, reconnectEveryMs)
    let nextSample = sampleMs
    while (performance.now() - started < o.durationMs) {
      const wait = Math.min(nextSample, o.durationMs) - (performance.now() - started)
      await sleep(Math.max(0, wait))
      if (performance.now() - started >= nextSample - 5) {
        await sample()
        nextSample += sampleMs
      }
    }
    clearInterval(traffic)
    clearInterval(churn)
    if (samples.at(-1)!.t < o.durationMs - 1_000) await sample()
    const verdict = soakVerdict(samples, o.durationMs)
    return {
      options: o,
      samples,
      sampleMs,
      lastThirdRisePercent: verdict.risePercent,
      heapLastThirdRisePercent: verdict.heapRisePercent,
      passed: verdict.passed,
      messagesSent,
      delivered,
      reconnects,
      reconnectFailures,
      reconnectErrors: [...reconnectErrors],
    }
  } finally {
    for (const ws of sockets) ws?.terminate()
    await server.terminate().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
}
