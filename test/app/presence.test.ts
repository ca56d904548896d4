/**
 * Presence as an API: `app.presence(channel)` is one store call (and one query or script on
 * PostgreSQL and Redis, counted at the driver), and `onPresence` sees every join and leave
 * of connect, disconnect and channel change.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, test } from 'node:test'
import { changeChannelHandler } from '../../src/app/change-channel.ts'
import type { PresenceEvent } from '../../src/app/presence.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import { createPostgresStore, type PgQueryable } from '../../src/store/postgres.ts'
import { createRedisStore } from '../../src/store/redis.ts'
import { appFixture, countingStore } from '../support/app-fixture.ts'
import { connectPostgres, connectRedis } from '../support/backends.ts'

const seen = (events: PresenceEvent[]) =>
  events.map((e) => `${e.type} ${e.channel} ${e.userId} ${e.cause}`)

describe('app.presence', () => {
  test('answers from one store call: who is in the channel, with connection counts', async () => {
    const store = countingStore(createMemoryStore())
    const f = await appFixture({}, { store })
    await f.connect('alice')
    await f.connect('alice', { sid: 'sid-alice-second-tab-000000' })
    await f.connect('bob')
    await f.connect('mod', { channel: 'games' })
    store.calls.clear()
    assert.deepEqual(await f.app.presence('lobby'), {
      channel: 'lobby',
      members: [
        { userId: 'alice', connections: 2 },
        { userId: 'bob', connections: 1 },
      ],
      anonymous: 0,
    })
    assert.deepEqual([...store.calls], [['channelPresence', 1]])
  })

  test('a name the channel pattern refuses is an error, not a query', async () => {
    const store = countingStore(createMemoryStore())
    const f = await appFixture({}, { store })
    store.calls.clear()
    for (const bad of ['', 'no spaces', 'x'.repeat(129), 42]) {
      await assert.rejects(f.app.presence(bad as string), (e) =>
        isGatehouseError(e, 'ERR_INVALID_OPTION'),
      )
    }
    assert.equal(store.calls.size, 0)
  })
})

describe('onPresence', () => {
  test('join on connect, leave then join on a channel change, leave on disconnect', async () => {
    const events: PresenceEvent[] = []
    const present: string[][] = []
    const f = await appFixture({
      onPresence: async ({ send, presence, ...e }) => {
        events.push(e)
        assert.equal(typeof send.toChannel, 'function')
        present.push((await presence()).members.map((m) => m.userId))
      },
      handlers: { change_channel: changeChannelHandler() },
    })
    const alice = await f.connect('alice')
    assert.deepEqual(events[0], {
      type: 'join',
      channel: 'lobby',
      userId: 'alice',
      connectionId: alice,
      cause: 'connect',
    })
    const moved = await f.app.handle(
      f.messageEvent(alice, '{"action":"change_channel","channel":"games"}'),
    )
    assert.equal(moved.status, 200)
    // Moving to the channel it is in changes nothing, and says nothing.
    await f.app.handle(f.messageEvent(alice, '{"action":"change_channel","channel":"games"}'))
    // A refused move (bad name) says nothing either.
    await f.app.handle(f.messageEvent(alice, '{"action":"change_channel","channel":"a b"}'))
    await f.app.handle(f.disconnectEvent(alice))
    assert.deepEqual(seen(events), [
      'join lobby alice connect',
      'leave lobby alice channel_change',
      'join games alice channel_change',
      'leave games alice disconnect',
    ])
    assert.ok(events.every((e) => e.connectionId === alice))
    // presence() reads the event's channel as the store has it when the hook runs.
    assert.deepEqual(present, [['alice'], [], ['alice'], []])
    // The hook saw the store as it is: after the leave, nobody is in games.
    assert.deepEqual((await f.app.presence('games')).members, [])
  })

  test('a connection without a channel has no presence; a throwing hook is logged, never fatal', async () => {
    const events: PresenceEvent[] = []
    const f = await appFixture({
      onPresence: ({ send: _send, presence: _presence, ...e }) => {
        events.push(e)
        throw new Error('hook bug')
      },
    })
    const quiet = await f.connect('bob', { channel: null })
    await f.app.handle(f.disconnectEvent(quiet))
    assert.equal(events.length, 0)
    const alice = await f.connect('alice')
    const gone = await f.app.handle(f.disconnectEvent(alice))
    assert.equal(gone.status, 200)
    assert.deepEqual(seen(events), ['join lobby alice connect', 'leave lobby alice disconnect'])
    assert.equal(
      f.logs.filter((l) => /"hook":"onPresence"/.test(l) && /hook_failed/.test(l)).length,
      2,
    )
  })

  test('without hooks a disconnect is one store call; with onPresence it reads the session once', async () => {
    const store = countingStore(createMemoryStore())
    const plain = await appFixture({}, { store })
    const a = await plain.connect('alice')
    store.calls.clear()
    await plain.app.handle(plain.disconnectEvent(a))
    assert.deepEqual([...store.calls], [['markDisconnected', 1]])

    const hooked = await appFixture({ onPresence: () => {}, onDisconnect: () => {} }, { store })
    const b = await hooked.connect('bob')
    store.calls.clear()
    await hooked.app.handle(hooked.disconnectEvent(b))
    assert.deepEqual([...store.calls].sort(), [
      ['getSession', 1],
      ['markDisconnected', 1],
    ])
  })

  test('onPresence must be a function', async () => {
    await assert.rejects(
      async () => appFixture({ onPresence: 'yes' as never }),
      (e) => isGatehouseError(e, 'ERR_INVALID_OPTION'),
    )
  })
})

// One round trip at the driver: every query (PostgreSQL) or command (Redis) is counted.
const pg = await connectPostgres()
describe('channelPresence is one query on PostgreSQL', { skip: pg === null }, () => {
  const schema = `gh_presence_${process.pid}_${randomBytes(3).toString('hex')}`
  after(async () => {
    await pg?.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await pg?.pool.end()
  })
  test('ten members, one query', async () => {
    let queries = 0
    const counted: PgQueryable = {
      query: (text, values) => {
        queries++
        return pg!.pool.query(text, values) as ReturnType<PgQueryable['query']>
      },
    }
    const store = await createPostgresStore({ pool: counted, schema })
    for (let i = 0; i < 10; i++) {
      await store.createSession({
        connectionId: `c${i}`,
        userId: `u${i % 4}`,
        sessionHash: null,
        channel: 'lobby',
        connectedAt: 1,
      })
    }
    queries = 0
    const p = await store.channelPresence('lobby')
    assert.equal(queries, 1)
    assert.equal(p.members.length, 4)
    assert.equal(
      p.members.reduce((n, m) => n + m.connections, 0),
      10,
    )
  })
})

const redis = await connectRedis()
describe('channelPresence is one command on Redis', { skip: redis === null }, () => {
  const prefix = `gh-presence:${process.pid}:${randomBytes(3).toString('hex')}:`
  after(async () => {
    const keys = await redis!.keys(`${prefix}*`)
    if (keys.length > 0) await redis!.del(...keys)
    await redis?.quit()
  })
  test('ten members, one script call', async () => {
    const calls: string[] = []
    const counted = new Proxy(redis!, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver)
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          calls.push(String(prop))
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    })
    const store = await createRedisStore({ redis: counted, prefix })
    for (let i = 0; i < 10; i++) {
      await store.createSession({
        connectionId: `c${i}`,
        userId: `u${i % 4}`,
        sessionHash: null,
        channel: 'lobby',
        connectedAt: 1,
      })
    }
    calls.length = 0
    const p = await store.channelPresence('lobby')
    assert.deepEqual(calls, ['evalsha'])
    assert.equal(p.members.length, 4)
    assert.equal(
      p.members.reduce((n, m) => n + m.connections, 0),
      10,
    )
  })
})
