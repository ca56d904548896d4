/**
 * An append trims only its own channel, so a SQL store also sweeps, every
 * `DEFAULTS.historySweepEveryAppends` appends, the rows past their age in every channel: a
 * channel that fell silent does not keep its last messages for good. Rows are counted in the
 * database itself (a second SQLite connection on the file; the PostgreSQL schema).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, test } from 'node:test'
import { DEFAULTS } from '../../src/defaults.ts'
import { createPostgresStore } from '../../src/store/postgres.ts'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import type { Store } from '../../src/store/store.ts'
import { connectPostgres } from '../support/backends.ts'

const LIMITS = { size: 50, ttlMs: 1_000 }
const T0 = 1_800_000_000_000

/** A silent channel's rows go with the sweep of another channel's appends. */
async function silentChannelSwept(store: Store, rowsOf: (channel: string) => Promise<number>) {
  for (let i = 0; i < 5; i++) await store.appendHistory('silent', `{"n":${i}}`, LIMITS, T0)
  assert.equal(await rowsOf('silent'), 5)
  // Later than the silent channel's age: appends elsewhere, up to just before a sweep …
  const later = T0 + LIMITS.ttlMs + 1
  const every = DEFAULTS.historySweepEveryAppends
  for (let i = 0; i < every - 6; i++) await store.appendHistory('busy', '{}', LIMITS, later)
  assert.equal(await rowsOf('silent'), 5, 'no sweep before the Nth append')
  // … and the Nth append sweeps every channel's expired rows; the busy channel keeps its own.
  await store.appendHistory('busy', '{}', LIMITS, later)
  assert.equal(await rowsOf('silent'), 0)
  assert.equal(await rowsOf('busy'), LIMITS.size)
}

const dirs: string[] = []
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

test('history sweep: sqlite file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-hsweep-'))
  dirs.push(dir)
  const path = join(dir, 'gatehouse.db')
  const store = await openSqliteStore({ path })
  const peek = new DatabaseSync(path, { readOnly: true })
  try {
    await silentChannelSwept(store, async (channel) => {
      const row = peek.prepare('SELECT count(*) AS n FROM history WHERE channel = ?').get(channel)
      return Number((row as { n: number }).n)
    })
  } finally {
    peek.close()
    await store.close()
  }
})

const pg = await connectPostgres()
if (pg === null) {
  test('history sweep: postgres', (t) => {
    t.skip('PostgreSQL not reachable')
  })
} else {
  const found = pg
  after(async () => {
    await found.pool.end()
  })
  test('history sweep: postgres', async () => {
    const schema = `hsw_${randomBytes(6).toString('hex')}`
    const store = await createPostgresStore({ pool: found.pool, schema })
    try {
      await silentChannelSwept(store, async (channel) => {
        const { rows } = await found.pool.query(
          `SELECT count(*)::int AS n FROM "${schema}".history WHERE channel = $1`,
          [channel],
        )
        return Number(rows[0].n)
      })
    } finally {
      await store.close()
      await found.pool.query(`DROP SCHEMA "${schema}" CASCADE`)
    }
  })
}
