/**
 * @module bench/faults/hang
 * Fault scenario 2: the app behind the HTTP integration hangs (accepts, never answers) while
 * clients keep arriving. Shared by the test (`test/faults/app-hung.test.ts`, a short hang and
 * a short integration timeout) and `npm run bench -- --hang` (the full 30 s form at the
 * default 29 s integration timeout).
 *
 * The gateway runs in this process with an HTTP integration through a fault proxy; open
 * sockets are made before the hang; during it new upgrades arrive at a fixed rate from
 * several loopback addresses, and every open socket sends a message.
 */
import WebSocket from 'ws'
import { DEFAULTS } from '../../src/defaults.ts'
import { createGateway } from '../../src/gateway/index.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import {
  attempt,
  FAULT_SECRET,
  faultApp,
  nextMessage,
  serveApp,
} from '../../test/support/fault-app.ts'
import { startFaultProxy } from '../../test/support/fault-proxy.ts'

/** Sizes of one hang run. */
export interface HangOptions {
  readonly integrationTimeoutMs: number
  readonly hangMs: number
  readonly attemptsPerSec: number
  /** Loopback source addresses the attempts come from (127.0.0.2 …). */
  readonly sources: number
  /** Sockets opened before the hang, which must stay open. */
  readonly openSockets: number
}

/** What a hang run measured. */
export interface HangResult {
  readonly attempts: number
  /** Upgrade answers by status (101 would be a failure: the app never said yes). */
  readonly statuses: Record<string, number>
  /** Slowest 504, ms (should be near the integration timeout). */
  readonly max504Ms: number
  readonly peakPending: number
  readonly maxPendingHandshakes: number
  readonly rssBeforeBytes: number
  readonly peakRssBytes: number
  /** Frames the open sockets got for their message during the hang. */
  readonly timeoutFrames: number
  /** Open sockets still open after the hang, and whose echo works once the app is back. */
  readonly stillOpen: number
  readonly echoAfter: number
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/**
 * Run the hang scenario.
 *
 * @example
 * ```ts
 * const r = await runHang({ integrationTimeoutMs: 1_500, hangMs: 5_000, attemptsPerSec: 200, sources: 20, openSockets: 20 })
 * ```
 */
export async function runHang(o: HangOptions): Promise<HangResult> {
  const fa = faultApp(createMemoryStore(), { gatewaySecret: FAULT_SECRET })
  const backend = await serveApp(fa.app)
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: backend.port })
  const route = (name: string, twoWay = false) => ({
    type: 'http' as const,
    url: `http://${proxy.host}/ws/${name}`,
    secret: FAULT_SECRET,
    ...(twoWay ? { twoWay } : {}),
  })
  const gateway = createGateway({
    integrationTimeoutMs: o.integrationTimeoutMs,
    upgradeBurstPerIp: 100_000,
    routes: {
      $connect: route('connect'),
      $disconnect: route('disconnect'),
      $default: route('default', true),
    },
  })
  const { url } = await gateway.listen()
  const sockets: WebSocket[] = []
  try {
    for (let i = 0; i < o.openSockets; i++) {
      const a = await attempt(url, `open${i}`, await fa.issue(`open${i}`))
      if (a.status !== 101) throw new Error(`setup connect refused: ${a.status}`)
      sockets.push(a.ws!)
    }
    const rssBefore = process.memoryUsage().rss
    let peakPending = 0
    let peakRss = rssBefore
    const sampler = setInterval(() => {
      peakPending = Math.max(peakPending, gateway.stats().pendingHandshakes)
      peakRss = Math.max(peakRss, process.memoryUsage().rss)
    }, 20)

    await proxy.hang()
    // Let the gateway's keep-alive pool see the resets first: a message sent on a pooled
    // socket that was just cut fails (502-like error frame) instead of hanging.
    await sleep(250)
    const frames = sockets.map((ws, i) => {
      ws.send(`{"action":"echo","n":${i}}`)
      return nextMessage(ws, o.integrationTimeoutMs + 30_000).catch(() => ({}))
    })
    // A well-formed token: the app never sees it, so none is spent on the hang.
    const token = 'A'.repeat(43)
    const statuses: Record<string, number> = {}
    let max504Ms = 0
    const running: Promise<void>[] = []
    const started = performance.now()
    let launched = 0
    while (performance.now() - started < o.hangMs) {
      const due = Math.floor(((performance.now() - started) / 1000) * o.attemptsPerSec)
      for (; launched < due; launched++) {
        const localAddress = `127.0.0.${2 + (launched % o.sources)}`
        running.push(
          attempt(url, `h${launched}`, token, {
            localAddress,
            timeoutMs: o.integrationTimeoutMs * 2 + 30_000,
          }).then((a) => {
            statuses[a.status] = (statuses[a.status] ?? 0) + 1
            if (a.status === 504) max504Ms = Math.max(max504Ms, a.ms)
            a.ws?.terminate()
          }),
        )
      }
      await sleep(10)
    }
    await Promise.all(running)
    const timeoutFrames = (await Promise.all(frames)).filter(
      (f) => (f as { message?: unknown }).message === 'Endpoint request timed out',
    ).length
    clearInterval(sampler)
    await proxy.forward()
    // As after the hang started: the pool drops the sockets the proxy just cut first.
    await sleep(250)
    const stillOpen = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length
    let echoAfter = 0
    for (const [i, ws] of sockets.entries()) {
      if (ws.readyState !== WebSocket.OPEN) continue
      // A message that meets a pooled socket the proxy cut gets the error frame (as on AWS);
      // the socket itself must work: up to three tries.
      for (let attempt = 0; attempt < 3; attempt++) {
        ws.send(`{"action":"echo","after":${i}}`)
        const reply = await nextMessage(ws, 20_000).catch(() => ({}))
        if ((reply as { after?: unknown }).after === i) {
          echoAfter++
          break
        }
      }
    }
    return {
      attempts: launched,
      statuses,
      max504Ms: Math.round(max504Ms),
      peakPending,
      maxPendingHandshakes: DEFAULTS.maxPendingHandshakes,
      rssBeforeBytes: rssBefore,
      peakRssBytes: peakRss,
      timeoutFrames,
      stillOpen,
      echoAfter,
    }
  } finally {
    for (const ws of sockets) ws.terminate()
    await gateway.close({ drainMs: 1_000 })
    await proxy.close()
    await new Promise<void>((resolve) => backend.server.close(() => resolve()))
  }
}

/**
 * One figure line for a hang run.
 *
 * @example
 * ```ts
 * console.log(hangFigure(result, options))
 * ```
 */
export function hangFigure(r: HangResult, o: HangOptions): string {
  const mib = (b: number) => (b / 1048576).toFixed(1)
  return (
    `figure: app hung ${o.hangMs / 1000} s at ${o.attemptsPerSec} attempts/s (integration timeout ${o.integrationTimeoutMs} ms): ` +
    `${r.attempts} attempts ${JSON.stringify(r.statuses)}, peak pending ${r.peakPending}/${r.maxPendingHandshakes}, ` +
    `RSS ${mib(r.rssBeforeBytes)} → peak ${mib(r.peakRssBytes)} MiB, slowest 504 ${r.max504Ms} ms, ` +
    `${r.stillOpen}/${o.openSockets} open sockets kept`
  )
}
