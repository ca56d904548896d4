/**
 * Cluster acceptance 2: `kill -9` of one of three nodes. Its sessions are marked
 * disconnected in the app's store within the documented bound (`deadAfterMs` + one
 * heartbeat, plus slack for the `$disconnect` calls on a loaded machine), each by exactly
 * one `$disconnect` sent by a survivor; pushes to its ids answer 410 from every survivor;
 * the clients of the other nodes see nothing but the departures (the app's `left` messages):
 * no error frame, no close, and they chat on afterwards.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type Client,
  type ClusterNode,
  clusterWorld,
  FAST,
  management,
  ofType,
} from '../../support/cluster.ts'
import { until } from '../../support/processes.ts'

/** Time for the survivor's `$disconnect` calls to reach the app and its store, loaded. */
const SLACK_MS = 1_500
const BOUND_MS = FAST.deadAfterMs + FAST.heartbeatIntervalMs + SLACK_MS

test('kill -9 of a node: its sessions end within the bound, exactly once; 410 for its ids; others see only departures', {
  timeout: 60_000,
}, async (t) => {
  const world = await clusterWorld(t, { timers: FAST })
  if (!world) return
  try {
    const app = await world.addApp()
    const born = performance.now()
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => world.addNode(id, app)))
    assert.ok(a && b && c)
    app.pushVia(a)
    const survivors: Client[] = [await world.join(a, 'alice'), await world.join(b, 'bob')]
    const victims: Client[] = [
      await world.join(c, 'carol'),
      await world.join(c, 'carol'),
      await world.join(c, 'erin'),
    ]
    const victimIds = new Set(victims.map((v) => v.id))
    for (const s of survivors) s.messages.length = 0
    // The crash comes once the victims are in their node's table (written behind, within
    // 50 ms) and the registry is older than its settling time (deadAfterMs + 2 heartbeats),
    // during which an id of a free slot is "unavailable", never Gone (Redis may have lost the
    // registry and its nodes be re-registering).
    const settleMs = FAST.deadAfterMs + 2 * FAST.heartbeatIntervalMs
    await new Promise((r) => setTimeout(r, Math.max(200, settleMs - (performance.now() - born))))

    const killedAt = performance.now()
    process.kill(c.child.pid!, 'SIGKILL')
    const ended = new Map<string, number>()
    await until(
      async () => {
        for (const v of victims) {
          if (ended.has(v.id)) continue
          const session = await world.store.getSession(v.id)
          if (session?.connected === false) ended.set(v.id, performance.now() - killedAt)
        }
        return ended.size === victims.length
      },
      BOUND_MS + 5_000,
      25,
      "the dead node's sessions to be marked disconnected",
    )
    const detectedMs = Math.max(...ended.values())
    console.log(
      `figure: node killed: its ${victims.length} sessions marked disconnected ` +
        `${Math.min(...ended.values()).toFixed(0)}–${detectedMs.toFixed(0)} ms after kill -9 ` +
        `(deadAfterMs ${FAST.deadAfterMs}, heartbeat ${FAST.heartbeatIntervalMs}, bound ${BOUND_MS})`,
    )
    assert.ok(detectedMs <= BOUND_MS, `ended ${detectedMs.toFixed(0)} ms after the kill`)

    // Pushes to its ids are Gone, from every survivor, and through the app.
    const others: ClusterNode[] = [a, b]
    for (const v of victims) {
      for (const node of others) {
        const r = await management(node, 'POST', v.id, '{"type":"late"}')
        assert.equal(
          r.status,
          410,
          `POST ${v.id} via ${node.id}: ${r.status} ${r.text}\n${node.stderr()}`,
        )
      }
      assert.deepEqual(await app.app.send.toConnection(v.id, { type: 'late' }), {
        sent: 0,
        gone: 1,
      })
    }

    // Exactly one $disconnect each (a second survivor must not send it again).
    await new Promise((r) => setTimeout(r, 4 * FAST.heartbeatIntervalMs + 500))
    for (const v of victims) {
      assert.equal(app.counts.disconnectsById.get(v.id), 1, `one $disconnect for ${v.id}`)
      // AWS's code for a connection that ended without a close frame.
      assert.equal(app.counts.disconnectCodes.get(v.id), 1006)
    }

    // The survivors saw the departures, once each, and nothing else.
    await until(
      () => survivors.every((s) => ofType(s, 'left').length === victims.length),
      5_000,
      10,
      'every departure on every survivor',
    )
    for (const s of survivors) {
      assert.equal(s.closed, null, `${s.user} was not closed`)
      assert.equal(s.errors, 0)
      const left = s.messages.map((m) => {
        assert.equal(m.type, 'left', `${s.user} got only departures: ${JSON.stringify(m)}`)
        return m.connectionId as string
      })
      assert.deepEqual(new Set(left), victimIds, `${s.user}: each departure once`)
      assert.equal(left.length, victimIds.size)
    }
    // And the cluster works on: the survivors chat across their two nodes.
    survivors[1]!.ws.send('{"action":"chat","seq":1,"text":"still here"}')
    await until(
      () => survivors.every((s) => ofType(s, 'chat').length === 1),
      5_000,
      10,
      'a chat after the death',
    )
    for (const node of [a, b]) assert.ok(node.alive(), `${node.id} alive\n${node.stderr()}`)
  } finally {
    await world.close()
  }
})
