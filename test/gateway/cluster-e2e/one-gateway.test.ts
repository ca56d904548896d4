/**
 * Cluster acceptance 1: three gateway nodes (separate processes) on the real Redis, one app
 * on the real PostgreSQL behind them over the HTTP integration, its `Connections` port
 * pointed at ONE node, behave to the app and its clients as one gateway: clients on
 * different nodes chat in one channel and each sees each message once; `send.toUser`
 * reaches a user's sockets on two nodes; `GET` and `DELETE @connections/{id}` sent to a node
 * that does not own the id act on the owner's socket; a closed connection's id answers 410
 * from every node.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { slotOf } from '../../../src/gateway/cluster/ids.ts'
import { type Client, clusterWorld, countKeys, management, ofType } from '../../support/cluster.ts'
import { until } from '../../support/processes.ts'

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('three nodes behave as one gateway: chat, toUser, GET/DELETE through a non-owner, 410 everywhere', {
  timeout: 60_000,
}, async (t) => {
  const world = await clusterWorld(t)
  if (!world) return
  try {
    const app = await world.addApp()
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => world.addNode(id, app)))
    assert.ok(a && b && c)
    app.pushVia(a)
    assert.equal(new Set([a.slot, b.slot, c.slot]).size, 3, 'each node holds a slot of its own')

    const alice = await world.join(a, 'alice')
    const bob = await world.join(b, 'bob')
    const carol = await world.join(c, 'carol')
    // An id names its node: no lookup is needed to route a push.
    for (const client of [alice, bob, carol]) {
      assert.equal(slotOf(client.id), client.node.slot, `${client.user}'s id names its node`)
      assert.match(client.id, /^[A-Za-z0-9_-]{16}$/)
    }

    // Chat: each sends one numbered message; the app broadcasts through node a only.
    const chatters: Client[] = [alice, bob, carol]
    chatters.forEach((client, seq) => {
      client.ws.send(JSON.stringify({ action: 'chat', seq, text: `hi from ${client.user}` }))
    })
    await until(
      () => chatters.every((client) => ofType(client, 'chat').length >= 3),
      10_000,
      10,
      'every chat message on every node',
    )
    await settle(300) // a duplicate would arrive in this time
    for (const client of chatters) {
      const seqs = ofType(client, 'chat').map((m) => m.seq)
      assert.deepEqual([...seqs].sort(), [0, 1, 2], `${client.user} saw each message once`)
    }
    assert.deepEqual(await app.app.send.toChannel('lobby', { type: 'ping' }), {
      sent: 3,
      gone: 0,
    })

    // send.toUser: one user, two sockets on two other nodes than the app's.
    const dave1 = await world.join(b, 'dave')
    const dave2 = await world.join(c, 'dave')
    assert.deepEqual(await app.app.send.toUser('dave', { type: 'direct', n: 1 }), {
      sent: 2,
      gone: 0,
    })
    await until(
      () => ofType(dave1, 'direct').length === 1 && ofType(dave2, 'direct').length === 1,
      5_000,
      10,
      "dave's two sockets",
    )
    await settle(200)
    for (const client of [dave1, dave2]) assert.equal(ofType(client, 'direct').length, 1)
    for (const client of chatters) assert.equal(ofType(client, 'direct').length, 0)

    // GET through nodes that do not own carol's socket answers the owner's info.
    const owners = await management(c, 'GET', carol.id)
    assert.equal(owners.status, 200, owners.text)
    const info = JSON.parse(owners.text) as Record<string, unknown>
    assert.equal(info.identity && (info.identity as { sourceIp: string }).sourceIp, '127.0.0.1')
    for (const node of [a, b]) {
      const got = await management(node, 'GET', carol.id)
      assert.equal(got.status, 200, `GET via ${node.id}: ${got.text}`)
      const theirs = JSON.parse(got.text) as Record<string, unknown>
      assert.equal(theirs.connectedAt, info.connectedAt, `via ${node.id}: the owner's socket`)
      assert.deepEqual(theirs.identity, info.identity)
    }
    // POST through a non-owner reaches the socket.
    const posted = await management(b, 'POST', carol.id, '{"type":"poke"}')
    assert.equal(posted.status, 200, posted.text)
    await until(() => ofType(carol, 'poke').length === 1, 5_000, 10, 'the poke')

    // DELETE through a non-owner closes the owner's socket, normally.
    const deleted = await management(a, 'DELETE', carol.id)
    assert.equal(deleted.status, 204, deleted.text)
    await until(() => carol.closed !== null, 5_000, 10, "carol's socket to close")
    assert.equal(carol.closed, 1000)
    await until(
      () => app.counts.disconnectsById.get(carol.id) === 1,
      5_000,
      10,
      "carol's $disconnect",
    )
    assert.equal(app.counts.disconnectCodes.get(carol.id), 1000)
    const session = await world.store.getSession(carol.id)
    assert.equal(session?.connected, false, 'the app marked the session disconnected')

    // A closed connection's id is gone on every node, whatever the method.
    for (const node of [a, b, c]) {
      for (const method of ['POST', 'GET', 'DELETE'] as const) {
        const r = await management(node, method, carol.id, method === 'POST' ? '{}' : undefined)
        assert.equal(r.status, 410, `${method} ${carol.id} via ${node.id}`)
      }
    }
    // Only the owner may say Gone, and it did: the others were not closed or told anything.
    for (const client of [alice, bob, dave1, dave2]) {
      assert.equal(client.closed, null, `${client.user} still open`)
      assert.equal(client.errors, 0)
      assert.ok(
        client.messages.every((m) => ['chat', 'ping', 'direct', 'left'].includes(String(m.type))),
        `${client.user}: ${JSON.stringify(client.messages)}`,
      )
    }
    for (const node of [a, b, c]) assert.ok(node.alive(), `${node.id} alive\n${node.stderr()}`)
  } finally {
    await world.close()
  }
  assert.equal(await countKeys(world.redisUrl, world.keyPrefix), 0, 'no key of the test is left')
})
