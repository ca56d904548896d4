/**
 * Cluster acceptance, the security control of routing: anything on the cluster's Redis
 * without the cluster secret cannot push to or close a node's sockets. A push and a close
 * published on a node's route channel, signed with another secret or not at all, reach
 * nobody; the same push signed with the cluster secret (the positive control: the forged
 * ones were otherwise valid) reaches the socket once, and its replay is refused.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createEnvelopeCodec, toWire } from '../../../src/gateway/cluster/envelope.ts'
import { CLUSTER_SECRET, clusterWorld, ofType } from '../../support/cluster.ts'
import { until } from '../../support/processes.ts'

test('forged, unsigned and replayed envelopes on the Redis reach no socket; a signed one does', {
  timeout: 60_000,
}, async (t) => {
  const world = await clusterWorld(t)
  if (!world) return
  const { Redis } = await import('ioredis')
  const redis = new Redis(world.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  redis.on('error', () => {})
  try {
    await redis.connect()
    const app = await world.addApp()
    const [a, b] = await Promise.all(['a', 'b'].map((id) => world.addNode(id, app)))
    assert.ok(a && b)
    app.pushVia(a)
    const bob = await world.join(b, 'bob')
    const channel = `${world.keyPrefix}route:${b.slot}`
    const reply = `${world.keyPrefix}reply:attacker`
    const post = (type: string) =>
      ({ op: 'post', ids: [bob.id], data: toWire(JSON.stringify({ type })), reply }) as const

    const attacker = createEnvelopeCodec({
      secret: 'not-the-cluster-secret-0123456789',
      now: Date.now,
    })
    assert.ok((await redis.publish(channel, attacker.seal(channel, post('forged')))) > 0)
    await redis.publish(channel, attacker.seal(channel, { op: 'delete', ids: [bob.id], reply }))
    const genuine = createEnvelopeCodec({ secret: CLUSTER_SECRET, now: Date.now })
    const signed = genuine.seal(channel, post('genuine'))
    // Unsigned: the signed envelope's JSON with its signature cut off, and with another's.
    const json = signed.slice(signed.indexOf('.', 3) + 1)
    await redis.publish(channel, json)
    await redis.publish(channel, `v1.${'A'.repeat(43)}.${json.replace('genuine', 'forged')}`)
    // Signed for another channel: valid only where it was published.
    await redis.publish(channel, genuine.seal(`${world.keyPrefix}route:${a.slot}`, post('forged')))

    await redis.publish(channel, signed)
    await until(() => ofType(bob, 'genuine').length === 1, 5_000, 10, 'the signed push')
    await redis.publish(channel, signed) // a replay
    await new Promise((r) => setTimeout(r, 500))
    assert.equal(ofType(bob, 'genuine').length, 1, 'a replay is refused')
    assert.equal(ofType(bob, 'forged').length, 0, JSON.stringify(bob.messages))
    assert.equal(bob.closed, null, 'the forged close did nothing')
    assert.match(b.stderr(), /cluster_envelope_refused/)
    assert.ok(b.alive(), b.stderr())
  } finally {
    redis.disconnect()
    await world.close()
  }
})
