/**
 * @module bench/servers/gateway-bare
 * A diagnostic system, not one of the three compared: the bundled gateway with the floor's
 * app (a `Map` token check and an echo, in process, no store). Set against raw `ws` it shows
 * what the gateway itself costs; set against `gatehouse` it shows what the app pipeline and
 * SQLite cost. Run it with `--only=ws,gateway-bare,gatehouse`.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createGateway } from '../../src/gateway/index.ts'
import type { EventHandler, GatewayResponse } from '../../src/index.ts'
import { announce, startControl } from '../lib/control.ts'
import { createMapTokens } from '../lib/map-tokens.ts'
import { BENCH_GATEWAY_LIMITS } from './gatehouse-config.ts'

const CHANNEL = /^[A-Za-z0-9_-]{1,128}$/
const tokens = createMapTokens()
const channels = new Map<string, Set<string>>()
const channelOf = new Map<string, string>()
const OK: GatewayResponse = { status: 200 }

const app: EventHandler = {
  async handle(event) {
    if (event.eventType === 'CONNECT') {
      const channel = event.query.channel ?? ''
      if (!CHANNEL.test(channel)) return { status: 400 }
      if (!tokens.consume(event.query.ws_token ?? '')) return { status: 401 }
      let members = channels.get(channel)
      if (!members) {
        members = new Set()
        channels.set(channel, members)
      }
      members.add(event.connectionId)
      channelOf.set(event.connectionId, channel)
      return OK
    }
    if (event.eventType === 'DISCONNECT') {
      const channel = channelOf.get(event.connectionId)
      if (channel !== undefined) channels.get(channel)?.delete(event.connectionId)
      channelOf.delete(event.connectionId)
      return OK
    }
    return { status: 200, body: event.body ?? '' }
  },
}

const gateway = createGateway({
  ...BENCH_GATEWAY_LIMITS,
  routes: {
    $connect: { type: 'in-process', handler: app },
    $disconnect: { type: 'in-process', handler: app },
    $default: { type: 'in-process', handler: app, twoWay: true },
  },
})
const { url } = await gateway.listen()

const http = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    res.end(JSON.stringify({ token: tokens.issue(), expires_in: 60 }))
  })
})
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
const { port } = http.address() as AddressInfo

const control = await startControl({
  connections: () => gateway.stats().openConnections,
  broadcast: async (channel, payload) => {
    const ids = [...(channels.get(channel) ?? [])]
    return (await gateway.connections.postMany(ids, payload)).sent
  },
})
announce({
  ready: true,
  kind: 'ws',
  tokenUrl: `http://127.0.0.1:${port}/token`,
  wsUrl: url,
  controlUrl: control.url,
})
