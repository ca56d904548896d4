import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { changeChannelHandler } from '../../src/app/change-channel.ts'
import type { HandlerFn } from '../../src/app/types.ts'
import { DEFAULTS } from '../../src/defaults.ts'
import { GatehouseError } from '../../src/errors.ts'
import type { GatewayEvent } from '../../src/events/event.ts'
import { parseCookies } from '../../src/http/cookies.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { Store } from '../../src/store/store.ts'
import { appFixture, SID, USERS } from '../support/app-fixture.ts'

/** A store that records which methods were called, in order. */
function countingStore(inner: Store): Store & { calls: string[] } {
  const calls: string[] = []
  const wrapped = { calls } as Store & { calls: string[] }
  for (const key of Object.keys(inner) as (keyof Store)[]) {
    const fn = inner[key] as (...args: unknown[]) => unknown
    ;(wrapped as unknown as Record<string, unknown>)[key] =
      typeof fn === 'function'
        ? (...args: unknown[]) => {
            calls.push(key)
            return fn(...args)
          }
        : fn
  }
  return wrapped
}

const FORBIDDEN = '{"type":"error","message":"Forbidden"}'
const HOSTILE = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
  'prototype',
]

function handlersWithSpy() {
  const calls: string[] = []
  const handlers: Record<string, HandlerFn | { run: HandlerFn; permissions: { anyOf: string[] } }> =
    {
      send_message: (ctx) => {
        calls.push('send_message')
        return { type: 'ok', text: ctx.body.text }
      },
      kick: {
        permissions: { anyOf: ['chat.moderate'] },
        run: async (ctx) => {
          calls.push('kick')
          await ctx.send.close({ userId: String(ctx.body.user) })
          return { type: 'kicked' }
        },
      },
      boom: () => {
        calls.push('boom')
        throw new Error('secret internal detail /etc/passwd')
      },
      change_channel: changeChannelHandler(),
    }
  return { calls, handlers }
}

