/**
 * @module bench/load/connect
 * Scenario (a): authenticated connects per second with handshake p50/p99; token issue is
 * measured as its own phase, and server CPU time is read around each phase.
 */
import { now } from '../lib/hist.ts'
import type { LoadJob } from '../lib/protocol.ts'
import { readCpu } from './http.ts'
import { closeAll, openClients } from './open.ts'

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
  const cpu0 = await readCpu(job.ready.controlUrl)
  const opened = await openClients(job, job.connections, deadline)
  const cpu1 = await readCpu(job.ready.controlUrl)
  await closeAll(opened.clients)
  const cpuUs = cpu1.userUs + cpu1.systemUs - (cpu0.userUs + cpu0.systemUs)
  const okTotal = opened.connects.ok + opened.tokens.ok
  return {
    concurrency: job.concurrency,
    connectsPerSec: opened.connects.perSec,
    handshakeMs: opened.connects.latencyMs,
    tokensPerSec: opened.tokens.perSec,
    tokenIssueMs: opened.tokens.latencyMs,
    // Token issue and connect both run on the server; per connect includes its token.
    serverCpuUsPerConnect: okTotal > 0 ? Math.round(cpuUs / Math.max(1, opened.connects.ok)) : 0,
    connects: opened.connects,
    tokens: opened.tokens,
  }
}
