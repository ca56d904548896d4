/**
 * @module bench/servers/gatehouse
 * Gatehouse, full path, in one process: the bundled gateway calls the app in process; the
 * app runs its whole `$connect` pipeline (rate limits, Origin, channel, token consume,
 * permissions, session row) on the embedded SQLite store; the token endpoint is served on
 * its own HTTP port, as a web app would. Pushes go through `app.send.toChannel`.
 * With `--store=memory` (the diagnostic system `gatehouse-memory`) the store is SQLite
 * `:memory:`: the same pipeline without disk writes, to show what the file costs.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { toNodeListener } from '../../src/adapters/node.ts'
import { createGateway } from '../../src/gateway/index.ts'
import type { EventHandler } from '../../src/index.ts'
import { createMetrics } from '../../src/metrics/index.ts'
import { announce, startControl } from '../lib/control.ts'
import { createBenchApp } from './gatehouse-app.ts'
import { BENCH_GATEWAY_LIMITS, BENCH_ORIGIN } from './gatehouse-config.ts'

let handler: EventHandler | undefined
const app: EventHandler = { handle: (event) => handler!.handle(event) }
const gateway = createGateway({
  ...BENCH_GATEWAY_LIMITS,
  routes: {
    $connect: { type: 'in-process', handler: app },
    $disconnect: { type: 'in-process', handler: app },
    $default: { type: 'in-process', handler: app, twoWay: true },
  },
})
// `--store=memory` is the diagnostic `gatehouse-memory` system: the same app on `:memory:`.
const store = process.argv.includes('--store=memory') ? 'memory' : 'file'
// `--metrics` is the diagnostic `gatehouse-metrics` system: the same server with the
// Prometheus exporter subscribed, so every telemetry event is built, published and counted.
const metrics = process.argv.includes('--metrics') ? await createMetrics() : undefined
if (metrics) process.once('beforeExit', () => metrics.close())
const bench = await createBenchApp({ connections: gateway.connections, store })
handler = bench.app
const { url } = await gateway.listen()

const http = createServer(toNodeListener(bench.tokenEndpoint))
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
const { port } = http.address() as AddressInfo

const control = await startControl({
  connections: () => gateway.stats().openConnections,
  broadcast: async (channel, payload) => (await bench.app.send.toChannel(channel, payload)).sent,
})
announce({
  ready: true,
  kind: 'ws',
  tokenUrl: `http://127.0.0.1:${port}/api/ws-token/`,
  wsUrl: url,
  controlUrl: control.url,
  sessions: true,
  origin: BENCH_ORIGIN,
})
process.on('exit', () => {
  void bench.close()
})
