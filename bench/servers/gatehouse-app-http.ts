/**
 * @module bench/servers/gatehouse-app-http
 * The app half of the HTTP-integration system: the bench app behind `node:http`, answering
 * the gateway's signed integration requests at `/ws/{route}` and serving the token endpoint.
 * It pushes through the gateway's `@connections` API (with the fan-out extension).
 * Started by `gatehouse-http.ts`, which sends `{"managementUrl": "..."}` on stdin once the
 * gateway listens; it exits when stdin closes.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { toNodeListener } from '../../src/adapters/node.ts'
import type { Connections } from '../../src/index.ts'
import { createManagementApiConnections } from '../../src/push/management-api.ts'
import { announce, startControl } from '../lib/control.ts'
import { createBenchApp } from './gatehouse-app.ts'
import { BENCH_GATEWAY_SECRET, BENCH_MANAGEMENT_CREDENTIALS } from './gatehouse-config.ts'

const TOKEN_PATH = '/api/ws-token/'

// The management URL is known only after the gateway listens, and the gateway needs this
// app's URL first: the port is bound now, the push target set when it arrives.
let target: Connections | undefined
const notReady = (): never => {
  throw new Error('management API not configured yet')
}
const connections: Connections = {
  post: (id, data) => (target ?? notReady()).post(id, data),
  postMany: (ids, data) => (target ?? notReady()).postMany(ids, data),
  delete: (id) => (target ?? notReady()).delete(id),
  get: (id) => (target ?? notReady()).get(id),
}

const bench = await createBenchApp({ connections, gatewaySecret: BENCH_GATEWAY_SECRET })
const tokens = toNodeListener(bench.tokenEndpoint)
// `app.fetch` itself, as an app mounts it: the adapter then takes its direct form.
const integration = toNodeListener(bench.app.fetch, {
  maxBodyBytes: 131_072 + 4096,
})
const server = createServer((req, res) => {
  if (req.url === TOKEN_PATH) return tokens(req, res)
  if (req.url?.startsWith('/ws/')) return integration(req, res)
  res.writeHead(404).end()
})
server.keepAliveTimeout = 60_000
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const { port } = server.address() as AddressInfo

const control = await startControl({
  connections: () => 0,
  broadcast: async (channel, payload) => (await bench.app.send.toChannel(channel, payload)).sent,
})

let pending = ''
process.stdin.on('data', (chunk: Buffer) => {
  pending += chunk.toString()
  for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
    const line = pending.slice(0, nl)
    pending = pending.slice(nl + 1)
    const { managementUrl } = JSON.parse(line) as { managementUrl?: string }
    if (managementUrl) {
      target = createManagementApiConnections({
        endpoint: managementUrl,
        useFanout: true,
        credentials: BENCH_MANAGEMENT_CREDENTIALS,
      })
    }
  }
})
announce({
  ready: true,
  kind: 'ws',
  tokenUrl: `http://127.0.0.1:${port}${TOKEN_PATH}`,
  // The gateway fills in its own URL; this is the integration base.
  wsUrl: `http://127.0.0.1:${port}/ws/`,
  controlUrl: control.url,
})
process.on('exit', () => {
  void bench.close()
})
