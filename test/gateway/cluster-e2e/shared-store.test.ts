/**
 * Cluster acceptance 4, the regression of issue 11: two gateway + app pairs over ONE shared
 * store (PostgreSQL), each app pushing through its own gateway's `@connections` API. Without
 * a cluster, A's `send.toAll` finds B's connection unknown to A's gateway (`{sent: 0, gone:
 * 1}`), marks B's session disconnected, and B then answers its client's next message with
 * `Forbidden` and closes it. As two nodes of one cluster, A's push reaches B's client, B's
 * session stays connected, and B's client chats on.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { clusterWorld, ofType } from '../../support/cluster.ts'
import { until } from '../../support/processes.ts'

test("two gateway + app pairs over one store: A's toAll reaches B's client, B's session lives on", {
  timeout: 60_000,
}, async (t) => {
  const world = await clusterWorld(t)
  if (!world) return
  try {
    const appA = await world.addApp()
    const appB = await world.addApp()
    const [nodeA, nodeB] = await Promise.all([world.addNode('a', appA), world.addNode('b', appB)])
    assert.ok(nodeA && nodeB)
    appA.pushVia(nodeA)
    appB.pushVia(nodeB)
    const alice = await world.join(nodeA, 'alice', appA)
    const bob = await world.join(nodeB, 'bob', appB)

    assert.deepEqual(await appA.app.send.toAll({ type: 'hello', from: 'A' }), {
      sent: 2,
      gone: 0,
    })
    await until(() => ofType(bob, 'hello').length === 1, 5_000, 10, "A's push on B's client")
    const session = await world.store.getSession(bob.id)
    assert.equal(session?.connected, true, "B's session is not marked disconnected")

    // B's client can still send: through app B, to the channel, across both nodes.
    bob.ws.send('{"action":"chat","seq":1,"text":"still here"}')
    await until(
      () => [alice, bob].every((c) => ofType(c, 'chat').length === 1),
      5_000,
      10,
      "bob's message on both nodes",
    )
    assert.equal(bob.closed, null, 'no close')
    assert.ok(
      !bob.messages.some((m) => m.message === 'Forbidden'),
      `no Forbidden: ${JSON.stringify(bob.messages)}`,
    )
    // And the other way round.
    assert.deepEqual(await appB.app.send.toAll({ type: 'hello', from: 'B' }), {
      sent: 2,
      gone: 0,
    })
    await until(() => ofType(alice, 'hello').length === 2, 5_000, 10, "B's push on A's client")
    assert.equal((await world.store.getSession(alice.id))?.connected, true)
    for (const node of [nodeA, nodeB]) assert.ok(node.alive(), node.stderr())
  } finally {
    await world.close()
  }
})

// The control: the same two pairs as standalone gateways show the bug this test guards
// against, so the scenario above would catch it coming back.
test('control: two standalone gateway + app pairs over one store break each other', {
  timeout: 60_000,
}, async (t) => {
  const world = await clusterWorld(t)
  if (!world) return
  try {
    const appA = await world.addApp()
    const appB = await world.addApp()
    const [nodeA, nodeB] = await Promise.all([
      world.addNode('a', appA, { standalone: true }),
      world.addNode('b', appB, { standalone: true }),
    ])
    assert.ok(nodeA && nodeB)
    appA.pushVia(nodeA)
    appB.pushVia(nodeB)
    await world.join(nodeA, 'alice', appA)
    const bob = await world.join(nodeB, 'bob', appB)
    assert.deepEqual(await appA.app.send.toAll({ type: 'hello' }), { sent: 1, gone: 1 })
    assert.equal((await world.store.getSession(bob.id))?.connected, false)
    bob.ws.send('{"action":"chat","seq":1,"text":"still here"}')
    await until(() => bob.closed !== null, 5_000, 10, "bob's socket to close")
    assert.ok(
      bob.messages.some((m) => m.message === 'Forbidden'),
      JSON.stringify(bob.messages),
    )
  } finally {
    await world.close()
  }
})
