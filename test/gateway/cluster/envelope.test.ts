/**
 * Envelope authenticity: nothing else on the Redis can push. The unit half checks the codec;
 * the end-to-end half publishes forged, wrongly signed and replayed envelopes on a live
 * node's channel and checks that its socket receives nothing (and that a genuine one does,
 * so the test would fail if the checks were removed).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Redis } from 'ioredis'
import { createEnvelopeCodec, fromWire, toWire } from '../../../src/gateway/cluster/envelope.ts'
import { clusterNodeOf } from '../../../src/gateway/cluster/node.ts'
import { connectRedis } from '../../support/backends.ts'
import {
  connect,
  dropPrefix,
  SECRET,
  settled,
  startNode,
  type TestNode,
  uniquePrefix,
} from './support.ts'

test('seal and open: same channel and secret only, inside the window, once', () => {
  let now = 1_000_000
  const codec = createEnvelopeCodec({ secret: SECRET, now: () => now })
  const other = createEnvelopeCodec({ secret: `${SECRET}x`, now: () => now })
  const body = { op: 'get', ids: ['AAAAAAAAAAAAAAAA'], reply: 'p:reply:x' } as const
  const wire = codec.seal('p:route:0', body)
  const opened = codec.open('p:route:0', wire)
  assert.equal(opened.ok, true)
  assert.deepEqual(codec.open('p:route:0', wire), { ok: false, reason: 'replayed' })
  assert.deepEqual(other.open('p:route:0', codec.seal('p:route:0', body)), {
    ok: false,
    reason: 'signature',
  })
  // Valid on the channel it was sealed for only.
  assert.deepEqual(codec.open('p:route:1', codec.seal('p:route:0', body)), {
    ok: false,
    reason: 'signature',
  })
  assert.deepEqual(codec.open('p:route:0', JSON.stringify(body)), {
    ok: false,
    reason: 'malformed',
  })
  const old = codec.seal('p:route:0', body)
  now += 31_000
  assert.deepEqual(codec.open('p:route:0', old), { ok: false, reason: 'stale' })
  // A tampered body with the original signature is refused.
  const fresh = codec.seal('p:route:0', body)
  const tampered = fresh.replace('AAAAAAAAAAAAAAAA', 'BAAAAAAAAAAAAAAA')
  assert.deepEqual(codec.open('p:route:0', tampered), { ok: false, reason: 'signature' })
})

test('payloads keep their type: strings as strings, bytes as bytes', () => {
  assert.equal(fromWire(toWire('héllo')), 'héllo')
  const bytes = new Uint8Array([0, 255, 128, 10])
  assert.deepEqual(fromWire(toWire(bytes)), bytes)
  assert.deepEqual(fromWire(toWire(bytes.subarray(1, 3))), new Uint8Array([255, 128]))
})

describe('a live node delivers only envelopes signed with the cluster secret, once', () => {
  const prefix = uniquePrefix()
  let node: TestNode
  let redis: Redis
  before(async () => {
    node = await startNode(prefix, 'target')
    await settled()
    redis = (await connectRedis()) as Redis
  })
  after(async () => {
    redis.disconnect()
    await node.close()
    await dropPrefix(prefix)
  })

  test('unsigned, wrongly signed and replayed envelopes push nothing; a signed one does', async () => {
    const { client, id } = await connect(node)
    const slot = node.gateway.cluster!.slot
    const channel = `${prefix}route:${slot}`
    const reply = `${prefix}reply:attacker`
    const body = { op: 'post', ids: [id], data: { t: 's', d: 'injected' }, reply } as const
    const refusedBefore = clusterNodeOf(node.gateway.cluster!)!.router!.refused

    // Unsigned: the bare JSON, and a v1 envelope with a made-up signature.
    await redis.publish(channel, JSON.stringify({ ...body, id: 'x', ts: Date.now() }))
    await redis.publish(
      channel,
      `v1.${Buffer.alloc(32).toString('base64url')}.${JSON.stringify({ ...body, id: 'y', ts: Date.now() })}`,
    )
    // Signed with another secret.
    const wrong = createEnvelopeCodec({ secret: 'not-the-cluster-secret', now: Date.now })
    await redis.publish(channel, wrong.seal(channel, body))
    // Signed for another channel (another slot) and re-published here.
    const right = createEnvelopeCodec({ secret: SECRET, now: Date.now })
    await redis.publish(channel, right.seal(`${prefix}route:${slot + 1}`, body))
    // Stale.
    const past = createEnvelopeCodec({ secret: SECRET, now: () => Date.now() - 60_000 })
    await redis.publish(channel, past.seal(channel, body))
    assert.deepEqual(await client.quiet(300), [])
    assert.equal(clusterNodeOf(node.gateway.cluster!)!.router!.refused - refusedBefore, 5)

    // Genuine: delivered once, and its replay is not.
    const genuine = right.seal(channel, { ...body, data: { t: 's', d: 'genuine' } })
    await redis.publish(channel, genuine)
    assert.equal(await client.next(), 'genuine')
    await redis.publish(channel, genuine)
    assert.deepEqual(await client.quiet(300), [])
    assert.equal(clusterNodeOf(node.gateway.cluster!)!.router!.refused - refusedBefore, 6)
    client.ws.close()
  })
})
