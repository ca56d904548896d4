/**
 * Death and reaping: a node that stops heartbeating is reaped by exactly one survivor, which
 * sends each of its recorded connections' `$disconnect` (1006, `Gateway node lost`) through
 * its own integration; a node that comes back after being reaped is fenced (its sockets are
 * closed with 1012, without a second `$disconnect`) and rejoins under a new incarnation.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { isGatehouseError } from '../../../src/errors.ts'
import { clusterNodeOf } from '../../../src/gateway/cluster/node.ts'
import { parseRow } from '../../../src/gateway/cluster/reaper.ts'
import { connectRedis } from '../../support/backends.ts'
import {
  connect,
  dropPrefix,
  FAST,
  settled,
  startNode,
  type TestNode,
  uniquePrefix,
  waitUntil,
} from './support.ts'

const prefixes: string[] = []
after(async () => {
  for (const p of prefixes) await dropPrefix(p)
})

function disconnects(node: TestNode, id?: string) {
  return node.app.events.filter(
    (e) => e.eventType === 'DISCONNECT' && (id === undefined || e.connectionId === id),
  )
}

/** A crash without close(): the loop stops, Redis is dropped, nothing is unregistered. */
function crash(node: TestNode): void {
  clusterNodeOf(node.gateway.cluster!)!.halt()
}

/** Cut a node's Redis connections (as a partition would); the returned function restores them. */
function pause(node: TestNode): () => void {
  const registry = clusterNodeOf(node.gateway.cluster!)!.registry!
  registry.pub.disconnect()
  registry.sub.disconnect()
  return () => {
    void registry.pub.connect().catch(() => {})
    void registry.sub.connect().catch(() => {})
  }
}

test('a silent node is reaped once: one survivor sends each $disconnect, within deadAfterMs + a heartbeat', async () => {
  const prefix = uniquePrefix()
  prefixes.push(prefix)
  const dying = await startNode(prefix, 'dying')
  const s1 = await startNode(prefix, 's1')
  const s2 = await startNode(prefix, 's2')
  await settled()
  const c1 = await connect(dying)
  const c2 = await connect(dying)
  // Written behind: give the table its batch delay.
  await new Promise((r) => setTimeout(r, 150))

  // A crash without close(): the loop stops and Redis is left, sockets are dropped unheard.
  const stoppedAt = Date.now()
  crash(dying)

  await waitUntil(
    () => disconnects(s1).length + disconnects(s2).length >= 2,
    FAST.deadAfterMs + 10 * FAST.heartbeatIntervalMs,
    'the two $disconnects',
  )
  const elapsed = Date.now() - stoppedAt
  // Generous: the test machine is shared; the bound itself is deadAfterMs + one heartbeat.
  assert.ok(elapsed < FAST.deadAfterMs + 10 * FAST.heartbeatIntervalMs, `${elapsed} ms`)
  await new Promise((r) => setTimeout(r, 5 * FAST.heartbeatIntervalMs))
  const all = [...disconnects(s1), ...disconnects(s2)]
  assert.deepEqual(all.map((e) => e.connectionId).sort(), [c1.id, c2.id].sort())
  for (const e of all) {
    assert.equal(e.disconnectStatusCode, 1006)
    assert.equal(e.disconnectReason, 'Gateway node lost')
    assert.equal(e.sourceIp, '127.0.0.1')
  }
  // Its slot is free now: pushes to its ids are Gone, from every node.
  await settled()
  assert.equal(await s1.gateway.connections.post(c1.id, 'x'), false)
  assert.equal(await s2.gateway.connections.get(c2.id), null)
  const nodes = await s1.gateway.cluster!.nodes()
  assert.deepEqual(nodes.map((n) => n.nodeId).sort(), ['s1', 's2'])
  c1.client.ws.terminate()
  c2.client.ws.terminate()
  await Promise.all([s1.close(), s2.close(), dying.close()])
})

