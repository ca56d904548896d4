/**
 * @module bench/load/crowd
 * Scenarios (d) and (b) on one crowd of connections: server memory per idle connection,
 * then fan-out (one broadcast to every socket of the channel, a window of broadcasts in flight).
 * Delivery latency is measured on this process's clock alone: from sending the broadcast
 * request to the control channel to each socket's receipt.
 */
import { latency, now } from '../lib/hist.ts'
import { sleep } from '../lib/pool.ts'
import type { LoadJob, MemorySample } from '../lib/protocol.ts'
import { CHANNEL, type Client } from './clients.ts'
import { broadcast, heapSnapshot, profiled, readCpu, readMemory } from './http.ts'
import { closeAll, openClients, warmUp } from './open.ts'

const WARMUP_BROADCASTS = 2

function perConn(a: MemorySample, b: MemorySample, n: number, key: keyof MemorySample): number {
  return n > 0 ? Math.round((b[key] - a[key]) / n) : 0
}

/**
 * Run the crowd: connect, read memory (when asked), fan out (when asked), close.
 *
 * @example
 * ```ts
 * const { memory, fanout } = await runCrowd(job)
 * ```
 */
export async function runCrowd(job: LoadJob): Promise<Record<string, unknown>> {
  const deadline = now() + job.deadlineMs
  const control = job.ready.controlUrl
  const out: Record<string, unknown> = {}
  // The baseline is read after a warm-up, so per-connection memory is what connections add,
  // not the one-off cost of compiling and pooling on first use.
  await warmUp(job, job.warmupConnections ?? 0, deadline)
  const before = job.memory ? await readMemory(control) : null
  const opened = await openClients(job, job.connections, deadline)
  const clients = opened.clients
  out.open = { tokens: opened.tokens, connects: opened.connects }
  try {
    if (before) {
      await sleep(job.settleMs ?? 1000)
      // Regular collections first (heap slack from the connect burst still committed), then
      // the idle reading (slack given back, as an idle server's memory reducer would).
      const burst = await readMemory(control, 'regular')
      const after = await readMemory(control)
      const n = after.connections - before.connections
      out.memory = {
        connections: n,
        rssPerConnBytes: perConn(before.memory, after.memory, n, 'rss'),
        heapPerConnBytes: perConn(before.memory, after.memory, n, 'heapUsed'),
        externalPerConnBytes: perConn(before.memory, after.memory, n, 'external'),
        rssPerConnWithSlackBytes: perConn(before.memory, burst.memory, n, 'rss'),
        heapTotalPerConnWithSlackBytes: perConn(before.memory, burst.memory, n, 'heapTotal'),
        before: before.memory,
        afterBurst: burst.memory,
        after: after.memory,
        ...(job.heapSnapshotDir
          ? { heapSnapshot: await heapSnapshot(control, job.heapSnapshotDir) }
          : {}),
      }
    }
    if ((job.broadcasts ?? 0) > 0 && clients.length > 0) {
      out.fanout = await profiled(control, job.profileDir, `${job.system}-fanout`, () =>
        fanOut(job, clients, deadline),
      )
    }
  } finally {
    await closeAll(clients)
  }
  return out
}

async function fanOut(
  job: LoadJob,
  clients: readonly Client[],
  deadline: number,
): Promise<Record<string, unknown>> {
  const control = job.ready.controlUrl
  const total = WARMUP_BROADCASTS + (job.broadcasts ?? 0)
  const window = Math.max(1, job.broadcastWindow ?? 1)
  const sockets = clients.length
  const sentAt: number[] = new Array(total).fill(0)
  const delivered: number[] = new Array(total).fill(0)
  const lat = latency()
  let requested = 0
  let completed = 0
  let lastDelivery = 0
  let firstMeasured = 0
  let errors = 0
  let pumping = false
  let done: () => void = () => {}
  const finished = new Promise<void>((r) => {
    done = r
  })

  function request(): void {
    if (requested >= total || now() > deadline) return
    const seq = requested++
    sentAt[seq] = now()
    if (seq === WARMUP_BROADCASTS) firstMeasured = sentAt[seq]!
    broadcast(control, CHANNEL, seq).catch(() => {
      errors++
    })
  }

  for (const c of clients) {
    let received = 0
    c.onBroadcast = () => {
      // TCP and each server keep order per socket: the k-th message is broadcast k.
      const seq = received++
      if (seq >= total) return
      const t = now()
      if (seq >= WARMUP_BROADCASTS) lat.record(t - sentAt[seq]!)
      lastDelivery = t
      if (++delivered[seq]! === sockets) {
        completed++
        if (completed === total) done()
        else if (pumping) request()
      }
    }
  }
  const watchdog = setInterval(() => {
    if (now() > deadline) done()
  }, 100)
  // Warm-up broadcasts go one at a time; then `window` measured broadcasts stay in flight.
  for (let w = 0; w < WARMUP_BROADCASTS; w++) {
    request()
    await waitUntil(() => completed > w, deadline)
  }
  const cpu0 = await readCpu(control)
  pumping = true
  for (let i = 0; i < window; i++) request()
  await finished
  clearInterval(watchdog)
  const cpu1 = await readCpu(control)
  const measured = delivered.slice(WARMUP_BROADCASTS).reduce((a, b) => a + b, 0)
  const expected = (total - WARMUP_BROADCASTS) * sockets
  const wallMs = lastDelivery - firstMeasured
  const cpuUs = cpu1.userUs + cpu1.systemUs - (cpu0.userUs + cpu0.systemUs)
  return {
    sockets,
    broadcasts: total - WARMUP_BROADCASTS,
    window,
    deliveries: measured,
    expected,
    complete: measured === expected,
    errors,
    wallMs: Math.round(wallMs * 10) / 10,
    deliveriesPerSec: wallMs > 0 ? Math.round((measured / wallMs) * 1000) : 0,
    latencyMs: lat.summary(),
    serverCpuNsPerDelivery: measured > 0 ? Math.round((cpuUs * 1000) / measured) : 0,
  }
}

async function waitUntil(cond: () => boolean, deadline: number): Promise<void> {
  for (let i = 0; i < 1_000_000 && !cond() && now() < deadline; i++) await sleep(2)
}
