/**
 * A group-committed batch that PostgreSQL aborts as a deadlock (two app processes whose
 * batches lock the same rate-limit rows in opposite orders) is run again, not failed: its
 * transaction rolled back whole, so a second run is the same writes once. The deadlock is
 * raised by the database itself (a trigger with SQLSTATE 40P01, once), not by store code.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, test } from 'node:test'
import { createPostgresStore } from '../../src/store/postgres.ts'
import { appFixture, newConnectionId, SID } from '../support/app-fixture.ts'
import { connectPostgres } from '../support/backends.ts'

const pg = await connectPostgres()
if (pg === null) {
  test('group commit deadlock retry: postgres', (t) => {
    t.skip('PostgreSQL not reachable')
  })
} else {
  const found = pg
  after(async () => {
    await found.pool.end()
  })

  test('a batch aborted as a deadlock (40P01) is run again: every connect of it succeeds once', async () => {
    const schema = `gcd_${randomBytes(6).toString('hex')}`
    const store = await createPostgresStore({ pool: found.pool, schema })
    try {
      const fx = await appFixture({}, { store })
      const users = ['alice', 'bob', 'mod'] as const
      const tokens: { user: (typeof users)[number]; token: string }[] = []
      for (let i = 0; i < 6; i++) {
        const user = users[i % users.length]!
        tokens.push({ user, token: await fx.issue(user) })
      }
      // The first session insert after this point is refused as a deadlock, once.
      await found.pool.query(`
        CREATE SEQUENCE "${schema}".gcd_seq;
        CREATE FUNCTION "${schema}".gcd_fail() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          -- A sequence is not rolled back with the transaction: it remembers that it fired.
          IF nextval('"${schema}".gcd_seq') = 1 THEN
            RAISE EXCEPTION 'injected deadlock' USING ERRCODE = '40P01';
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER gcd_fail BEFORE INSERT ON "${schema}".sessions
          FOR EACH ROW EXECUTE FUNCTION "${schema}".gcd_fail();`)
      const events = tokens.map(({ user, token }) =>
        fx.connectEvent({ sid: SID[user], token, connectionId: newConnectionId() }),
      )
      const statuses = (await Promise.all(events.map((e) => fx.core.handle(e)))).map(
        (r) => r.status,
      )
      assert.deepEqual(statuses, Array(6).fill(200))
      const { rows } = await found.pool.query(`SELECT last_value FROM "${schema}".gcd_seq`)
      // The trigger fired in the first run (which rolled back) and again in the retry.
      assert.ok(Number(rows[0].last_value) > 1)
      for (const e of events)
        assert.equal((await store.getSession(e.connectionId))?.connected, true)
      // Each token was used once: the retry did not double-spend, a second use is refused.
      const again = tokens.map(({ user, token }) =>
        fx.connectEvent({ sid: SID[user], token, connectionId: newConnectionId() }),
      )
      const second = (await Promise.all(again.map((e) => fx.core.handle(e)))).map((r) => r.status)
      assert.deepEqual(second, Array(6).fill(401))
    } finally {
      await store.close()
      await found.pool.query(`DROP SCHEMA "${schema}" CASCADE`)
    }
  })
}
