import assert from 'node:assert/strict'
import { describe, mock, test } from 'node:test'
import { reconcileSessions, startMaintenance } from '../../src/app/reconcile.ts'
import { appFixture, SID } from '../support/app-fixture.ts'

describe('reconcile', () => {
  test('sessions the gateway no longer knows are marked disconnected; live and young ones are kept', async () => {
    const f = await appFixture()
    const live = await f.connect('alice')
    const lost = await f.connect('bob') // its $disconnect never reaches the app
    f.clock.advance(60_000)
    const young = await f.connect('alice', { sid: SID.alice2 })
    f.connections.close(lost)
    f.connections.close(young) // a handshake still running: the gateway does not know it yet
    const result = await reconcileSessions({
      store: f.store,
      connections: f.connections,
      clock: f.clock,
    })
    assert.deepEqual(result, { checked: 3, markedGone: 1 })
    assert.equal((await f.store.getSession(lost))?.connected, false)
    assert.equal((await f.store.getSession(live))?.connected, true)
    assert.equal((await f.store.getSession(young))?.connected, true)
  })

  test('a run checks at most `limit` sessions, from a window that moves', async () => {
    const f = await appFixture({ connectLimitPerIp: 100, connectLimitPerUser: 100 })
    for (let i = 0; i < 5; i++) await f.connect('alice')
    const seen: string[] = []
    const connections = {
      ...f.connections,
      get: async (id: string) => {
        seen.push(id)
        return f.connections.get(id)
      },
    }
    await reconcileSessions({ store: f.store, connections, limit: 2, random: () => 0.9 })
    await reconcileSessions({ store: f.store, connections, limit: 2, random: () => 0 })
    assert.equal(seen.length, 4)
    assert.ok(new Set(seen).size >= 3, 'the two windows differ')
  })

  test('startMaintenance runs cleanup and reconcile on one unref’d timer and stops', async () => {
    mock.timers.enable({ apis: ['setInterval'] })
    try {
      const f = await appFixture()
      const lost = await f.connect('bob')
      f.clock.advance(60_000)
      f.connections.close(lost)
      const stop = startMaintenance({
        store: f.store,
        connections: f.connections,
        intervalMs: 1000,
        clock: f.clock,
        logger: f.logger,
      })
      mock.timers.tick(1000)
      for (let i = 0; i < 50 && (await f.store.getSession(lost))?.connected; i++)
        await new Promise((r) => setImmediate(r))
      assert.equal((await f.store.getSession(lost))?.connected, false)
      assert.ok(f.logs.some((l) => l.includes('"maintenance"')))
      stop()
    } finally {
      mock.timers.reset()
    }
  })
})