test('a node that was reaped while it was away is fenced: 1012 to its sockets, no second $disconnect', async () => {
  const prefix = uniquePrefix()
  prefixes.push(prefix)
  const away = await startNode(prefix, 'away')
  const survivor = await startNode(prefix, 'survivor')
  await settled()
  const c = await connect(away)
  await new Promise((r) => setTimeout(r, 150))
  const slotBefore = away.gateway.cluster!.slot

  const resume = pause(away)
  await waitUntil(() => disconnects(survivor, c.id).length === 1, 5_000, 'the reaper')
  resume()
  const closed = await c.client.closed
  assert.equal(closed.code, 1012)
  await waitUntil(() => away.gateway.cluster!.healthy, 5_000, 'the rejoin')
  // A new incarnation: no $disconnect from the fenced node for the reaped socket.
  await new Promise((r) => setTimeout(r, 200))
  assert.equal(disconnects(away, c.id).length, 0)
  assert.equal(disconnects(survivor, c.id).length, 1)
  assert.ok(away.gateway.cluster!.slot >= 0)
  void slotBefore
  // It works again, both ways.
  const fresh = await connect(away)
  assert.equal(await survivor.gateway.connections.post(fresh.id, 'back'), true)
  assert.equal(await fresh.client.next(), 'back')
  fresh.client.ws.close()
  await Promise.all([away.close(), survivor.close()])
})

test('a clean close unregisters: nobody reaps it, its own $disconnects are sent once, locally', async () => {
  const prefix = uniquePrefix()
  prefixes.push(prefix)
  const leaving = await startNode(prefix, 'leaving')
  const staying = await startNode(prefix, 'staying')
  await settled()
  const c = await connect(leaving)
  await new Promise((r) => setTimeout(r, 150))
  await leaving.close()
  await new Promise((r) => setTimeout(r, FAST.deadAfterMs + 3 * FAST.heartbeatIntervalMs))
  assert.equal(disconnects(leaving, c.id).length, 1)
  assert.equal(disconnects(staying, c.id).length, 0)
  assert.deepEqual(
    (await staying.gateway.cluster!.nodes()).map((n) => n.nodeId),
    ['staying'],
  )
  assert.equal(await staying.gateway.connections.post(c.id, 'x'), false)
  await staying.close()
})

test('a recorded row that is not a connection identity is skipped by the reaper', () => {
  assert.equal(parseRow('AAAAAAAAAAAAAAAA', 'not json'), null)
  assert.equal(parseRow('AAAAAAAAAAAAAAAA', '{"connectionId":"BBBBBBBBBBBBBBBB"}'), null)
  const row = {
    connectionId: 'AAAAAAAAAAAAAAAA',
    connectedAt: 1,
    sourceIp: '10.0.0.1',
    domainName: 'x',
    localPort: 1,
  }
  assert.deepEqual(parseRow('AAAAAAAAAAAAAAAA', JSON.stringify(row)), {
    ...row,
    userAgent: undefined,
  })
})

test('a reaped slot is Gone at once, even while a young registry still settles', async () => {
  const prefix = uniquePrefix()
  prefixes.push(prefix)
  const dying = await startNode(prefix, 'dying')
  const survivor = await startNode(prefix, 'survivor')
  await settled()
  const c = await connect(dying)
  await new Promise((r) => setTimeout(r, 150))
  const slot = dying.gateway.cluster!.slot
  crash(dying)
  await waitUntil(() => disconnects(survivor, c.id).length === 1, 5_000, 'the reap')
  // As if Redis had just lost its data and been re-seeded: the registry is young again.
  const admin = (await connectRedis())!
  await admin.set(`${prefix}epoch`, String(Date.now()))
  assert.equal(await survivor.gateway.connections.post(c.id, 'x'), false)
  // Without the freed marker the same slot would only be "settling": unavailable, not Gone.
  await admin.del(`${prefix}freed:${slot}`)
  await assert.rejects(survivor.gateway.connections.post(c.id, 'x'), (err) =>
    isGatehouseError(err, 'ERR_CLUSTER_UNAVAILABLE'),
  )
  admin.disconnect()
  c.client.ws.terminate()
  await Promise.all([survivor.close(), dying.close()])
})

test('a node id is held by one live node: a second waits for it to die, then reaps its sessions', async () => {
  const prefix = uniquePrefix()
  prefixes.push(prefix)
  const first = await startNode(prefix, 'same')
  const c = await connect(first)
  await new Promise((r) => setTimeout(r, 150))
  // A second process under the same id (a restart racing a crash, or a misconfiguration).
  const starting = startNode(prefix, 'same')
  await new Promise((r) => setTimeout(r, 3 * FAST.heartbeatIntervalMs))
  crash(first)
  const second = await starting
  assert.notEqual(second.gateway.cluster!.slot, -1)
  // It reaps its predecessor itself once registered for deadAfterMs.
  await waitUntil(() => disconnects(second, c.id).length === 1, 5_000, 'the reap')
  assert.equal(disconnects(second, c.id)[0]?.disconnectReason, 'Gateway node lost')
  c.client.ws.terminate()
  await Promise.all([second.close(), first.close()])
})
