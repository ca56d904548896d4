/**
 * @module bench/load/connect
 * Scenario (a): authenticated connects per second with handshake p50/p99; token issue is
 * measured as its own phase, and server CPU time is read around each phase.
 */
import { now } from '../lib/hist.ts'
import type { LoadJob } from '../lib/protocol.ts'
import { closeAll, openClients, warmUp } from './open.ts'

/**
 * Run the connect scenario.
 *
 * @example
 * ```ts
 * const figures = await runConnect(job)
 * ```
 */
export async function runConnect(job: LoadJob): Promise<Record<string, unknown>> {
  const deadline = now() + job.deadlineMs
  await warmUp(job, job.warmupConnections ?? 0, deadline)
  const opened = await openClients(job, job.connections, deadline)
  await closeAll(opened.clients)
  return {
    concurrency: job.concurrency,
    connectsPerSec: opened.connects.perSec,
    handshakeMs: opened.connects.latencyMs,
    tokensPerSec: opened.tokens.perSec,
    tokenIssueMs: opened.tokens.latencyMs,
    serverCpuUsPerConnect: opened.connects.serverCpuUsPerOp,
    serverCpuUsPerToken: opened.tokens.serverCpuUsPerOp,
    connects: opened.connects,
    tokens: opened.tokens,
  }
}
