/**
 * @module bench/faults/restart
 * Fault scenario 6, the restart storm: N real browser clients connected to the fault server
 * (gateway, app and token endpoint in one process on an SQLite file, as `npm start`); SIGTERM
 * it, and every client must see 1001; start it again on the same ports and file, and every
 * client must come back with a fresh token, none refused 429 by the token endpoint or at
 * `$connect`. Per-user limits stay at their defaults; what N users behind one address need
 * is raised (see {@link restartLimits}).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { GatehouseClient } from '../../src/client/index.ts'
import { DEFAULTS } from '../../src/defaults.ts'
import { percentile, until } from '../../test/support/processes.ts'
import { browserClient } from './browser.ts'
import type { ServerConfig } from './server-config.ts'
import { startServer } from './server-handle.ts'

/**
 * The limits a restart storm of `users` users behind one address runs with: every app limit
 * at its default (per user: 20 tokens and 20 connects per minute; per IP: 20 failed token
 * attempts per minute, honest connects never counted). The gateway's per-address caps are
 * raised to what `users` browsers need: its global 256 pending handshakes, two sockets per
 * user, and an upgrade burst of two per user (the first connects and the storm).
 *
 * @example
 * ```ts
 * restartLimits(1_000) // { gateway: { maxConnectionsPerIp: 2_000, … } }
 * ```
 */
export function restartLimits(users: number): Pick<ServerConfig, 'app' | 'gateway'> {
  return {
    gateway: {
      maxPendingHandshakesPerIp: DEFAULTS.maxPendingHandshakes,
      // Two per user: a browser whose attempt timed out on a loaded machine may open its
      // next socket before the gateway has seen the old one close.
      maxConnectionsPerIp: Math.max(DEFAULTS.maxConnectionsPerIp, 2 * users),
      upgradeBurstPerIp: 2 * users,
    },
  }
}

/** What a restart storm measured. */
export interface RestartResult {
  readonly users: number
  /** Clients that saw close code 1001 when the server stopped. */
  readonly saw1001: number
  readonly closeCodes: Record<string, number>
  readonly exitCode: number | null
  /** Sockets the server held when it was stopped. */
  readonly openAtStop: number
  /** `$disconnect` calls the stopping server made. */
  readonly disconnectsAtStop: number
  /** Clients open again after the restart. */
  readonly reopened: number
  /** Time from each client's close to its socket open again, ms. */
  readonly reconnectMs: { p50: number; p90: number; p99: number; max: number }
  /** ms from the restart's ready line to the last client open. */
  readonly lastAfterReadyMs: number
  readonly restartStartMs: number
  /** The new process's `$connect` refusals by status (`gw…`: the gateway's own) and token answers. */
  readonly refused: Record<string, number>
  readonly tokenStatuses: Record<string, number>
  /** 429s the clients saw from the token endpoint. */
  readonly token429: number
  /** Delays of each client's first reconnect attempt (jitter), ms. */
  readonly firstDelayMs: { min: number; p10: number; p50: number; p90: number; max: number }
  /** The most first attempts that started within any 100 ms. */
  readonly peakAttemptsPer100Ms: number
  /**
   * From each client's close to its first reconnect attempt, ms: the jitter as it played
   * out in the storm (without jitter every client waits the same).
   */
  readonly firstAttemptAfterCloseMs: { p10: number; p50: number; p90: number }
  readonly connectsAfterRestart: number
}

/**
 * Run the storm with `users` clients.
 *
 * @example
 * ```ts
 * const r = await runRestart(1_000)
 * ```
 */
