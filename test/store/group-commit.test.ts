/**
 * Group commit (store/group-commit.ts) on the real SQLite and PostgreSQL stores, through the
 * app's real `$connect` pipeline: concurrent connects of one event-loop turn share their
 * commits, and a batch whose transaction fails answers every connect in it 503 and leaves
 * every token usable (nothing of the batch stays).
 *
 * The failure is injected in the database, not in the store code: a trigger that raises for
 * one marked connection's session insert, so the batch code runs as in production and the
 * database itself refuses part of the transaction.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import type { Pool, PoolClient } from 'pg'
import { createPostgresStore } from '../../src/store/postgres.ts'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import type { Store } from '../../src/store/store.ts'
import { appFixture, newConnectionId, SID } from '../support/app-fixture.ts'
import { connectPostgres } from '../support/backends.ts'

const USERS = ['alice', 'bob', 'mod'] as const
const N = 12

/** Issue N tokens (users in turn) and build their connect events, one connection marked. */
async function prepare(fx: Awaited<ReturnType<typeof appFixture>>) {
  const tokens: { user: (typeof USERS)[number]; token: string }[] = []
  for (let i = 0; i < N; i++) {
    const user = USERS[i % USERS.length]!
    tokens.push({ user, token: await fx.issue(user) })
  }
  const events = tokens.map(({ user, token }) =>
    fx.connectEvent({ sid: SID[user], token, connectionId: newConnectionId() }),
  )
  return { tokens, events }
}

/**
 * Every connect at once, in one turn, as sockets arriving together reach the app. The app is
 * called directly (not through the transport under test, whose hops would spread the
 * arrivals over several turns).
 */
async function connectAll(
  fx: Awaited<ReturnType<typeof appFixture>>,
  events: ReturnType<Awaited<ReturnType<typeof appFixture>>['connectEvent']>[],
): Promise<number[]> {
  const responses = await Promise.all(events.map((e) => fx.core.handle(e)))
  return responses.map((r) => r.status)
}

/**
 * The shared checks of both stores: one transaction per store step for N connects, and a
 * failed batch that leaves nothing behind. `commits()` counts the commits made so far;
 * `failOn(id)` makes the database refuse the session insert of connection `id`, `heal()`
 * removes that again.
 */
function groupCommitSuite(
  name: string,
  open: () => Promise<{
    store: Store
    commits: () => number
    failOn: (connectionId: string) => Promise<void>
    heal: () => Promise<void>
    close: () => Promise<void>
  }>,
) {
  describe(`group commit: ${name}`, () => {
    test('N concurrent connects in one turn commit in one transaction per step (hits, then tokens and sessions)', async () => {
      const db = await open()
      try {
        const fx = await appFixture({}, { store: db.store })
        const { events } = await prepare(fx)
        const before = db.commits()
        const statuses = await connectAll(fx, events)
        assert.deepEqual(statuses, Array(N).fill(200))
        // Two steps of the pipeline write: the rate-limit hits (one batch for all N), then the
        // token use with its session insert (one batch for all N). Unbatched this was 2N.
        assert.equal(db.commits() - before, 2)
        for (const e of events) {
          assert.equal((await db.store.getSession(e.connectionId))?.connected, true)
        }
      } finally {
        await db.close()
      }
    })

    test('a group-committed batch that fails (store error injected) answers every connect in it with 503 and leaves no token half-used', async () => {
      const db = await open()
      try {
        const fx = await appFixture({}, { store: db.store })
        const { tokens, events } = await prepare(fx)
        // One marked connection among N: the database refuses its session insert only.
        await db.failOn(events[N - 1]!.connectionId)
        const statuses = await connectAll(fx, events)
        assert.deepEqual(statuses, Array(N).fill(503))
        // The whole transaction rolled back: no session of the batch was written …
        for (const e of events) assert.equal(await db.store.getSession(e.connectionId), null)
        // … and no token was burnt: each still opens a connection once the store is healthy.
        await db.heal()
        const retry = tokens.map(({ user, token }) =>
          fx.connectEvent({ sid: SID[user], token, connectionId: newConnectionId() }),
        )
        assert.deepEqual(await connectAll(fx, retry), Array(N).fill(200))
        // Single use still holds after the retry: the same tokens are now spent.
        const again = tokens.map(({ user, token }) =>
          fx.connectEvent({ sid: SID[user], token, connectionId: newConnectionId() }),
        )
        assert.deepEqual(await connectAll(fx, again), Array(N).fill(401))
      } finally {
        await db.close()
      }
    })
  })
}

