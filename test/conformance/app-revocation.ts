/**
 * Revocation against the message path, on a real store: after `revokeUser` resolves, no
 * handler runs for the revoked user's connections, whether the message is answered from the
 * app's session cache (same process) or from a store read (another process of the app).
 * Each store test file runs it with its own store.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { HandlerFn } from '../../src/app/types.ts'
import { DEFAULTS } from '../../src/defaults.ts'
import type { Store } from '../../src/store/store.ts'
import { appFixture, SID } from '../support/app-fixture.ts'

const MESSAGE = '{"action":"work"}'

async function withStore(open: () => Promise<Store>, body: (s: Store) => Promise<void>) {
  const store = await open()
  try {
    await body(store)
  } finally {
    await store.close()
  }
}

function spy() {
  const runs: string[] = []
  const work: HandlerFn = (ctx) => {
    runs.push(ctx.session.connectionId)
    return { type: 'ok' }
  }
  return { runs, handlers: { work } }
}

/**
 * @example
 * ```ts
 * runRevocationConformance('sqlite', () => openSqliteStore({ path: ':memory:' }))
 * ```
 */
export function runRevocationConformance(name: string, open: () => Promise<Store>): void {
  describe(`Revocation on the message path: ${name}`, () => {
    test('same process: once revokeUser resolves, no handler runs for the user, however long the cache lifetime', () =>
      withStore(open, async (store) => {
        const { runs, handlers } = spy()
        const f = await appFixture({ handlers, sessionCacheTtlMs: 3_600_000 }, { store })
        const a = await f.connect('alice')
        const b = await f.connect('bob')
        assert.equal((await f.app.handle(f.messageEvent(a, MESSAGE))).status, 200)
        const revoked = await f.app.revokeUser('alice')
        assert.equal(revoked.connections, 1)
        assert.ok(f.connections.deleted.includes(a))
        // What a gateway that still held a message of that socket would deliver.
        for (let i = 0; i < 3; i++) {
          assert.equal((await f.app.handle(f.messageEvent(a, MESSAGE))).status, 403)
        }
        // Bob is untouched, and still answered without reading the store.
        assert.equal((await f.app.handle(f.messageEvent(b, MESSAGE))).status, 200)
        assert.deepEqual(runs, [a, b])
      }))

    test('same process: revokeSession and a kick take effect at once too', () =>
      withStore(open, async (store) => {
        const { runs, handlers } = spy()
        const f = await appFixture({ handlers, sessionCacheTtlMs: 3_600_000 }, { store })
        const a = await f.connect('alice')
        const b = await f.connect('bob')
        await f.app.handle(f.messageEvent(a, MESSAGE))
        await f.app.handle(f.messageEvent(b, MESSAGE))
        await f.app.revokeSession(SID.alice)
        await f.app.send.close({ userId: 'bob' })
        assert.equal((await f.app.handle(f.messageEvent(a, MESSAGE))).status, 403)
        assert.equal((await f.app.handle(f.messageEvent(b, MESSAGE))).status, 403)
        assert.deepEqual(runs, [a, b])
      }))

    test('another process: its revokeUser closes the socket before it resolves, and a store read refuses', () =>
      withStore(open, async (store) => {
        const { runs, handlers } = spy()
        const a = await appFixture({ handlers }, { store })
        const id = await a.connect('alice')
        assert.equal((await a.app.handle(a.messageEvent(id, MESSAGE))).status, 200)
        // Process B of the same app: same store, same gateway (connections port).
        const b = await appFixture({ handlers, connections: a.connections }, { store })
        b.clock.set(a.clock.now())
        await b.app.revokeUser('alice')
        // The gateway closed the socket: it delivers nothing more from it.
        assert.ok(a.connections.deleted.includes(id))
        assert.equal((await store.getSession(id))?.connected, false)
        // B never cached it; A reads the store once its entry's lifetime is over.
        assert.equal((await b.app.handle(b.messageEvent(id, MESSAGE))).status, 403)
        a.clock.advance(DEFAULTS.sessionCacheTtlMs)
        assert.equal((await a.app.handle(a.messageEvent(id, MESSAGE))).status, 403)
        assert.deepEqual(runs, [id])
      }))
  })
}