describe('message pipeline', () => {
  test('the handler named by `action` runs and its result is the reply', async () => {
    const { calls, handlers } = handlersWithSpy()
    const f = await appFixture({ handlers })
    const id = await f.connect('alice')
    const r = await f.app.handle(f.messageEvent(id, '{"action":"send_message","text":"hi"}'))
    assert.equal(r.status, 200)
    assert.deepEqual(JSON.parse(r.body!), { type: 'ok', text: 'hi' })
    assert.deepEqual(calls, ['send_message'])
    // Counted in memory; written behind, in one batch.
    assert.equal((await f.store.getSession(id))?.requestCount, 0)
    await f.app.flushActivity()
    const row = await f.store.getSession(id)
    assert.equal(row?.requestCount, 1)
    assert.equal(row?.lastSeenAt, f.clock.now())
  })

  test('`handler` is accepted as the key too (upstream compatible)', async () => {
    const { calls, handlers } = handlersWithSpy()
    const f = await appFixture({ handlers })
    const id = await f.connect('alice')
    await f.app.handle(f.messageEvent(id, '{"handler":"send_message","text":"hi"}'))
    assert.deepEqual(calls, ['send_message'])
  })

  test('hostile and malformed names get exactly the unknown-name reply and run nothing', async () => {
    const { calls, handlers } = handlersWithSpy()
    const f = await appFixture({ handlers })
    const id = await f.connect('alice')
    const unknown = await f.app.handle(f.messageEvent(id, '{"action":"no_such_handler"}'))
    assert.equal(unknown.body, FORBIDDEN)
    const bodies = [
      ...HOSTILE.map((name) => JSON.stringify({ action: name })),
      '{"action":["send_message"]}',
      '{"action":123}',
      '{"action":null}',
      '{"action":"send_message "}',
      '{"action":"SEND_MESSAGE"}',
      '{"action":{"toString":"send_message"}}',
      'not json',
      '["send_message"]',
      '"send_message"',
      '{"__proto__":{"action":"send_message"}}',
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
      '',
    ]
    for (const body of bodies) {
      const r = await f.app.handle(f.messageEvent(id, body))
      assert.deepEqual(r, unknown, body.slice(0, 40))
    }
    assert.deepEqual(calls, [])
    assert.equal(({} as Record<string, unknown>).action, undefined, 'no prototype pollution')
  })

  test('property: no body ever reaches a handler other than the one it names exactly', async () => {
    const { calls, handlers } = handlersWithSpy()
    const f = await appFixture({ handlers })
    const id = await f.connect('alice')
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.constantFrom(...HOSTILE),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        async (name) => {
          calls.length = 0
          const body = JSON.stringify({ action: name })
          await f.app.handle(f.messageEvent(id, body))
          if (name === 'send_message') assert.deepEqual(calls, ['send_message'])
          else assert.ok(!calls.includes('boom') && !calls.includes('send_message'), name)
        },
      ),
      { numRuns: 300 },
    )
  })

  test('unknown and forbidden names go to the default handler when there is one', async () => {
    const seen: string[] = []
    const f = await appFixture({
      handlers: {
        kick: { permissions: { anyOf: ['chat.moderate'] }, run: () => 'kicked' },
        default: (ctx) => {
          seen.push(String(ctx.body.action))
          return { type: 'default' }
        },
      },
    })
    const id = await f.connect('alice')
    for (const action of ['constructor', 'nope', 'kick']) {
      const r = await f.app.handle(f.messageEvent(id, JSON.stringify({ action })))
      assert.equal(r.body, '{"type":"default"}')
    }
    assert.deepEqual(seen, ['constructor', 'nope', 'kick'])
  })

  test('handler permissions: kick without chat.moderate gets Forbidden and does nothing', async () => {
    const { calls, handlers } = handlersWithSpy()
    const f = await appFixture({ handlers })
    const bob = await f.connect('bob')
    const alice = await f.connect('alice')
    const r = await f.app.handle(f.messageEvent(alice, '{"action":"kick","user":"bob"}'))
    assert.equal(r.body, FORBIDDEN)
    assert.deepEqual(calls, [])
    assert.equal((await f.store.getSession(bob))?.connected, true)
    const mod = await f.connect('mod')
    const ok = await f.app.handle(f.messageEvent(mod, '{"action":"kick","user":"bob"}'))
    assert.equal(ok.body, '{"type":"kicked"}')
    assert.equal((await f.store.getSession(bob))?.connected, false)
    assert.ok(f.connections.deleted.includes(bob))
  })

  test('a throwing handler answers a generic error; the detail stays in the log', async () => {
    const { handlers } = handlersWithSpy()
    const f = await appFixture({ handlers })
    const id = await f.connect('alice')
    const r = await f.app.handle(f.messageEvent(id, '{"action":"boom"}'))
    assert.equal(r.body, '{"type":"error","message":"Internal server error"}')
    assert.ok(!r.body!.includes('passwd'))
    assert.ok(f.logs.some((line) => line.includes('handler_failed')))
  })

  test('a message from a connection with no connected session gets the generic error and its socket closes', async () => {
    const { calls, handlers } = handlersWithSpy()
    const f = await appFixture({ handlers })
    const id = await f.connect('alice')
    await f.app.handle(f.disconnectEvent(id))
    // The store says disconnected, but the socket is still open: told once, then closed.
    const r = await f.app.handle(f.messageEvent(id, '{"action":"send_message"}'))
    assert.equal(r.status, 403)
    assert.deepEqual(f.connections.received(id), [FORBIDDEN])
    assert.ok(f.connections.deleted.includes(id))
    // No socket to push to: the generic error is the route's answer instead.
    const forged = await f.app.handle(
      f.messageEvent('R1kmxc2VNjMCFIA=', '{"action":"send_message"}'),
    )
    assert.equal(forged.status, 403)
    assert.equal(forged.body, FORBIDDEN)
    assert.deepEqual(calls, [])
  })

  test('a store outage inside a handler answers 503, not 500', async () => {
    let down = false
    const inner = createMemoryStore()
    const store: Store = {
      ...inner,
      listConnections: (audience) =>
        down
          ? Promise.reject(new GatehouseError('ERR_STORE_UNAVAILABLE', 'test: down'))
          : inner.listConnections(audience),
    }
    const f = await appFixture(
      {
        handlers: {
          shout: async (ctx) => {
            await ctx.send.toChannel('lobby', 'x')
            return { type: 'ok' }
          },
        },
      },
      { store },
    )
    const id = await f.connect('alice')
    down = true
    const r = await f.app.handle(f.messageEvent(id, '{"action":"shout"}'))
    assert.equal(r.status, 503)
    assert.equal(r.body, '{"type":"error","message":"Service Unavailable"}')
    assert.ok(f.logs.some((line) => line.includes('"store_unavailable"')))
    assert.ok(!f.logs.some((line) => line.includes('"handler_failed"')))
  })

  test('a user deactivated after connecting is refused, and its socket closed, once the cached user expires', async () => {
    const { calls, handlers } = handlersWithSpy()
    let active = true
    const f = await appFixture({
      handlers,
      loadUser: (id) => ({ id, permissions: ['chat.use'], active }),
    })
    const id = await f.connect('alice')
    active = false
    f.clock.advance(DEFAULTS.sessionCacheTtlMs)
    const r = await f.app.handle(f.messageEvent(id, '{"action":"send_message"}'))
    assert.equal(r.status, 403)
    assert.deepEqual(f.connections.received(id), [FORBIDDEN])
    assert.ok(f.connections.deleted.includes(id))
    assert.deepEqual(calls, [])
  })

  test('messages reuse the session and user of $connect: no store read or write, no loadUser', async () => {
    const { calls, handlers } = handlersWithSpy()
    const store = countingStore(createMemoryStore())
    const f = await appFixture({ handlers }, { store })
    const id = await f.connect('alice')
    const loads = f.loadUserCalls.length
    store.calls.length = 0
    for (let i = 0; i < 5; i++) {
      f.clock.advance(100)
      await f.app.handle(f.messageEvent(id, '{"action":"send_message"}'))
    }
    assert.deepEqual(calls, Array(5).fill('send_message'))
    assert.deepEqual(store.calls, [])
    assert.equal(f.loadUserCalls.length, loads)
    await f.app.flushActivity()
    assert.deepEqual(store.calls, ['recordActivity'])
    assert.equal((await store.getSession(id))?.requestCount, 5)
  })

  test('a cache miss (another process, a restart) reads the store once and writes nothing', async () => {
    const { calls, handlers } = handlersWithSpy()
    const store = countingStore(createMemoryStore())
    const f = await appFixture({ handlers }, { store })
    const id = await f.connect('alice')
    // A second process of the same app over the same store: it never saw the $connect.
    const other = await appFixture({ handlers }, { store })
    other.clock.set(f.clock.now())
    store.calls.length = 0
    await other.app.handle(other.messageEvent(id, '{"action":"send_message"}'))
    await other.app.handle(other.messageEvent(id, '{"action":"send_message"}'))
    assert.deepEqual(calls, ['send_message', 'send_message'])
    assert.deepEqual(store.calls, ['getSession'])
  })

  test('revokeUser in this process stops the next message at once, whatever the cache lifetime', async () => {
    const { calls, handlers } = handlersWithSpy()
    const f = await appFixture({ handlers, sessionCacheTtlMs: 3_600_000 })
    const id = await f.connect('alice')
    await f.app.handle(f.messageEvent(id, '{"action":"send_message"}'))
    await f.app.revokeUser('alice')
    const r = await f.app.handle(f.messageEvent(id, '{"action":"send_message"}'))
    assert.equal(r.status, 403)
    assert.deepEqual(calls, ['send_message'])
  })

  test('revokeSession and a kick stop the next message at once', async () => {
    const { calls, handlers } = handlersWithSpy()
    const f = await appFixture({ handlers, sessionCacheTtlMs: 3_600_000 })
    const a = await f.connect('alice')
    const b = await f.connect('bob')
    await f.app.revokeSession(SID.alice)
    assert.equal((await f.app.handle(f.messageEvent(a, '{"action":"send_message"}'))).status, 403)
    await f.app.send.close({ connectionId: b })
    assert.equal((await f.app.handle(f.messageEvent(b, '{"action":"send_message"}'))).status, 403)
    assert.deepEqual(calls, [])
  })

  test('a store read racing a revocation is not trusted: the message reads again and is refused', async () => {
    const { calls, handlers } = handlersWithSpy()
    const base = createMemoryStore()
    let hold: (() => void) | undefined
    const store: Store = {
      ...base,
      getSession: async (id) => {
        const row = await base.getSession(id)
        // The read answers "connected", then waits while a revocation runs to its end.
        if (hold === undefined) await new Promise<void>((resolve) => (hold = resolve))
        return row
      },
    }
    const f = await appFixture({ handlers }, { store })
    const id = await f.connect('alice')
    const other = await appFixture({ handlers }, { store })
    other.clock.set(f.clock.now())
    const pending = other.app.handle(other.messageEvent(id, '{"action":"send_message"}'))
    while (hold === undefined) await new Promise((r) => setImmediate(r))
    await other.app.revokeUser('alice')
    hold()
    assert.equal((await pending).status, 403)
    assert.deepEqual(calls, [])
  })

  test('$disconnect drops the cached session', async () => {
    const { calls, handlers } = handlersWithSpy()
    const f = await appFixture({ handlers, sessionCacheTtlMs: 3_600_000 })
    const id = await f.connect('alice')
    await f.app.handle(f.disconnectEvent(id))
    const r = await f.app.handle(f.messageEvent(id, '{"action":"send_message"}'))
    assert.equal(r.status, 403)
    assert.deepEqual(calls, [])
  })

  test('messages over maxMessageBytes are refused before any store work', async () => {
    const { calls, handlers } = handlersWithSpy()
    const f = await appFixture({ handlers, maxMessageBytes: 1024 })
    const id = await f.connect('alice')
    const r = await f.app.handle(
      f.messageEvent(id, JSON.stringify({ action: 'send_message', text: 'é'.repeat(600) })),
    )
    assert.equal(r.body, FORBIDDEN)
    assert.deepEqual(calls, [])
    assert.equal((await f.store.getSession(id))?.requestCount, 0)
  })

  test('change_channel validates like connect and moves the session', async () => {
    const { handlers } = handlersWithSpy()
    const f = await appFixture({ handlers, authorizeChannel: (_u, c) => c !== 'staff' })
    const id = await f.connect('alice')
    for (const channel of ['room\n', '../x', 'x'.repeat(129), 'staff', 42, null]) {
      const r = await f.app.handle(
        f.messageEvent(id, JSON.stringify({ action: 'change_channel', channel })),
      )
      assert.equal(r.body, FORBIDDEN, String(channel))
      assert.equal((await f.store.getSession(id))?.channel, 'lobby')
    }
    const ok = await f.app.handle(
      f.messageEvent(id, '{"action":"change_channel","channel":"room2"}'),
    )
    assert.deepEqual(JSON.parse(ok.body!), { type: 'channel_changed', channel: 'room2' })
    assert.equal((await f.store.getSession(id))?.channel, 'room2')
  })

  test('unsigned HTTP integration messages are refused (connection-id impersonation)', async () => {
    const { calls, handlers } = handlersWithSpy()
    const f = await appFixture({ handlers })
    const id = await f.connect('alice')
    const r = await f.app.handle(f.messageEvent(id, '{"action":"send_message"}', { via: 'http' }))
    assert.equal(r.status, 403)
    assert.deepEqual(calls, [])
  })
})

