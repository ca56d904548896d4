/**
 * The demo's own limits under attack: a login flood with made-up user names writes no row
 * per name once the IP is refused, and the store is cleaned on a timer (`startMaintenance`).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, before, describe, it } from 'node:test'
import { type Demo, loginRequest, startDemo, waitUntil } from './support/demo.ts'

describe('demo limits', { timeout: 60_000 }, () => {
  let demo: Demo
  before(async () => {
    demo = await startDemo({ env: { MAINTENANCE_INTERVAL_MS: '200' } })
  })
  after(async () => {
    await demo?.stop()
  })

  it('a login flood from one IP charges a user name only while the IP key passes', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 60; i++) {
      const res = await loginRequest(demo, `nobody-${i}`, 'wrong')
      statuses.push(res.status)
      await res.body?.cancel()
    }
    // 30 per minute per IP (failed attempts count), then refused.
    assert.deepEqual(statuses, [...Array(30).fill(401), ...Array(30).fill(429)])
    const db = new DatabaseSync(join(demo.dataDir, 'gatehouse.db'), { readOnly: true })
    try {
      const row = db
        .prepare("SELECT count(*) AS n FROM rate_limits WHERE key LIKE 'login:user:%'")
        .get() as { n: number }
      assert.equal(row.n, 30, 'one row per name tried while the IP passed, none after')
    } finally {
      db.close()
    }
  })

  it('runs maintenance (store cleanup) on a timer', async () => {
    await waitUntil('a maintenance run in the log', () =>
      demo.output().includes('"event":"maintenance"') ? true : undefined,
    )
  })
})
