/**
 * Fault scenario 5: a slow consumer during fan-out. One client reads nothing while 5,000
 * others receive a channel's fan-out. The gateway must keep that client's unsent bytes under
 * `maxBufferedBytes`, close it with 1008 "Slow consumer" (what `$disconnect` reports), and the
 * others' delivery rate must not suffer: it is measured with and without the slow client in
 * the same test (best of 3 each, alternating, so a transient load touches both alike).
 *
 * On loopback the kernel's socket buffers absorb about 4 MB per connection before the
 * gateway's own buffer grows at all, so besides the fan-outs the slow client gets its own
 * feed of 64 KiB pushes (a client subscribed to something heavy). The 5,000 receivers run in
 * a child process, so this process measures the gateway's own fan-out.
 */
import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { after, before, test } from 'node:test'
import type WebSocket from 'ws'
import { DEFAULTS } from '../../src/defaults.ts'
import type { GatewayEvent } from '../../src/events/event.ts'
import { createGateway, type Gateway } from '../../src/gateway/index.ts'
import { openCrowd } from '../support/crowd.ts'
import { killChild, readJsonLine, startChild, until } from '../support/processes.ts'

const OTHERS = 5_000
const ROUNDS = 10
const MESSAGE = JSON.stringify({ type: 'chat_message', text: 'x'.repeat(1000) })
const FEED = 'y'.repeat(65_536)
const FEED_PER_ROUND = 8
/** The asserted floor of with/without (loose: the machine is shared); the ratio is printed. */
const MIN_RATIO = 0.5

let gateway: Gateway
let url: string
const ids: string[] = []
const slowIds: string[] = []
const disconnects = new Map<string, { code: number; reason: string }>()
/** Server-side sockets by the client's port, to read their unsent bytes. */
const serverSockets = new Map<number, Socket>()
let receivers: ReturnType<typeof startChild>

before(async () => {
  const handler = {
    handle: async (event: GatewayEvent) => {
      if (event.eventType === 'CONNECT') {
        if (event.headers['x-role'] === 'slow') slowIds.push(event.connectionId)
        else ids.push(event.connectionId)
      }
      if (event.eventType === 'DISCONNECT') {
        disconnects.set(event.connectionId, {
          code: event.disconnectStatusCode ?? 0,
          reason: event.disconnectReason ?? '',
        })
      }
      return { status: 200 }
    },
  }
  gateway = createGateway({
    // The closing handshake of a client that reads nothing cannot finish: cut the wait short.
    closeTimeoutMs: 1_000,
    // 5,000 receivers from 10 addresses, opened at once.
    upgradeBurstPerIp: OTHERS,
    routes: {
      $connect: { type: 'in-process', handler },
      $disconnect: { type: 'in-process', handler },
    },
  })
  gateway.server.on('upgrade', (_req, socket: Socket) => {
    serverSockets.set(socket.remotePort ?? 0, socket)
  })
  url = (await gateway.listen()).url
  receivers = startChild(new URL('../support/receivers.ts', import.meta.url).pathname, {
    args: [JSON.stringify({ url, count: OTHERS, sources: 10 })],
  })
  await readJsonLine(receivers, (m) => m.ready === true, 120_000)
  assert.equal(ids.length, OTHERS)
})

after(async () => {
  await killChild(receivers, 'SIGKILL')
  await gateway.close({ drainMs: 2_000 })
})

/** One fan-out run; returns the others' deliveries per second and the slow one's peak bytes. */
async function run(withSlow: boolean): Promise<{ rate: number; peakBuffered: number }> {
  let slow: WebSocket | undefined
  let slowId: string | undefined
  let slowSocket: Socket | undefined
  if (withSlow) {
    ;[slow] = await openCrowd(url, 1, { headers: { 'x-role': 'slow' } })
    // Reads nothing from here on.
    slow!.pause()
    slowId = slowIds.at(-1)
    slowSocket = serverSockets.get((slow as unknown as { _socket: Socket })._socket.localPort!)
    assert.ok(slowId && slowSocket)
  }
  const audience = slowId ? [...ids, slowId] : ids
  let peakBuffered = 0
  const done = readJsonLine(receivers, (m) => m.done === true, 120_000)
  receivers.stdin!.write(`${JSON.stringify({ expect: OTHERS * ROUNDS })}\n`)
  // The child reads its command before the first delivery can arrive.
  await new Promise((resolve) => setTimeout(resolve, 100))
  const started = performance.now()
  for (let r = 0; r < ROUNDS; r++) {
    const result = await gateway.connections.postMany(audience, MESSAGE)
    assert.ok(result.sent >= OTHERS)
    if (slowId) {
      for (let f = 0; f < FEED_PER_ROUND; f++) await gateway.connections.post(slowId, FEED)
      peakBuffered = Math.max(peakBuffered, slowSocket!.writableLength)
    }
    // Let the receivers read between rounds, as traffic arrives over time.
    await new Promise((resolve) => setImmediate(resolve))
  }
  await done
  const rate = ((OTHERS * ROUNDS) / (performance.now() - started)) * 1000
  if (slowId) {
    await until(() => disconnects.has(slowId), 20_000, 20, "the slow client's $disconnect")
    assert.deepEqual(disconnects.get(slowId), { code: 1008, reason: 'Slow consumer' })
    slow!.terminate()
  }
  return { rate, peakBuffered }
}

test('a slow consumer is closed 1008 within maxBufferedBytes; the others keep their delivery rate', {
  timeout: 300_000,
}, async () => {
  const without: number[] = []
  const withSlow: number[] = []
  let peak = 0
  for (let i = 0; i < 3; i++) {
    without.push((await run(false)).rate)
    const r = await run(true)
    withSlow.push(r.rate)
    peak = Math.max(peak, r.peakBuffered)
  }
  assert.ok(peak > 0, 'the slow client did buffer')
  assert.ok(
    peak <= DEFAULTS.maxBufferedBytes,
    `its unsent bytes stayed under maxBufferedBytes: ${peak} > ${DEFAULTS.maxBufferedBytes}`,
  )
  assert.equal(gateway.stats().openConnections, OTHERS, 'only the slow clients were closed')
  const ratio = Math.max(...withSlow) / Math.max(...without)
  console.log(
    `figure: slow consumer: others' delivery rate ${Math.round(Math.max(...withSlow))}/s with it vs ` +
      `${Math.round(Math.max(...without))}/s without (best of 3 each) = ratio ${ratio.toFixed(2)}; ` +
      `its peak unsent bytes ${peak} ≤ ${DEFAULTS.maxBufferedBytes}; closed 1008 "Slow consumer"`,
  )
  assert.ok(ratio >= MIN_RATIO, `delivery rate ratio ${ratio.toFixed(2)} < ${MIN_RATIO}`)
})
