/**
 * @module bench/load/echo
 * Scenarios (c) and (e): client message → handler → reply. Each connection keeps `window`
 * requests in flight until `messages` have been sent in all; (c) runs with a window of 1 and
 * reports latency, (e) with a larger window and reports messages per second.
 */
import { latency, now } from '../lib/hist.ts'
import { sleep } from '../lib/pool.ts'
import type { CpuSample, LoadJob } from '../lib/protocol.ts'
import { profiled, readCpu } from './http.ts'
import { closeAll, openClients } from './open.ts'

/**
 * Run the echo scenario (round trip or messages).
 *
 * @example
 * ```ts
 * const figures = await runEcho({ ...job, window: 1 })
 * ```
 */
export async function runEcho(job: LoadJob): Promise<Record<string, unknown>> {
  const deadline = now() + job.deadlineMs
  const opened = await openClients(job, job.connections, deadline)
  const clients = opened.clients
  const total = job.messages ?? 1000
  const window = Math.max(1, job.window ?? 1)
  // The first tenth warms the handler path up and is not recorded.
  const warmup = Math.max(1, Math.min(2000, Math.floor(total / 10)))
  const sentAt = new Float64Array(total)
  const lat = latency()
  let sent = 0
  let replies = 0
  let measuredStart = 0
  let measuredEnd = 0
  const cpu0: { at: Promise<CpuSample> | null } = { at: null }
  try {
    if (clients.length === 0) throw new Error('no client connected')
    for (const c of clients) {
      c.onReply = (seq) => {
        const t = now()
        if (seq >= warmup) lat.record(t - sentAt[seq]!)
        if (++replies === warmup) {
          measuredStart = t
          cpu0.at = readCpu(job.ready.controlUrl)
        }
        measuredEnd = t
        if (sent < total && t < deadline) {
          const next = sent++
          sentAt[next] = t
          c.request(next)
        }
      }
    }
    await profiled(
      job.ready.controlUrl,
      job.profileDir,
      `${job.system}-${job.scenario}`,
      async () => {
        for (let w = 0; w < window; w++) {
          for (const c of clients) {
            if (sent >= total) break
            const seq = sent++
            sentAt[seq] = now()
            c.request(seq)
          }
        }
        for (let i = 0; i < 1_000_000 && replies < sent && now() < deadline; i++) await sleep(5)
      },
    )
  } finally {
    await closeAll(clients)
  }
  const cpuStart = cpu0.at ? await cpu0.at : null
  const cpu1 = await readCpu(job.ready.controlUrl)
  const measured = Math.max(0, replies - warmup)
  const wallMs = measuredEnd - measuredStart
  const cpuUs = cpuStart ? cpu1.userUs + cpu1.systemUs - cpuStart.userUs - cpuStart.systemUs : 0
  return {
    connections: clients.length,
    window,
    messages: measured,
    expected: total - warmup,
    complete: replies === total,
    messagesPerSec: wallMs > 0 ? Math.round((measured / wallMs) * 1000) : 0,
    latencyMs: lat.summary(),
    // Includes the close of every client at the end; an upper bound per message.
    serverCpuUsPerMessage: measured > 0 ? Math.round((cpuUs / measured) * 10) / 10 : 0,
    open: { tokens: opened.tokens, connects: opened.connects },
  }
}