export async function runRestart(
  users: number,
  options: { random?: () => number } = {},
): Promise<RestartResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-faults-restart-'))
  const limits = restartLimits(users)
  let server = await startServer({ dir, ...limits })
  const clients: GatehouseClient[] = []
  const openedAt = new Array<number>(users).fill(0)
  const closedAt = new Array<number>(users).fill(0)
  const firstDelay = new Array<number>(users).fill(-1)
  const firstAttemptAt = new Array<number>(users).fill(0)
  const closeCodes: Record<string, number> = {}
  let token429 = 0
  let stoppedAt = 0
  try {
    for (let i = 0; i < users; i++) {
      const client = browserClient(`u${i}`, server, {
        ...(options.random ? { random: options.random } : {}),
      })
      client.on('open', () => {
        openedAt[i] = performance.now()
      })
      client.on('close', ({ code }) => {
        if (stoppedAt === 0 || closedAt[i] !== 0) return
        closedAt[i] = performance.now()
        closeCodes[code] = (closeCodes[code] ?? 0) + 1
      })
      client.on('state', ({ state, delayMs }) => {
        if (stoppedAt === 0 || firstDelay[i] !== -1) return
        if (state === 'reconnecting' && delayMs !== undefined) firstDelay[i] = delayMs
      })
      client.on('state', ({ state }) => {
        if (state === 'connecting' && firstDelay[i] !== -1 && firstAttemptAt[i] === 0) {
          firstAttemptAt[i] = performance.now()
        }
      })
      client.on('error', ({ reason, status }) => {
        if (reason === 'token' && status === 429) token429++
      })
      clients.push(client)
    }
    // The first connects come in waves, as tabs open over a few seconds.
    for (let i = 0; i < users; i += 50) {
      for (const c of clients.slice(i, i + 50)) c.connect()
      await new Promise((r) => setTimeout(r, 50))
    }
    await until(() => openedAt.every((t) => t > 0), 120_000, 50, 'every client open')

    // Connects that timed out on a loaded machine and were retried have their own
    // $disconnect: count only what the stop fires.
    const beforeStop = await server.stats()
    openedAt.fill(0)
    stoppedAt = performance.now()
    const final = await server.terminate()
    await until(() => closedAt.every((t) => t > 0), 30_000, 20, 'every client to see the close')
    const restartAt = performance.now()
    server = await startServer({ dir, ...limits, ...server.ports })
    const readyAt = performance.now()
    await until(() => openedAt.every((t) => t > 0), 180_000, 50, 'every client open again')
    const after = await server.stats()
    const reconnect = openedAt.map((t, i) => t - closedAt[i]!)
    const starts = firstAttemptAt.filter((t) => t > 0).sort((a, b) => a - b)
    let peak = 0
    for (let lo = 0, hi = 0; hi < starts.length; hi++) {
      while (starts[hi]! - starts[lo]! > 100) lo++
      peak = Math.max(peak, hi - lo + 1)
    }
    const delays = firstDelay.filter((d) => d >= 0)
    const offsets = firstAttemptAt.flatMap((t, i) => (t > 0 ? [t - closedAt[i]!] : []))
    return {
      users,
      saw1001: closeCodes[1001] ?? 0,
      closeCodes,
      exitCode: final.code,
      openAtStop: beforeStop.open,
      disconnectsAtStop: final.disconnects - beforeStop.disconnects,
      reopened: openedAt.filter((t) => t > 0).length,
      reconnectMs: {
        p50: Math.round(percentile(reconnect, 0.5)),
        p90: Math.round(percentile(reconnect, 0.9)),
        p99: Math.round(percentile(reconnect, 0.99)),
        max: Math.round(Math.max(...reconnect)),
      },
      lastAfterReadyMs: Math.round(Math.max(...openedAt) - readyAt),
      restartStartMs: Math.round(readyAt - restartAt),
      refused: after.refused,
      tokenStatuses: after.tokens,
      token429,
      firstDelayMs: {
        min: Math.min(...delays),
        p10: Math.round(percentile(delays, 0.1)),
        p90: Math.round(percentile(delays, 0.9)),
        p50: Math.round(percentile(delays, 0.5)),
        max: Math.max(...delays),
      },
      peakAttemptsPer100Ms: peak,
      firstAttemptAfterCloseMs: {
        p10: Math.round(percentile(offsets, 0.1)),
        p50: Math.round(percentile(offsets, 0.5)),
        p90: Math.round(percentile(offsets, 0.9)),
      },
      connectsAfterRestart: after.connects,
    }
  } finally {
    for (const c of clients) c.close()
    await server.terminate().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The figure line of a storm.
 *
 * @example
 * ```ts
 * console.log(restartFigure(await runRestart(1_000)))
 * ```
 */
export function restartFigure(r: RestartResult): string {
  return (
    `figure: restart storm: ${r.users} clients, ${r.saw1001} saw 1001, server exit ${r.exitCode}, ` +
    `${r.disconnectsAtStop} $disconnect at stop; restart ready in ${r.restartStartMs} ms; ` +
    `reconnect p50 ${r.reconnectMs.p50} ms, p90 ${r.reconnectMs.p90} ms, p99 ${r.reconnectMs.p99} ms, max ${r.reconnectMs.max} ms ` +
    `(last ${r.lastAfterReadyMs} ms after ready); first retry delay ${r.firstDelayMs.min}–${r.firstDelayMs.max} ms ` +
    `(p10 ${r.firstDelayMs.p10}, p90 ${r.firstDelayMs.p90}); first attempt p10/p50/p90 ${r.firstAttemptAfterCloseMs.p10}/` +
    `${r.firstAttemptAfterCloseMs.p50}/${r.firstAttemptAfterCloseMs.p90} ms after the close, ` +
    `peak ${r.peakAttemptsPer100Ms} first attempts per 100 ms; refusals ${JSON.stringify(r.refused)}, ` +
    `token answers ${JSON.stringify(r.tokenStatuses)}`
  )
}
