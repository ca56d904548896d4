/**
 * Fault scenario 4: half-open clients. A child process holding authenticated sockets is
 * frozen (SIGSTOP): its TCP connections stay up in the kernel, but nothing reads or answers a
 * ping. The gateway's one sweep timer must find every such socket by its missing pong within
 * `pingIntervalMs + pongTimeoutMs` (plus the sweep's resolution), terminate it, fire
 * `$disconnect` exactly once for each, and give its memory back.
 *
 * Three rounds: the first two warm up (V8 keeps compiled code, and maps keep the capacity
 * they grew to: the heap steps up once, then stays flat round after round), the third is
 * measured against the heap the second left.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createGateway } from '../../src/gateway/index.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import { FAULT_ORIGIN, faultApp, sessionOf } from '../support/fault-app.ts'
import { killChild, percentile, readJsonLine, startChild, until } from '../support/processes.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const heapAfterGc = (): number => {
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}
const kib = (b: number) => Math.round(b / 1024)

const CLIENTS = 500
const PING_MS = 1_000
const PONG_MS = 1_000
const SWEEP_MS = 100

test('half-open clients are terminated by ping/pong, each $disconnect fires once, memory returns', {
  timeout: 180_000,
}, async () => {
  const store = createMemoryStore()
  const fa = faultApp(store)
  const handler = { handle: (e: Parameters<typeof fa.app.handle>[0]) => fa.app.handle(e) }
  const gateway = createGateway({
    pingIntervalMs: PING_MS,
    pongTimeoutMs: PONG_MS,
    sweepIntervalMs: SWEEP_MS,
    maxPendingHandshakesPerIp: 256,
    // 500 users behind one address, three rounds: the per-address caps let them in.
    upgradeBurstPerIp: 4 * CLIENTS,
    routes: {
      $connect: { type: 'in-process', handler },
      $disconnect: { type: 'in-process', handler },
      $default: { type: 'in-process', handler, twoWay: true },
    },
  })
  const { url } = await gateway.listen()

  /** One round: connect, check they live, freeze, wait for every $disconnect, clean up. */
  async function round(r: number): Promise<{ detection: number[]; withClients: number }> {
    const { counts } = fa
    counts.disconnects = 0
    counts.disconnectsById.clear()
    counts.disconnectCodes.clear()
    counts.disconnectedAt.clear()
    const tickets = []
    for (let i = 0; i < CLIENTS; i++) {
      const user = `idle${r}x${i}`
      tickets.push({ sid: sessionOf(user), token: await fa.issue(user) })
    }
    const child = startChild(new URL('../support/idle-clients.ts', import.meta.url).pathname, {
      args: [JSON.stringify({ url, origin: FAULT_ORIGIN, tickets })],
    })
    try {
      const ready = await readJsonLine(child, (m) => m.ready === true || 'refused' in m, 60_000)
      assert.equal(ready.ready, true, `a client was refused: ${JSON.stringify(ready)}`)
      assert.equal(gateway.stats().openConnections, CLIENTS)
      // A few ping rounds while the clients answer: nothing may be terminated.
      await new Promise((res) => setTimeout(res, PING_MS * 2 + PONG_MS))
      assert.equal(counts.disconnects, 0, 'live clients answer pings and stay')
      const withClients = heapAfterGc()

      process.kill(child.pid!, 'SIGSTOP')
      const stoppedAt = performance.now()
      await until(() => counts.disconnects >= CLIENTS, 30_000, 20, 'every $disconnect')
      // A duplicate would come after the last first one: give it a moment.
      await new Promise((res) => setTimeout(res, SWEEP_MS * 5))
      assert.equal(counts.disconnects, CLIENTS, '$disconnect fired exactly once per socket')
      assert.equal(counts.disconnectsById.size, CLIENTS)
      for (const n of counts.disconnectsById.values()) assert.equal(n, 1)
      for (const code of counts.disconnectCodes.values()) assert.equal(code, 1006)
      const detection = [...counts.disconnectedAt.values()].map((t) => t - stoppedAt)
      const bound = PING_MS + PONG_MS + 2 * SWEEP_MS
      const max = Math.max(...detection)
      // Slack for a loaded machine: the bound is the sweep's, the slack the scheduler's.
      assert.ok(max <= bound + 1_000, `each half-open socket ended within ${bound} ms: max ${max}`)
      assert.equal(gateway.stats().openConnections, 0)
      assert.equal(gateway.stats().trackedAddresses, 0)
      await until(() => gateway.stats().backgroundTasks === 0, 10_000, 20, 'background tasks')
      return { detection, withClients }
    } finally {
      await killChild(child, 'SIGKILL')
      // The store keeps ended sessions and used tokens until cleanup, by design: run it, so
      // what remains is what the gateway and the app hold.
      const all = Number.MAX_SAFE_INTEGER
      await store.cleanup({
        tokensCreatedBefore: all,
        rateLimitsBefore: all,
        sessionsDisconnectedBefore: all,
        noncesExpiredBefore: all,
      })
    }
  }

  try {
    await round(0)
    await round(1)
    const baseline = heapAfterGc()
    const { detection, withClients } = await round(2)
    const after = heapAfterGc()
    const heap = `${kib(baseline)} KiB → ${kib(withClients)} KiB with them → ${kib(after)} KiB after`
    assert.ok(after - baseline < 256 * 1024, `heap back to its baseline: ${heap}`)
    console.log(
      `figure: half-open: ${CLIENTS} frozen clients detected in p50 ${percentile(detection, 0.5).toFixed(0)} ms, ` +
        `p99 ${percentile(detection, 0.99).toFixed(0)} ms, max ${Math.max(...detection).toFixed(0)} ms ` +
        `(bound ${PING_MS}+${PONG_MS} ms + sweep ${SWEEP_MS} ms); heap ${heap}`,
    )
  } finally {
    await gateway.close({ drainMs: 500 })
  }
})
