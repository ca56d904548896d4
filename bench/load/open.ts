/**
 * @module bench/load/open
 * Issue tokens, then connect with them: the authenticated connect, measured in two parts
 * (token issue over HTTP, then the WebSocket handshake that consumes the token).
 */

import { latency, now } from '../lib/hist.ts'
import { runPool } from '../lib/pool.ts'
import type { LatencyMs, LoadJob } from '../lib/protocol.ts'
import { type Client, connect, issueToken, type Ticket } from './clients.ts'
import { profiled, readCpu, tokenAgent } from './http.ts'

/** Figures of one phase (token issue or connect). */
export interface PhaseFigures {
  readonly attempted: number
  readonly ok: number
  readonly failed: number
  readonly errors: readonly string[]
  readonly timedOut: boolean
  readonly wallMs: number
  readonly perSec: number
  readonly latencyMs: LatencyMs
  /** Server CPU time (user + system) spent during this phase, per successful operation. */
  readonly serverCpuUsPerOp: number
}

/** Clients connected, with the figures of both phases. */
export interface Opened {
  readonly clients: Client[]
  readonly tokens: PhaseFigures
  readonly connects: PhaseFigures
}

const round = (n: number): number => Math.round(n * 10) / 10
const perOp = (us: number, n: number): number => (n > 0 ? Math.round(us / n) : 0)

/**
 * Issue `count` tokens, then connect `count` clients with them (spread over the job's source
 * addresses and sessions), each phase with `job.concurrency` in flight, until `deadline`.
 *
 * @example
 * ```ts
 * const { clients, connects } = await openClients(job, job.connections, now() + 60_000)
 * ```
 */
export async function openClients(job: LoadJob, count: number, deadline: number): Promise<Opened> {
  const agent = tokenAgent(job.concurrency)
  const tokenLat = latency()
  const control = job.ready.controlUrl
  const cpu0 = await readCpu(control)
  const t0 = now()
  const issued = await profiled(
    control,
    job.profileDir,
    `${job.system}-${job.scenario}-token`,
    () =>
      runPool(count, job.concurrency, deadline, async (i) => {
        const start = now()
        const ticket = await issueToken(job.ready, i % Math.max(1, job.sessions), agent)
        tokenLat.record(now() - start)
        return ticket
      }),
  )
  const tokenWall = now() - t0
  const cpu1 = await readCpu(control)
  agent.destroy()

  const tickets: Ticket[] = issued.ok
  const connectLat = latency()
  const t1 = now()
  const addresses = job.localAddresses
  const opened = await profiled(
    control,
    job.profileDir,
    `${job.system}-${job.scenario}-connect`,
    () =>
      runPool(tickets.length, job.concurrency, deadline, async (i) => {
        const start = now()
        const client = await connect(job.ready, tickets[i]!, addresses[i % addresses.length]!)
        connectLat.record(now() - start)
        return client
      }),
  )
  const connectWall = now() - t1
  const cpu2 = await readCpu(control)
  if (opened.ok.length === 0) {
    const why = [...issued.errors, ...opened.errors].join('; ') || 'deadline'
    throw new Error(`no client connected (${why})`)
  }
  return {
    clients: opened.ok,
    tokens: {
      attempted: count,
      ok: issued.ok.length,
      failed: issued.failed,
      errors: issued.errors,
      timedOut: issued.timedOut,
      wallMs: round(tokenWall),
      perSec: round((issued.ok.length / tokenWall) * 1000),
      latencyMs: tokenLat.summary(),
      serverCpuUsPerOp: perOp(
        cpu1.userUs + cpu1.systemUs - cpu0.userUs - cpu0.systemUs,
        issued.ok.length,
      ),
    },
    connects: {
      attempted: tickets.length,
      ok: opened.ok.length,
      failed: opened.failed,
      errors: opened.errors,
      timedOut: opened.timedOut,
      wallMs: round(connectWall),
      perSec: round((opened.ok.length / connectWall) * 1000),
      latencyMs: connectLat.summary(),
      serverCpuUsPerOp: perOp(
        cpu2.userUs + cpu2.systemUs - cpu1.userUs - cpu1.systemUs,
        opened.ok.length,
      ),
    },
  }
}

/**
 * Warm the server up: issue, connect and close `count` clients, unmeasured and unprofiled,
 * so that what follows does not pay for first-call compilation and pool growth.
 *
 * @example
 * ```ts
 * await warmUp(job, 100, now() + 10_000)
 * ```
 */
export async function warmUp(job: LoadJob, count: number, deadline: number): Promise<void> {
  if (count <= 0) return
  const { profileDir: _unprofiled, ...quiet } = job
  const opened = await openClients(quiet, count, deadline)
  await closeAll(opened.clients)
}

/**
 * Close every client and give the server a moment to see the closes (bounded).
 *
 * @example
 * ```ts
 * await closeAll(clients)
 * ```
 */
export async function closeAll(clients: readonly Client[]): Promise<void> {
  for (const c of clients) c.close()
  await new Promise((r) => setTimeout(r, Math.min(2000, 100 + clients.length / 10)))
}