describe('$disconnect', () => {
  test('marks the session disconnected, idempotently', async () => {
    const f = await appFixture()
    const id = await f.connect('alice')
    assert.equal((await f.app.handle(f.disconnectEvent(id))).status, 200)
    assert.equal((await f.app.handle(f.disconnectEvent(id))).status, 200)
    assert.equal((await f.store.getSession(id))?.connected, false)
  })
})

describe('revocation', () => {
  test('revokeUser deletes the user’s tokens (used or not) and closes every socket of the user', async () => {
    const f = await appFixture()
    const a1 = await f.connect('alice')
    const a2 = await f.connect('alice', { sid: SID.alice2 })
    const b = await f.connect('bob')
    const pending = await f.issue('alice')
    const result = await f.app.revokeUser('alice')
    // Two used tokens (a1, a2) and one unused (pending).
    assert.deepEqual(result, { tokens: 3, connections: 2 })
    assert.ok(f.connections.deleted.includes(a1) && f.connections.deleted.includes(a2))
    assert.ok(!f.connections.deleted.includes(b))
    assert.equal((await f.app.handle(f.connectEvent({ token: pending }))).status, 401)
  })

  // A $connect held in loadUser, the step just before its session is written. When identify
  // names the user (the fixture's default), the user is checked before the token: the token
  // is still unused and the session unwritten, and both happen in one later store call
  // (openSession), so a revocation now leaves no token to use. When identify names no user,
  // the token is consumed first and the held step sits between it and the guarded session.
  function heldConnect() {
    let hold = false
    let release!: () => void
    let entered!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const reached = new Promise<void>((resolve) => {
      entered = resolve
    })
    const loadUser = async (id: string) => {
      if (hold) {
        entered()
        await gate
      }
      return USERS.get(id) ?? null
    }
    return { loadUser, arm: () => (hold = true), reached, release }
  }

  const ORDERS = [
    // Unknown, used, expired and revoked tokens share one reason when the token is used last.
    { order: 'user known', reason: '"token_invalid"', identify: undefined },
    {
      order: 'token first',
      reason: '"token_revoked"',
      identify: (event: GatewayEvent) => ({
        sessionId: parseCookies(event.headers.cookie).get('sessionid') ?? null,
      }),
    },
  ] as const
  for (const { order, reason, identify } of ORDERS) {
    for (const scope of ['revokeUser', 'revokeSession'] as const) {
      test(`${scope} while $connect is between its token and its session (${order}): 401, no session`, async () => {
        const held = heldConnect()
        const f = await appFixture({ loadUser: held.loadUser, ...(identify ? { identify } : {}) })
        const event = f.connectEvent({ token: await f.issue('alice') })
        held.arm()
        const connecting = f.app.handle(event)
        await held.reached
        const revoked =
          scope === 'revokeUser'
            ? await f.app.revokeUser('alice')
            : await f.app.revokeSession(SID.alice)
        assert.deepEqual(revoked, { tokens: 1, connections: 0 }, 'the token went, used or not')
        held.release()
        const r = await connecting
        assert.equal(r.status, 401)
        assert.equal(r.body, '{"message":"Unauthorized"}')
        assert.equal(await f.store.getSession(event.connectionId), null)
        assert.deepEqual(await f.store.listConnections({ userId: 'alice' }), [])
        assert.ok(f.logs.some((line) => line.includes(reason)))
      })
    }
  }

  test('revoked after the session is written but before the socket opens: the first message closes it', async () => {
    const { calls, handlers } = handlersWithSpy()
    let hold = false
    let release!: () => void
    let entered!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const reached = new Promise<void>((resolve) => {
      entered = resolve
    })
    const f = await appFixture({
      handlers,
      onConnect: async () => {
        if (!hold) return
        entered()
        await gate
      },
    })
    const event = f.connectEvent({ token: await f.issue('alice') })
    hold = true
    const connecting = f.app.handle(event)
    await reached
    // The session exists, so revocation finds it; the socket is not open yet (Gone).
    const revoked = await f.app.revokeUser('alice')
    assert.deepEqual(revoked, { tokens: 1, connections: 0 })
    assert.equal((await f.store.getSession(event.connectionId))?.connected, false)
    release()
    assert.equal((await connecting).status, 200)
    f.connections.open(event.connectionId) // the gateway opens the socket after the 200
    const r = await f.app.handle(f.messageEvent(event.connectionId, '{"action":"send_message"}'))
    assert.equal(r.status, 403)
    assert.deepEqual(f.connections.received(event.connectionId), [FORBIDDEN])
    assert.ok(f.connections.deleted.includes(event.connectionId))
    assert.equal(f.connections.isOpen(event.connectionId), false)
    assert.deepEqual(calls, [])
  })

  test('revokeSession closes only the sockets of that browser session', async () => {
    const f = await appFixture()
    const a1 = await f.connect('alice')
    const a2 = await f.connect('alice', { sid: SID.alice2 })
    const result = await f.app.revokeSession(SID.alice)
    assert.equal(result.connections, 1)
    assert.ok(f.connections.deleted.includes(a1))
    assert.ok(!f.connections.deleted.includes(a2))
  })
})
