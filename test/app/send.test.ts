import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DEFAULTS } from '../../src/defaults.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { postEachBounded } from '../../src/push/bounded.ts'
import { appFixture, SID } from '../support/app-fixture.ts'

describe('send API', () => {
  test('toChannel reaches every connected socket of the channel, sender included, and no other', async () => {
    const f = await appFixture()
    const a = await f.connect('alice', { channel: 'room1' })
    const b = await f.connect('bob', { channel: 'room1' })
    const c = await f.connect('mod', { channel: 'room2' })
    const result = await f.app.send.toChannel('room1', { type: 'chat_message', text: 'hi' })
    assert.deepEqual(result, { sent: 2, gone: 0 })
    assert.deepEqual(f.connections.received(a), ['{"type":"chat_message","text":"hi"}'])
    assert.deepEqual(f.connections.received(b), ['{"type":"chat_message","text":"hi"}'])
    assert.deepEqual(f.connections.received(c), [])
    await f.app.send.toChannel('room1', 'x', { except: a })
    assert.deepEqual(f.connections.received(a).length, 1)
  })

  test('toUser reaches all of a user’s sockets; toAll reaches everyone; toConnection one', async () => {
    const f = await appFixture()
    const a1 = await f.connect('alice')
    const a2 = await f.connect('alice', { sid: SID.alice2 })
    const b = await f.connect('bob')
    assert.equal((await f.app.send.toUser('alice', 'u')).sent, 2)
    assert.equal((await f.app.send.toAll('all')).sent, 3)
    assert.equal((await f.app.send.toConnection(b, 'one')).sent, 1)
    assert.deepEqual(f.connections.received(a1), ['u', 'all'])
    assert.deepEqual(f.connections.received(a2), ['u', 'all'])
    assert.deepEqual(f.connections.received(b), ['all', 'one'])
  })

  test('a Gone answer marks the session disconnected, so later pushes skip it', async () => {
    const f = await appFixture()
    const a = await f.connect('alice')
    const b = await f.connect('bob')
    f.clock.advance(30_001)
    f.connections.close(b)
    assert.deepEqual(await f.app.send.toAll('x'), { sent: 1, gone: 1 })
    assert.equal((await f.store.getSession(b))?.connected, false)
    assert.deepEqual(await f.app.send.toAll('y'), { sent: 1, gone: 0 })
    assert.deepEqual(f.connections.received(a), ['x', 'y'])
  })

  test('a push that races a handshake (Gone while $connect completes) does not end the new session', async () => {
    const f = await appFixture()
    const a = await f.connect('alice')
    // bob's $connect has been accepted by the app, but the gateway has not opened his socket yet.
    const token = await f.issue('bob')
    const pending = f.connectEvent({ token, sid: SID.bob })
    assert.equal((await f.app.handle(pending)).status, 200)
    assert.deepEqual(await f.app.send.toAll('race'), { sent: 1, gone: 1 })
    assert.equal(
      (await f.store.getSession(pending.connectionId))?.connected,
      true,
      'still connected',
    )
    f.connections.open(pending.connectionId)
    assert.deepEqual(await f.app.send.toAll('after'), { sent: 2, gone: 0 })
    assert.deepEqual(f.connections.received(a), ['race', 'after'])
    // Past the grace period a Gone answer does end the session.
    f.clock.advance(30_001)
    f.connections.close(pending.connectionId)
    await f.app.send.toAll('later')
    assert.equal((await f.store.getSession(pending.connectionId))?.connected, false)
  })

  test('a failed push is logged as push_failed and reaches the caller', async () => {
    const f = await appFixture()
    const a = await f.connect('alice')
    f.connections.post = () => Promise.reject(new Error('gateway down'))
    await assert.rejects(f.app.send.toConnection(a, 'x'), /gateway down/)
    assert.ok(f.logs.some((line) => line.includes('"push_failed"')))
  })

  test('a fan-out that partly fails still marks the recipients it found gone', async () => {
    const f = await appFixture()
    const a = await f.connect('alice')
    const b = await f.connect('bob')
    const m = await f.connect('mod')
    f.clock.advance(30_001)
    // As the AWS port does: one POST per recipient; bob is gone, mod's POST fails (5xx).
    f.connections.postMany = (ids) =>
      postEachBounded(ids, 4, async (id) => {
        if (id === m) throw new Error('500 from the management API')
        return id !== b
      })
    await assert.rejects(f.app.send.toAll('x'), (err) =>
      isGatehouseError(err, 'ERR_INTEGRATION_FAILED'),
    )
    assert.equal((await f.store.getSession(b))?.connected, false, 'gone recipient marked')
    assert.equal((await f.store.getSession(a))?.connected, true)
    assert.equal((await f.store.getSession(m))?.connected, true, 'a failed push is not gone')
  })

  test('outgoing messages over 128 KiB are refused with ERR_MESSAGE_TOO_LARGE; exactly 128 KiB passes', async () => {
    const f = await appFixture()
    const a = await f.connect('alice')
    await assert.rejects(f.app.send.toConnection(a, 'x'.repeat(131_073)), (err) =>
      isGatehouseError(err, 'ERR_MESSAGE_TOO_LARGE'),
    )
    assert.equal((await f.app.send.toConnection(a, 'x'.repeat(131_072))).sent, 1)
  })
  test('close runs at most pushConcurrency closes at once and marks every closed or gone session', async () => {
    const f = await appFixture({ connectLimitPerIp: 1_000, connectLimitPerUser: 1_000 })
    const ids: string[] = []
    const users = ['alice', 'bob', 'mod'] as const // within each user's token issue limit
    for (let i = 0; i < 40; i++) ids.push(await f.connect(users[i % 3]!))
    f.connections.close(ids[0]!) // already gone: still marked
    const realDelete = f.connections.delete.bind(f.connections)
    let inFlight = 0
    let peak = 0
    f.connections.delete = async (id) => {
      inFlight++
      peak = Math.max(peak, inFlight)
      await new Promise((resolve) => setImmediate(resolve))
      inFlight--
      return realDelete(id)
    }
    assert.equal(await f.app.send.close({ all: true }), 39, 'open sockets closed')
    assert.equal(peak, DEFAULTS.pushConcurrency)
    for (const id of ids) assert.equal((await f.store.getSession(id))?.connected, false, id)
  })

  test('a failed close still closes and marks the others, logs push_failed, then throws', async () => {
    const f = await appFixture()
    const a = await f.connect('alice')
    const b = await f.connect('alice', { sid: SID.alice2 })
    const c = await f.connect('alice')
    const realDelete = f.connections.delete.bind(f.connections)
    f.connections.delete = (id) =>
      id === b ? Promise.reject(new Error('gateway down')) : realDelete(id)
    await assert.rejects(f.app.send.close({ userId: 'alice' }), /gateway down/)
    assert.equal((await f.store.getSession(a))?.connected, false)
    assert.equal((await f.store.getSession(c))?.connected, false)
    assert.equal((await f.store.getSession(b))?.connected, true, 'not closed: not marked')
    assert.ok(f.connections.deleted.includes(a) && f.connections.deleted.includes(c))
    assert.ok(f.logs.some((line) => line.includes('"push_failed"')))
  })
})
