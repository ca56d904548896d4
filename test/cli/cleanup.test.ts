import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, test } from 'node:test'
import { runCleanup } from '../../src/cli/cleanup.ts'
import { DEFAULTS } from '../../src/defaults.ts'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import { SQLITE_SCHEMA_VERSION } from '../../src/store/sqlite-schema.ts'
import { claim } from '../support/claim.ts'

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-cleanup-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const freshPath = () => join(dir, `case-${++n}`, 'gatehouse.db')
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

function capture(env: Record<string, string | undefined> = {}) {
  const out: string[] = []
  const err: string[] = []
  return {
    io: {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
      env,
    },
    out: () => out.join(''),
    err: () => err.join(''),
  }
}

// Rows relative to the wall clock, with margins of minutes so the command's own clock agrees.
async function seed(path: string) {
  const now = Date.now()
  const store = await openSqliteStore({ path })
  for (const [label, age] of [
    ['a', 600_000],
    ['b', 400_000],
    ['c', 1_000],
  ] as const) {
    await store.insertToken({
      hash: sha256(label),
      userId: 'u',
      sessionHash: 's',
      appId: DEFAULTS.appId,
      createdAt: now - age,
      expiresAt: now - age + 60_000,
    })
  }
  await store.hit([{ key: 'old', limit: 5, windowMs: 60_000 }], now - 10 * 86_400_000)
  await store.hit([{ key: 'new', limit: 5, windowMs: 60_000 }], now)
  for (const id of ['s1', 's2', 's3', 'live']) {
    await store.createSession({
      connectionId: id,
      userId: 'u',
      sessionHash: 's',
      channel: null,
      connectedAt: now - 200_000_000,
    })
  }
  await store.markDisconnected(['s1', 's2'], now - 100_000_000)
  await store.markDisconnected(['s3'], now - 60_000)
  await store.close()
}

test('removes old rows from the file named by --db and says what it removed', async () => {
  const path = freshPath()
  await seed(path)
  const c = capture()
  const code = await runCleanup(
    ['--token-age=300', '--rate-limit-age=7', '--session-age=86400', `--db=${path}`],
    c.io,
  )
  assert.equal(c.err(), '')
  assert.equal(code, 0)
  assert.equal(c.out(), 'removed 2 tokens, 1 rate-limit records, 2 sessions\n')

  const store = await openSqliteStore({ path })
  assert.notEqual(await store.consumeToken(claim(sha256('c'), 's'), Date.now()), null)
  assert.equal(await store.getSession('s1'), null)
  assert.notEqual(await store.getSession('s3'), null)
  assert.equal((await store.getSession('live'))?.connected, true)
  await store.close()

  const again = capture()
  assert.equal(await runCleanup([`--db=${path}`], again.io), 0)
  assert.equal(again.out(), 'removed 0 tokens, 0 rate-limit records, 0 sessions\n')
})

test('uses GATEHOUSE_DB when --db is absent, and the defaults for ages', async () => {
  const path = freshPath()
  await seed(path)
  const c = capture({ GATEHOUSE_DB: path })
  assert.equal(await runCleanup([], c.io), 0)
  assert.equal(c.out(), 'removed 2 tokens, 1 rate-limit records, 2 sessions\n')
})

test('unknown flags, positionals and bad numbers are usage errors (exit 2)', async () => {
  const path = freshPath()
  await seed(path)
  for (const argv of [
    ['--token-ages=300'],
    ['--force'],
    ['extra'],
    ['--token-age=-5'],
    ['--session-age=abc'],
    ['--rate-limit-age=1.5'],
    ['--token-age'],
    ['--db='],
  ]) {
    const c = capture()
    assert.equal(
      await runCleanup([...argv, ...(argv[0] === '--db=' ? [] : [`--db=${path}`])], c.io),
      2,
      argv.join(' '),
    )
    assert.match(c.err(), /^gatehouse cleanup: .+\n/)
    assert.match(c.err(), /Usage: gatehouse cleanup/)
    assert.equal(c.out(), '')
  }
  // Nothing was removed by any of them.
  const c = capture()
  await runCleanup([`--db=${path}`], c.io)
  assert.equal(c.out(), 'removed 2 tokens, 1 rate-limit records, 2 sessions\n')
})

test('--help prints usage and exits 0', async () => {
  const c = capture()
  assert.equal(await runCleanup(['--help'], c.io), 0)
  assert.match(c.out(), /--token-age=<seconds>/)
})

test('a missing database file is an error, not an empty success', async () => {
  const path = join(dir, 'absent', 'gatehouse.db')
  const c = capture()
  assert.equal(await runCleanup([`--db=${path}`], c.io), 1)
  assert.match(c.err(), /no database at/)
})

test('store failures exit 1 with the error code', async () => {
  const garbage = join(dir, 'garbage.db')
  writeFileSync(garbage, 'this is not an sqlite database, just text padding it out'.repeat(100))
  const c = capture()
  assert.equal(await runCleanup([`--db=${garbage}`], c.io), 1)
  assert.match(c.err(), /ERR_STORE_UNAVAILABLE/)

  const newer = freshPath()
  await (await openSqliteStore({ path: newer })).close()
  const db = new DatabaseSync(newer)
  db.prepare('INSERT INTO gatehouse_schema (version, applied_at) VALUES (?, 0)').run(
    SQLITE_SCHEMA_VERSION + 1,
  )
  db.close()
  const d = capture()
  assert.equal(await runCleanup([`--db=${newer}`], d.io), 1)
  assert.match(d.err(), /ERR_STORE_SCHEMA/)
})
