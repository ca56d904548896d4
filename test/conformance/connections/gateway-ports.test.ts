/**
 * The Connections contract over the ports of one gateway and of a cluster of two.
 */
import { WebSocket } from 'ws'
import { createGateway, type Gateway } from '../../../src/gateway/gateway.ts'
import { createManagementServer } from '../../../src/gateway/management/server.ts'
import type { Connections } from '../../../src/push/connections.ts'
import { createManagementApiConnections } from '../../../src/push/management-api.ts'
import { dropPrefix, FAST, SECRET, settled, uniquePrefix } from '../../gateway/cluster/support.ts'
import { REDIS_URL } from '../../support/backends.ts'
import { type ConnectionsTarget, connectionsSuite, type HeldSocket } from '../connections.ts'
import { recorder } from '../gateway/support/harness.ts'

/** Open a client on `gateway` and learn its id from the `$connect` the app saw. */
async function openOn(
  gateway: Gateway,
  url: string,
  app: ReturnType<typeof recorder>,
): Promise<HeldSocket> {
  const seen = new Set(app.events.map((e) => e.connectionId))
  const ws = new WebSocket(url, { perMessageDeflate: false })
  const frames: Array<{ text: string; binary: boolean; bytes: Buffer }> = []
  const waiters: Array<(f: (typeof frames)[number]) => void> = []
  ws.on('message', (data: Buffer, binary: boolean) => {
    const frame = { text: data.toString('utf8'), binary, bytes: Buffer.from(data) }
    const w = waiters.shift()
    if (w) w(frame)
    else frames.push(frame)
  })
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const event = await app.waitFor((e) => e.eventType === 'CONNECT' && !seen.has(e.connectionId))
  void gateway
  return {
    id: event.connectionId,
    ws,
    closed,
    next(timeoutMs = 3_000) {
      const f = frames.shift()
      if (f) return Promise.resolve(f)
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no frame in time')), timeoutMs)
        waiters.push((x) => {
          clearTimeout(t)
          resolve(x)
        })
      })
    },
  }
}

function routesFor(app: ReturnType<typeof recorder>) {
  return {
    $connect: { type: 'in-process', handler: app },
    $disconnect: { type: 'in-process', handler: app },
    $default: { type: 'in-process', handler: app },
  } as const
}

async function single(
  port: (g: Gateway) => Promise<{ connections: Connections; close(): Promise<void> }>,
): Promise<ConnectionsTarget> {
  const app = recorder()
  const gateway = createGateway({ port: 0, routes: routesFor(app) })
  const { url } = await gateway.listen()
  const p = await port(gateway)
  return {
    connections: p.connections,
    open: () => openOn(gateway, url, app),
    unknownId: () => 'AAAAAAAAAAAAAAA=',
    async close() {
      await p.close()
      await gateway.close({ drainMs: 200 })
    },
  }
}

async function overHttp(connections: Connections, stage: string, useFanout: boolean) {
  const server = createManagementServer({ connections, stage, allowUnauthenticated: true })
  const { url } = await server.listen()
  return {
    connections: createManagementApiConnections({ endpoint: url, useFanout }),
    close: () => server.close(),
  }
}

/** Two nodes: sockets on `b`, calls through `via` (a's or b's port). */
async function cluster(via: 'owner' | 'other' | 'other-http'): Promise<ConnectionsTarget> {
  const prefix = uniquePrefix()
  const apps = [recorder(), recorder()]
  const nodes = apps.map((app, i) =>
    createGateway({
      port: 0,
      routes: routesFor(app),
      cluster: { url: REDIS_URL, nodeId: `n${i}`, secret: SECRET, keyPrefix: prefix, ...FAST },
    }),
  ) as [Gateway, Gateway]
  const urls = [(await nodes[0].listen()).url, (await nodes[1].listen()).url]
  await settled()
  const [a, b] = nodes
  const http = via === 'other-http' ? await overHttp(a.connections, a.stage, true) : undefined
  const connections = via === 'owner' ? b.connections : (http?.connections ?? a.connections)
  return {
    connections,
    open: () => openOn(b, urls[1] as string, apps[1]!),
    // b's slot, never issued: only b can say it is gone.
    unknownId: () =>
      `${'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[b.cluster!.slot]}zzzzzzzzzzzzzzz`,
    async close() {
      await http?.close()
      await Promise.all(nodes.map((n) => n.close({ drainMs: 200 })))
      await dropPrefix(prefix)
    },
  }
}

connectionsSuite('in-process gateway', () =>
  single(async (g) => ({ connections: g.connections, close: async () => {} })),
)
connectionsSuite('@connections API, one call per id', () =>
  single((g) => overHttp(g.connections, g.stage, false)),
)
connectionsSuite('@connections API, fan-out extension', () =>
  single((g) => overHttp(g.connections, g.stage, true)),
)
connectionsSuite('cluster, the owning node', () => cluster('owner'))
connectionsSuite('cluster, another node', () => cluster('other'))
connectionsSuite("cluster, another node's @connections API", () => cluster('other-http'))
