/**
 * A client lent to a group-committed batch that loses its connection emits 'error' on
 * itself; the pool listens only while a client is idle, so the store must listen while it
 * holds one, or the event crashes the process (seen once as an uncaught ECONNRESET in the
 * PostgreSQL fault scenario). Here the event is emitted on the real checked-out client, from
 * outside any promise, as a socket error would be.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, test } from 'node:test'
import type { Pool, PoolClient } from 'pg'
import { createPostgresStore } from '../../src/store/postgres.ts'
import { appFixture, newConnectionId, SID } from '../support/app-fixture.ts'
import { connectPostgres } from '../support/backends.ts'

const pg = await connectPostgres()
if (pg === null) {
  test('postgres client error during a batch', (t) => {
    t.skip('PostgreSQL not reachable')
  })
} else {
  const found = pg
  after(async () => {
    await found.pool.end()
  })

  test("an 'error' event on a checked-out client during a batch is heard, not a crash", async () => {
    const schema = `pce_${randomBytes(6).toString('hex')}`
    let emitted = 0
    const pool = new Proxy(found.pool, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver)
        if (prop === 'connect') {
          return async () => {
            const client = (await target.connect()) as PoolClient
            // From a later turn, outside any promise chain, as the socket would.
            setImmediate(() => {
              emitted++
              client.emit('error', new Error('connection lost (test)'))
            })
            return client
          }
        }
        return typeof value === 'function' ? value.bind(target) : value
      },
    }) as Pool
    const store = await createPostgresStore({ pool, schema })
    try {
      const fx = await appFixture({}, { store })
      const users = ['alice', 'bob'] as const
      const events = []
      for (const user of users) {
        const token = await fx.issue(user)
        events.push(fx.connectEvent({ sid: SID[user], token, connectionId: newConnectionId() }))
      }
      const statuses = (await Promise.all(events.map((e) => fx.core.handle(e)))).map(
        (r) => r.status,
      )
      assert.ok(emitted > 0, 'the error was emitted on a lent client')
      // The batch either committed before the event or failed closed; nothing crashed.
      for (const s of statuses) assert.ok(s === 200 || s === 503, `status ${s}`)
    } finally {
      await store.close()
      await found.pool.query(`DROP SCHEMA "${schema}" CASCADE`)
    }
  })
}
