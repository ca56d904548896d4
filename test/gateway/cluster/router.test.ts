import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { isGatehouseError } from '../../../src/errors.ts'
import { slotOf } from '../../../src/gateway/cluster/ids.ts'
import { connect, dropPrefix, settled, startNode, type TestNode, uniquePrefix } from './support.ts'

describe('routing between cluster nodes', () => {
  const prefix = uniquePrefix()
  let a: TestNode
  let b: TestNode
  before(async () => {
    a = await startNode(prefix, 'a')
    b = await startNode(prefix, 'b')
    await settled()
  })
  after(async () => {
    await Promise.allSettled([a.close(), b.close()])
    await dropPrefix(prefix)
  })

  test('each node holds its own slot and its ids name it', async () => {
    assert.notEqual(a.gateway.cluster?.slot, b.gateway.cluster?.slot)
    const { client, id } = await connect(b)
    assert.equal(slotOf(id), b.gateway.cluster?.slot)
    assert.equal(id.length, 16)
    client.ws.close()
    const nodes = await a.gateway.cluster!.nodes()
    assert.deepEqual(nodes.map((n) => n.nodeId).sort(), ['a', 'b'])
  })

  test('post, get, postMany and delete from a node that does not own the socket', async () => {
    const { client, id } = await connect(b)
    assert.equal(await a.gateway.connections.post(id, 'hello from a'), true)
    assert.equal(await client.next(), 'hello from a')
    const bytes = new Uint8Array([0xff, 0x00, 0x01])
    assert.equal(await a.gateway.connections.post(id, bytes), true)
    const info = await a.gateway.connections.get(id)
    assert.ok(info)
    assert.equal(info.sourceIp, '127.0.0.1')
    const mine = await connect(a)
    const result = await a.gateway.connections.postMany([id, mine.id, 'AAAAAAAAAAAAAAAA'], 'all')
    assert.equal(result.sent, 2)
    // Slot 0 is a's or b's: its owner answers that it has no such socket.
    assert.deepEqual(result.gone, ['AAAAAAAAAAAAAAAA'])
    assert.equal(await a.gateway.connections.delete(id), true)
    const closed = await client.closed
    assert.equal(closed.code, 1000)
    assert.equal(await a.gateway.connections.get(id), null)
    assert.equal(await a.gateway.connections.post(id, 'x'), false)
    assert.equal(await a.gateway.connections.delete(id), false)
    mine.client.ws.close()
  })

  test('a slot nobody holds answers Gone', async () => {
    const used = new Set([a.gateway.cluster!.slot, b.gateway.cluster!.slot])
    const free = [...Array(64).keys()].find((s) => !used.has(s)) as number
    const id = `${'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[free]}AAAAAAAAAAAAAAA`
    assert.equal(await a.gateway.connections.post(id, 'x'), false)
    assert.equal(await a.gateway.connections.get(id), null)
  })

  test('a too large message fails before it is routed', async () => {
    await assert.rejects(
      a.gateway.connections.postMany(['BAAAAAAAAAAAAAAA'], 'x'.repeat(200_000)),
      (err) => isGatehouseError(err, 'ERR_MESSAGE_TOO_LARGE'),
    )
  })
})
