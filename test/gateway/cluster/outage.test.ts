/**
 * Redis down, then back, on a redis-server of this test's own (stopped and started by pid):
 * new connects answer 503, local sockets and local pushes carry on, remote pushes fail with
 * ERR_CLUSTER_UNAVAILABLE; once Redis returns the nodes re-register and resubscribe by
 * themselves, keep their sockets (nobody answered Gone for them), and route again. The
 * same after Redis lost its data (FLUSHALL on that private server).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { isGatehouseError } from '../../../src/errors.ts'
import { clusterNodeOf } from '../../../src/gateway/cluster/node.ts'
import { connectClient } from '../../conformance/gateway/support/harness.ts'
import { type PrivateRedis, startPrivateRedis } from '../../support/private-services.ts'
import {
  connect,
  FAST,
  settled,
  startNode,
  type TestNode,
  uniquePrefix,
  waitUntil,
} from './support.ts'

const DEAD_AFTER_MS = 1_000

describe('a Redis outage', () => {
  let redis: PrivateRedis
  let a: TestNode
  let b: TestNode
  const prefix = uniquePrefix()

  before(async () => {
    redis = await startPrivateRedis()
    // A longer death than FAST's, so the grace b relies on below holds on a loaded machine.
    a = await startNode(prefix, 'a', { url: redis.url, deadAfterMs: DEAD_AFTER_MS })
    b = await startNode(prefix, 'b', { url: redis.url, deadAfterMs: DEAD_AFTER_MS })
    await settled()
  })
  after(async () => {
    await Promise.allSettled([a.close(), b.close()])
    await redis.destroy()
  })

  test('503 for new connects, local traffic unharmed, remote pushes fail clearly; then recovery', async () => {
    const ca = await connect(a)
    const cb = await connect(b)
    assert.equal(await a.gateway.connections.post(cb.id, 'before'), true)
    assert.equal(await cb.client.next(), 'before')

    await redis.stop()
    await waitUntil(
      () => !a.gateway.cluster!.healthy && !b.gateway.cluster!.healthy,
      5_000,
      'unhealthy',
    )
    await assert.rejects(connectClient(a.url), (err: { status?: number }) => err.status === 503)
    const health = await fetch(
      `${a.url.replace('ws:', 'http:').replace(/\/production$/, '')}/healthz`,
    )
    assert.equal(health.status, 503)
    // Local: pushes and the client's own messages still work.
    assert.equal(await a.gateway.connections.post(ca.id, 'local'), true)
    assert.equal(await ca.client.next(), 'local')
    ca.client.ws.send('{"action":"hello"}')
    await a.app.waitFor((e) => e.eventType === 'MESSAGE' && e.connectionId === ca.id)
    // Remote: a clear error, never Gone.
    await assert.rejects(a.gateway.connections.post(cb.id, 'lost'), (err) =>
      isGatehouseError(err, 'ERR_CLUSTER_UNAVAILABLE'),
    )
    await assert.rejects(a.gateway.cluster!.nodes(), (err) =>
      isGatehouseError(err, 'ERR_CLUSTER_UNAVAILABLE'),
    )
    // Down longer than deadAfterMs: every slot key expires meanwhile.
    await new Promise((r) => setTimeout(r, DEAD_AFTER_MS + 200))

    // b comes back only once a is registered again: a must not reap it meanwhile.
    const bRegistry = clusterNodeOf(b.gateway.cluster!)!.registry!
    bRegistry.pub.disconnect()
    bRegistry.sub.disconnect()
    const back = Date.now()
    await redis.start()
    await waitUntil(() => a.gateway.cluster!.healthy, 5_000, 'a healthy')
    void bRegistry.pub.connect().catch(() => {})
    void bRegistry.sub.connect().catch(() => {})
    await waitUntil(
      () => a.gateway.cluster!.healthy && b.gateway.cluster!.healthy,
      5_000,
      'healthy',
    )
    await waitUntil(
      async () => (await a.gateway.connections.post(cb.id, 'after').catch(() => false)) === true,
      5_000,
      'routing',
    )
    assert.ok(Date.now() - back < 5_000)
    assert.equal(await cb.client.next(), 'after')
    // Delivered once: nothing else queued for either client, and both sockets still open.
    assert.deepEqual(await cb.client.quiet(300), [])
    assert.equal(ca.client.ws.readyState, 1)
    assert.equal(cb.client.ws.readyState, 1)
    // No node reaped the other on its way back.
    await new Promise((r) => setTimeout(r, DEAD_AFTER_MS + 3 * FAST.heartbeatIntervalMs))
    assert.equal(ca.client.ws.readyState, 1)
    assert.equal(cb.client.ws.readyState, 1)
    assert.equal(await b.gateway.connections.post(ca.id, 'both ways'), true)
    assert.equal(await ca.client.next(), 'both ways')
    assert.deepEqual((await a.gateway.cluster!.nodes()).map((n) => n.nodeId).sort(), ['a', 'b'])
    const fresh = await connect(b)
    fresh.client.ws.close()
    ca.client.ws.close()
    cb.client.ws.close()
  })

  test('Redis lost its data: the nodes re-register, keep their sockets and rewrite their tables', async () => {
    const ca = await connect(a)
    const cb = await connect(b)
    await new Promise((r) => setTimeout(r, 150))
    const admin = new Redis(redis.url)
    await admin.flushall()
    await waitUntil(
      async () => (await admin.hlen(`${prefix}slots`)) === 2,
      5_000,
      'both re-registered',
    )
    await waitUntil(
      async () =>
        (await admin.exists(`${prefix}conns:${await incarnationOf(admin, prefix, a)}`)) === 1,
      5_000,
      'a table rewritten',
    )
    admin.disconnect()
    assert.equal(await a.gateway.connections.post(cb.id, 'still here'), true)
    assert.equal(await cb.client.next(), 'still here')
    assert.equal(ca.client.ws.readyState, 1)
    ca.client.ws.close()
    cb.client.ws.close()
  })
})

/** The incarnation a node registered its slot under. */
async function incarnationOf(admin: Redis, prefix: string, node: TestNode): Promise<string> {
  const info = await admin.hget(`${prefix}slots`, String(node.gateway.cluster!.slot))
  return (info ?? ' ').split(' ')[1] ?? ''
}
