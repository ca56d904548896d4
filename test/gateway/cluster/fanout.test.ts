/**
 * One publish per owning node, never one per recipient: through the gateway's port and
 * through the `@connections` API's fan-out extension (the path an app's `send.toChannel`
 * takes over HTTP). The publishes are counted by a subscriber of every route channel.
 * And the `@connections` API of a non-owner acts on the owner's socket, answers 410 only
 * for what the owner says is gone, and 503 (never 410) when the owner cannot be reached.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Redis } from 'ioredis'
import { isGatehouseError } from '../../../src/errors.ts'
import { clusterNodeOf } from '../../../src/gateway/cluster/node.ts'
import {
  createManagementServer,
  type ManagementServer,
} from '../../../src/gateway/management/server.ts'
import { createManagementApiConnections } from '../../../src/push/management-api.ts'
import type { TestClient } from '../../conformance/gateway/support/harness.ts'
import { connectRedis } from '../../support/backends.ts'
import { connect, dropPrefix, settled, startNode, type TestNode, uniquePrefix } from './support.ts'

describe('fan-out across nodes', () => {
  const prefix = uniquePrefix()
  const nodes: TestNode[] = []
  const clients: Array<{ client: TestClient; id: string }> = []
  let monitor: Redis
  let management: ManagementServer
  let endpoint: string
  const published: string[] = []

  before(async () => {
    for (const id of ['a', 'b', 'c']) nodes.push(await startNode(prefix, id))
    await settled()
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode]
    clients.push(await connect(a))
    for (let i = 0; i < 3; i++) clients.push(await connect(b))
    for (let i = 0; i < 2; i++) clients.push(await connect(c))
    monitor = (await connectRedis()) as Redis
    await monitor.psubscribe(`${prefix}route:*`)
    monitor.on('pmessage', (_pattern: string, channel: string) => published.push(channel))
    management = createManagementServer({
      connections: a.gateway.connections,
      stage: a.gateway.stage,
      allowUnauthenticated: true,
    })
    endpoint = (await management.listen()).url
  })

  after(async () => {
    for (const c of clients) c.client.ws.terminate()
    await management.close()
    monitor.disconnect()
    await Promise.allSettled(nodes.map((n) => n.close()))
    await dropPrefix(prefix)
  })

  async function drainPublished(): Promise<string[]> {
    // Let the monitor's subscription catch up with what was published.
    await new Promise((r) => setTimeout(r, 100))
    return published.splice(0)
  }

  test('gateway.connections.postMany: one publish per other owning node, every socket reached', async () => {
    await drainPublished()
    const ids = clients.map((c) => c.id)
    const result = await nodes[0]!.gateway.connections.postMany(ids, 'to everyone')
    assert.deepEqual(result, { sent: 6, gone: [] })
    for (const c of clients) assert.equal(await c.client.next(), 'to everyone')
    const channels = await drainPublished()
    assert.equal(channels.length, 2, `publishes: ${channels.join(', ')}`)
    assert.deepEqual(
      channels.sort(),
      [nodes[1]!, nodes[2]!].map((n) => `${prefix}route:${n.gateway.cluster!.slot}`).sort(),
    )
  })

  test('the fan-out extension of the @connections API goes through the cluster-aware port', async () => {
    await drainPublished()
    const port = createManagementApiConnections({ endpoint, useFanout: true })
    const gone = clients[1]!.id.slice(0, 15) + (clients[1]!.id[15] === 'A' ? 'B' : 'A')
    const result = await port.postMany([...clients.map((c) => c.id), gone], 'via the API')
    assert.equal(result.sent, 6)
    assert.deepEqual(result.gone, [gone])
    for (const c of clients) assert.equal(await c.client.next(), 'via the API')
    assert.equal((await drainPublished()).length, 2)
  })

  test('GET and DELETE on a non-owner act on the owner; 410 once it is gone', async () => {
    const target = clients[4]!
    const url = `${endpoint}/@connections/${encodeURIComponent(target.id)}`
    const got = await fetch(url)
    assert.equal(got.status, 200)
    const body = (await got.json()) as { identity: { sourceIp: string } }
    assert.equal(body.identity.sourceIp, '127.0.0.1')
    const posted = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"hi":1}',
    })
    assert.equal(posted.status, 200)
    assert.equal(await target.client.next(), '{"hi":1}')
    assert.equal((await fetch(url, { method: 'DELETE' })).status, 204)
    assert.equal((await target.client.closed).code, 1000)
    assert.equal((await fetch(url)).status, 410)
    assert.equal((await fetch(url, { method: 'DELETE' })).status, 410)
  })

  test('an owner that cannot be reached is a 503, never a 410', async () => {
    const c = nodes[2]!
    const target = clients[5]!
    // Crashed: its slot is still held (or registered, not yet reaped) for deadAfterMs.
    clusterNodeOf(c.gateway.cluster!)!.halt()
    const onB = clients[1]!
    const goneOnB = onB.id.slice(0, 15) + (onB.id[15] === 'A' ? 'B' : 'A')
    const [res, partial] = await Promise.all([
      fetch(`${endpoint}/@connections/${encodeURIComponent(target.id)}`),
      nodes[0]!.gateway.connections.postMany([onB.id, target.id, goneOnB], 'partial').then(
        () => assert.fail('resolved'),
        (err: unknown) => err,
      ),
    ])
    // What could be reached was, and is reported apart from what could not.
    assert.ok(isGatehouseError(partial, 'ERR_CLUSTER_UNAVAILABLE'))
    assert.deepEqual(partial.cause, {
      sent: 1,
      gone: [goneOnB],
      unavailable: [target.id],
      error: (partial.cause as { error: string }).error,
    })
    assert.equal(await onB.client.next(), 'partial')
    assert.equal(res.status, 503)
    assert.equal(res.headers.get('x-amzn-errortype'), 'ServiceUnavailableException')
  })
})