// SQLite: commits are counted in the WAL file itself, as the commit frames it holds.
function walCommits(path: string): number {
  let wal: Buffer
  try {
    wal = readFileSync(`${path}-wal`)
  } catch {
    return 0
  }
  if (wal.length < 32) return 0
  const pageSize = wal.readUInt32BE(8)
  const salt1 = wal.readUInt32BE(16)
  const salt2 = wal.readUInt32BE(20)
  let commits = 0
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    // A frame of the current WAL generation whose "database size after commit" is set ends
    // a transaction.
    if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) break
    if (wal.readUInt32BE(at + 4) !== 0) commits++
  }
  return commits
}

const dirs: string[] = []
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

groupCommitSuite('sqlite file (WAL)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-gc-'))
  dirs.push(dir)
  const path = join(dir, 'gatehouse.db')
  const store = await openSqliteStore({ path })
  // A second connection on the file, as an operator's would be: the trigger is the
  // database's, the store's statements meet it as they would any constraint.
  const { DatabaseSync } = await import('node:sqlite')
  const admin = new DatabaseSync(path)
  admin.exec('PRAGMA busy_timeout = 1000')
  return {
    store,
    commits: () => walCommits(path),
    failOn: async (id) => {
      admin.exec(
        `CREATE TRIGGER gc_fail BEFORE INSERT ON sessions WHEN NEW.connection_id = '${id}'
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
      )
    },
    heal: async () => {
      admin.exec('DROP TRIGGER gc_fail')
    },
    close: async () => {
      admin.close()
      await store.close()
    },
  }
})

// PostgreSQL: commits are counted on the clients the store borrows from the pool (a counting
// pool around the real one), and writes sent outside a transaction are counted too.
const pg = await connectPostgres()
if (pg === null) {
  test('group commit: postgres', (t) => {
    t.skip('PostgreSQL not reachable')
  })
} else {
  const found = pg
  const { default: pgLib } = await import('pg')
  // The store's own pool pipelines (its writes go out together); a caller's pool may not.
  const pipelined = new pgLib.Pool({
    connectionString: found.url,
    max: 4,
    pipeline: true,
  } as ConstructorParameters<typeof pgLib.Pool>[0])
  pipelined.on('error', () => {})
  after(async () => {
    await found.pool.end()
    await pipelined.end()
  })
  for (const [label, base] of [
    ['postgres', found.pool],
    ['postgres, pipelining pool', pipelined],
  ] as const)
    groupCommitSuite(label, async () => {
      const schema = `gc_${randomBytes(6).toString('hex')}`
      let commits = 0
      let autocommitWrites = 0
      const countingClient = (client: PoolClient): PoolClient =>
        new Proxy(client, {
          get(target, prop, receiver) {
            const value = Reflect.get(target, prop, receiver)
            if (prop !== 'query') return typeof value === 'function' ? value.bind(target) : value
            return (text: string, values?: unknown[]) => {
              if (text === 'COMMIT') commits++
              return target.query(text, values)
            }
          },
        })
      const pool = new Proxy(base, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver)
          if (prop === 'connect')
            return async () => countingClient(await (target.connect() as Promise<PoolClient>))
          if (prop === 'query')
            return (text: string, values?: unknown[]) => {
              if (/^\s*(INSERT|UPDATE|WITH)/i.test(text) && !text.includes('schema_version'))
                autocommitWrites++
              return target.query(text, values)
            }
          return typeof value === 'function' ? value.bind(target) : value
        },
      }) as Pool
      const store = await createPostgresStore({ pool, schema })
      autocommitWrites = 0
      return {
        store,
        // A connect write sent outside a transaction is a commit of its own.
        commits: () => commits + autocommitWrites,
        failOn: async (id) => {
          await found.pool.query(`
          CREATE FUNCTION "${schema}".gc_fail() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF NEW.connection_id = '${id}' THEN RAISE EXCEPTION 'injected failure'; END IF;
            RETURN NEW;
          END $$;
          CREATE TRIGGER gc_fail BEFORE INSERT ON "${schema}".sessions
            FOR EACH ROW EXECUTE FUNCTION "${schema}".gc_fail();`)
        },
        heal: async () => {
          await found.pool.query(`DROP TRIGGER gc_fail ON "${schema}".sessions`)
        },
        close: async () => {
          await store.close()
          await found.pool.query(`DROP SCHEMA "${schema}" CASCADE`)
        },
      }
    })
}
