/**
 * @module bench/servers/gatehouse-http
 * Gatehouse through the HTTP integration, in two processes as deployed: this gateway
 * process holds the sockets and POSTs each `$connect`, message and `$disconnect` (HMAC-signed)
 * to the app process (`gatehouse-app-http.ts`), which pushes back through the gateway's
 * `@connections` API. Memory and CPU figures are the sum of both processes.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createGateway } from '../../src/gateway/index.ts'
import { createManagementServer } from '../../src/gateway/management/server.ts'
import { announce, startControl } from '../lib/control.ts'
import type { CpuSample, MemorySample, ReadyLine } from '../lib/protocol.ts'
import {
  BENCH_GATEWAY_LIMITS,
  BENCH_GATEWAY_SECRET,
  BENCH_MANAGEMENT_CREDENTIALS,
  BENCH_ORIGIN,
} from './gatehouse-config.ts'

const APP_READY_TIMEOUT_MS = 30_000

/** Start the app process and wait for its ready line. */
function startApp(): Promise<{ ready: ReadyLine; send(line: string): void }> {
  const script = fileURLToPath(new URL('./gatehouse-app-http.ts', import.meta.url))
  const child = spawn(process.execPath, [...process.execArgv, script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  // Under --cpu-prof the app must exit on its own to write its profile: SIGTERM (it exits at
  // once, see `announce`); otherwise SIGKILL, which nothing can delay.
  const profiling = process.execArgv.some((a) => a.startsWith('--cpu-prof'))
  process.on('exit', () => child.kill(profiling ? 'SIGTERM' : 'SIGKILL'))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('app not ready')), APP_READY_TIMEOUT_MS)
    let buf = ''
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString()
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      clearTimeout(timer)
      resolve({
        ready: JSON.parse(buf.slice(0, nl)) as ReadyLine,
        send: (line) => child.stdin.write(`${line}\n`),
      })
    })
    child.on('exit', (code) => reject(new Error(`app exited (${code})`)))
  })
}

const app = await startApp()
const base = app.ready.wsUrl
const gateway = createGateway({
  ...BENCH_GATEWAY_LIMITS,
  routes: {
    $connect: { type: 'http', url: `${base}connect`, secret: BENCH_GATEWAY_SECRET },
    $disconnect: { type: 'http', url: `${base}disconnect`, secret: BENCH_GATEWAY_SECRET },
    $default: { type: 'http', url: `${base}default`, secret: BENCH_GATEWAY_SECRET, twoWay: true },
  },
})
// SigV4 on every push, as a deployment outside one machine needs it.
const management = createManagementServer({
  connections: gateway.connections,
  stage: gateway.stage,
  credentials: [BENCH_MANAGEMENT_CREDENTIALS],
})
const { url } = await gateway.listen()
const { url: managementUrl } = await management.listen()
app.send(JSON.stringify({ managementUrl }))

async function appControl<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`${app.ready.controlUrl}${path}`, init)
  if (!res.ok) throw new Error(`app control ${path}: ${res.status}`)
  return (await res.json()) as T
}

const control = await startControl({
  connections: () => gateway.stats().openConnections,
  broadcast: async (channel, _payload, seq) =>
    (
      await appControl<{ sent: number }>('/broadcast', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel, seq }),
      })
    ).sent,
  extraMemory: async (mode) =>
    (await appControl<{ memory: MemorySample }>(`/memory?mode=${mode}`)).memory,
  extraCpu: async () => (await appControl<{ cpu: CpuSample }>('/cpu')).cpu,
})
announce({
  ready: true,
  kind: 'ws',
  tokenUrl: app.ready.tokenUrl,
  wsUrl: url,
  controlUrl: control.url,
  sessions: true,
  origin: BENCH_ORIGIN,
})
