/**
 * Logout, kick and ban when the store is down: revocation must close what this process
 * holds without the store, retry the store part, and say when it is only half done.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isGatehouseError } from '../../src/errors.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import { appFixture, SID } from '../support/app-fixture.ts'
import { spyStore } from '../tokens/spy-store.ts'

async function fixture() {
  const spy = spyStore(createMemoryStore())
  const f = await appFixture({ handlers: { ping: () => ({ type: 'pong' }) } }, { store: spy.store })
  return { ...f, spy }
}

describe('revocation during a store outage', () => {
  it('revokeUser closes the user’s sockets without the store, then reports itself incomplete', async () => {
    const f = await fixture()
    const a1 = await f.connect('alice')
    const a2 = await f.connect('alice', { sid: SID.alice2 })
    const bob = await f.connect('bob')
    f.spy.down = true
    await assert.rejects(f.app.revokeUser('alice'), (err) => {
      assert.ok(isGatehouseError(err, 'ERR_REVOCATION_INCOMPLETE'))
      assert.deepEqual(err.details, {
        tokens: 0,
        connections: 2,
        incomplete: ['tokens', 'connections'],
      })
      return true
    })
    assert.equal(f.connections.isOpen(a1), false, 'closed although the store is down')
    assert.equal(f.connections.isOpen(a2), false)
    assert.equal(f.connections.isOpen(bob), true, 'nobody else')
    // The store part was retried before giving up.
    const revokes = f.spy.calls.filter((c) => c.method === 'revokeTokens').length
    assert.equal(revokes, 3)
    assert.ok(f.logs.some((l) => l.includes('"event":"revocation_incomplete"')))
  })

  it('revokeSession closes that session’s sockets only, even with the store down', async () => {
    const f = await fixture()
    const one = await f.connect('alice')
    const other = await f.connect('alice', { sid: SID.alice2 })
    f.spy.down = true
    await assert.rejects(f.app.revokeSession(SID.alice), (err) =>
      isGatehouseError(err, 'ERR_REVOCATION_INCOMPLETE'),
    )
    assert.equal(f.connections.isOpen(one), false)
    assert.equal(f.connections.isOpen(other), true)
  })

  it('a store that comes back during the retries completes the revocation', async () => {
    const f = await fixture()
    const id = await f.connect('alice')
    const unused = await f.issue('alice')
    f.spy.down = true
    setTimeout(() => {
      f.spy.down = false
    }, 50)
    const result = await f.app.revokeUser('alice')
    assert.deepEqual(result, { tokens: 2, connections: 1 })
    assert.equal(f.connections.isOpen(id), false)
    const retry = await f.app.handle(f.connectEvent({ token: unused }))
    assert.equal(retry.status, 401, 'the unused token is gone')
  })

  it('with the store up nothing changes: tokens and sockets, one answer', async () => {
    const f = await fixture()
    const id = await f.connect('alice')
    await f.issue('alice')
    assert.deepEqual(await f.app.revokeUser('alice'), { tokens: 2, connections: 1 })
    assert.equal(f.connections.isOpen(id), false)
    assert.deepEqual(await f.app.revokeUser('alice'), { tokens: 0, connections: 0 })
  })
})

describe('kick', () => {
  it('without revoke the kick is advisory: the user’s unused token still connects', async () => {
    const f = await fixture()
    const id = await f.connect('bob')
    const unused = await f.issue('bob')
    assert.deepEqual(await f.app.kick('bob'), { tokens: 0, connections: 1 })
    assert.equal(f.connections.isOpen(id), false)
    const back = await f.app.handle(f.connectEvent({ sid: SID.bob, token: unused }))
    assert.equal(back.status, 200)
  })

  it('with revoke: true it tells the sockets, closes them and ends every token of the user', async () => {
    const f = await fixture()
    const id = await f.connect('bob')
    const unused = await f.issue('bob')
    const result = await f.app.kick('bob', { revoke: true, message: { type: 'kicked', by: 'mod' } })
    assert.deepEqual(result, { tokens: 2, connections: 1 })
    assert.deepEqual(f.connections.received(id), ['{"type":"kicked","by":"mod"}'])
    assert.equal(f.connections.isOpen(id), false)
    const back = await f.app.handle(f.connectEvent({ sid: SID.bob, token: unused }))
    assert.equal(back.status, 401)
  })

  it('with revoke: true and the store down, the sockets still close and the failure is reported', async () => {
    const f = await fixture()
    const id = await f.connect('bob')
    f.spy.down = true
    await assert.rejects(f.app.kick('bob', { revoke: true }), (err) =>
      isGatehouseError(err, 'ERR_REVOCATION_INCOMPLETE'),
    )
    assert.equal(f.connections.isOpen(id), false)
  })
})

describe('revocation without a connections port (HTTP integration, no pushes)', () => {
  async function portless() {
    const spy = spyStore(createMemoryStore())
    const f = await appFixture(
      { handlers: { ping: () => ({ type: 'pong' }) } },
      { store: spy.store, portless: true },
    )
    return { ...f, spy }
  }

  it('revokeSession ends the session in the store, so the socket’s next message is refused', async () => {
    const f = await portless()
    const one = await f.connect('alice')
    const other = await f.connect('alice', { sid: SID.alice2 })
    const ping = '{"action":"ping"}'
    assert.equal((await f.app.handle(f.messageEvent(one, ping))).status, 200)
    assert.deepEqual(await f.app.revokeSession(SID.alice), { tokens: 1, connections: 1 })
    const after = await f.app.handle(f.messageEvent(one, ping))
    assert.notEqual(after.status, 200, 'the logged-out socket is no longer served')
    assert.equal((await f.app.handle(f.messageEvent(other, ping))).status, 200, 'other tab kept')
  })

  it('revokeUser ends every session of the user and nobody else’s', async () => {
    const f = await portless()
    const a1 = await f.connect('alice')
    const a2 = await f.connect('alice', { sid: SID.alice2 })
    const bob = await f.connect('bob')
    const ping = '{"action":"ping"}'
    assert.deepEqual(await f.app.revokeUser('alice'), { tokens: 2, connections: 2 })
    assert.notEqual((await f.app.handle(f.messageEvent(a1, ping))).status, 200)
    assert.notEqual((await f.app.handle(f.messageEvent(a2, ping))).status, 200)
    assert.equal((await f.app.handle(f.messageEvent(bob, ping))).status, 200)
  })

  it('with the store down it reports itself incomplete instead of a false success', async () => {
    const f = await portless()
    await f.connect('alice')
    f.spy.down = true
    await assert.rejects(f.app.revokeSession(SID.alice), (err) => {
      assert.ok(isGatehouseError(err, 'ERR_REVOCATION_INCOMPLETE'))
      assert.deepEqual(err.details, {
        tokens: 0,
        connections: 0,
        incomplete: ['tokens', 'connections'],
      })
      return true
    })
    const lists = f.spy.calls.filter((c) => c.method === 'listConnections').length
    assert.equal(lists, 3, 'the store part was retried')
  })
})
