/**
 * @module bench/faults/scale
 * Fault scenario 7, scale: N authenticated connections (a token from the endpoint, then the
 * upgrade, per user) to the fault server, held with server pings, then closed. Measured on
 * the server process: RSS and heap per connection, CPU while idle, live timers (the gateway
 * keeps one sweep timer however many sockets it holds), and `$disconnect` exactly N.
 * `test/faults/scale.test.ts` runs 2,000; `npm run bench -- --scale` runs 10,000 for 60 s.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { percentile, until } from '../../test/support/processes.ts'
import { browserSession } from './browser.ts'
import { SERVER_CSRF, SERVER_ORIGIN } from './server-config.ts'
import { type RunningServer, startServer } from './server-handle.ts'

/** Sizes of a scale run. */
export interface ScaleOptions {
  readonly connections: number
  readonly holdMs: number
  readonly pingIntervalMs: number
  /** Loopback source addresses to spread the sockets over. */
  readonly sources: number
  /** Token requests and upgrades in flight at once. */
  readonly concurrency: number
}

/** What a scale run measured. */
export interface ScaleResult {
  readonly connections: number
  readonly openedMs: number
  readonly connectMs: { p50: number; p99: number }
  readonly rssPerConnBytes: number
  readonly heapPerConnBytes: number
  readonly rssBaseBytes: number
  readonly rssWithBytes: number
  /** CPU of the server during the hold, percent of one core. */
  readonly idleCpuPercent: number
  readonly holdMs: number
  /** Pings each socket answered during the hold (server pings every `pingIntervalMs`). */
  readonly openAfterHold: number
  readonly timersBase: number
  readonly timersWith: number
  readonly disconnects: number
  readonly disconnectsLate: number
  readonly refused: Record<string, number>
  readonly openFilesLimit: number | null
}

/** Soft open-files limit of this process (Linux), or null. */
export function openFilesLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const soft = (line ?? '').split(/\s{2,}/)[1]
    return soft === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(soft)
  } catch {
    return null
  }
}

/**
 * Issue a token for `user` as the page would (session cookie, CSRF double submit, Origin).
 *
 * @example
 * ```ts
 * const token = await fetchToken(server.tokenUrl, 'u1')
 * ```
 */
export async function fetchToken(tokenUrl: string, user: string): Promise<string> {
  const res = await fetch(tokenUrl, {
    method: 'POST',
    headers: {
      cookie: `sid=${browserSession(user)}; csrftoken=${SERVER_CSRF}`,
      'x-csrftoken': SERVER_CSRF,
      origin: SERVER_ORIGIN,
      'content-type': 'application/json',
    },
    body: '{}',
  })
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}`)
  return ((await res.json()) as { token: string }).token
}

/**
 * Connect `user` with a fresh token from `localAddress`, in channel `channel`.
 *
 * @example
 * ```ts
 * const ws = await connectUser(server, 'u1', '127.0.0.2', 'lobby')
 * ```
 */
export async function connectUser(
  server: Pick<RunningServer, 'tokenUrl' | 'wsUrl'>,
  user: string,
  localAddress: string,
  channel = 'lobby',
): Promise<WebSocket> {
  const token = await fetchToken(server.tokenUrl, user)
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(
      `${server.wsUrl}?ws_token=${encodeURIComponent(token)}&channel=${channel}`,
      {
        headers: { cookie: `sid=${browserSession(user)}`, origin: SERVER_ORIGIN },
        localAddress,
        perMessageDeflate: false,
        handshakeTimeout: 60_000,
      },
    )
    ws.once('open', () => {
      ws.off('error', reject)
      ws.on('error', () => {})
      resolve(ws)
    })
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate()
      reject(new Error(`upgrade refused: ${res.statusCode}`))
    })
    ws.once('error', reject)
  })
}

/** Run `task(i)` for i < count with `concurrency` in flight. */
async function pool<T>(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const out = new Array<T>(count)
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      out[i] = await task(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(count, concurrency) }, worker))
  return out
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Run the scale scenario.
 *
 * @example
 * ```ts
 * const r = await runScale({ connections: 2_000, holdMs: 10_000, pingIntervalMs: 2_000, sources: 10, concurrency: 32 })
 * ```
 */
export async function runScale(o: ScaleOptions): Promise<ScaleResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-faults-scale-'))
  const limit = openFilesLimit()
  const needed = o.connections + 1_000
  const server = await startServer(
    {
      dir,
      gateway: {
        pingIntervalMs: o.pingIntervalMs,
        maxConnectionsPerIp: Math.max(1_000, Math.ceil(o.connections / o.sources) + 100),
        maxPendingHandshakesPerIp: 256,
        upgradeBurstPerIp: o.connections + 200,
      },
    },
    // The server holds one socket per connection: raise its limit when ours is too low.
    limit !== null && limit < needed ? { openFiles: needed } : {},
  )
  const address = (i: number) => `127.0.0.${2 + (i % o.sources)}`
  let sockets: WebSocket[] = []
  try {
    // Warm-up: compile the paths and grow the pools before the baseline is read.
    const warm = await pool(100, o.concurrency, (i) => connectUser(server, `w${i}`, address(i)))
    for (const ws of warm) ws.close()
    await until(async () => (await server.stats()).open === 0, 30_000, 50, 'warm-up closes')
    await sleep(500)
    const base = await server.stats(true)
    const connectMs: number[] = []
    const t0 = performance.now()
    sockets = await pool(o.connections, o.concurrency, async (i) => {
      const s = performance.now()
      const ws = await connectUser(server, `u${i}`, address(i))
      connectMs.push(performance.now() - s)
      return ws
    })
    const openedMs = performance.now() - t0
    await sleep(2_000)
    const loaded = await server.stats(true)
    const n = loaded.open
    const held0 = await server.stats()
    await sleep(o.holdMs)
    const held1 = await server.stats()
    const openAfterHold = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length
    for (const ws of sockets) ws.close()
    const target = base.disconnects + o.connections
    await until(
      async () => (await server.stats()).disconnects >= target,
      120_000,
      100,
      'every $disconnect',
    )
    await sleep(1_000)
    const end = await server.stats()
    return {
      connections: n,
      openedMs: Math.round(openedMs),
      connectMs: {
        p50: Math.round(percentile(connectMs, 0.5)),
        p99: Math.round(percentile(connectMs, 0.99)),
      },
      rssPerConnBytes: Math.round((loaded.rss - base.rss) / n),
      heapPerConnBytes: Math.round((loaded.heapUsed - base.heapUsed) / n),
      rssBaseBytes: base.rss,
      rssWithBytes: loaded.rss,
      idleCpuPercent:
        Math.round(
          ((held1.cpuUs - held0.cpuUs) / 1000 / (held1.uptimeMs - held0.uptimeMs)) * 1000,
        ) / 10,
      holdMs: held1.uptimeMs - held0.uptimeMs,
      openAfterHold,
      timersBase: base.timers,
      timersWith: loaded.timers,
      disconnects: end.disconnects - base.disconnects,
      disconnectsLate: end.disconnects - target,
      refused: end.refused,
      openFilesLimit: limit,
    }
  } finally {
    for (const ws of sockets) ws.terminate()
    await server.terminate().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The figure line of a scale run.
 *
 * @example
 * ```ts
 * console.log(scaleFigure(await runScale(options)))
 * ```
 */
export function scaleFigure(r: ScaleResult): string {
  const kib = (b: number) => (b / 1024).toFixed(1)
  return (
    `figure: scale: ${r.connections} authenticated connections opened in ${r.openedMs} ms ` +
    `(connect p50 ${r.connectMs.p50} ms, p99 ${r.connectMs.p99} ms); RSS ${kib(r.rssPerConnBytes)} KiB and heap ` +
    `${kib(r.heapPerConnBytes)} KiB per connection (RSS ${(r.rssBaseBytes / 1048576).toFixed(0)} → ` +
    `${(r.rssWithBytes / 1048576).toFixed(0)} MiB); idle CPU ${r.idleCpuPercent} % of a core over ${Math.round(r.holdMs / 1000)} s ` +
    `with pings; timers ${r.timersBase} → ${r.timersWith}; ${r.openAfterHold} open after the hold; ` +
    `$disconnect ${r.disconnects}; open-files limit ${r.openFilesLimit}`
  )
}
