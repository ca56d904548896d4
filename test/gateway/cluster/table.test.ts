/**
 * The write-behind connection table: batched, never awaited by a connect, a row recorded
 * only once Redis took it, nothing lost or left behind when a close races its write, and
 * nothing written once the slot is lost.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ClusterTable, FLUSH_DELAY_MS } from '../../../src/gateway/cluster/table.ts'
import type { ConnectionIdentity } from '../../../src/gateway/handshake.ts'

function identity(n: number): ConnectionIdentity {
  return {
    connectionId: `A${String(n).padStart(15, '0')}`,
    connectedAt: n,
    sourceIp: '127.0.0.1',
    userAgent: undefined,
    domainName: 'localhost',
    localPort: 1,
  }
}

function fakeRedis() {
  const rows = new Map<string, string>()
  const calls: Array<{ reset: boolean; sets: number; dels: number }> = []
  let answer: boolean | Error = true
  let gate: Promise<void> | undefined
  const write = async (
    reset: boolean,
    sets: readonly (readonly [string, string])[],
    dels: readonly string[],
  ) => {
    calls.push({ reset, sets: sets.length, dels: dels.length })
    if (gate) await gate
    if (answer instanceof Error) throw answer
    if (!answer) return false
    if (reset) rows.clear()
    for (const [id, json] of sets) rows.set(id, json)
    for (const id of dels) rows.delete(id)
    return true
  }
  return {
    rows,
    calls,
    write,
    set answer(v: boolean | Error) {
      answer = v
    },
    hold() {
      let open = (): void => {}
      gate = new Promise((r) => {
        open = r
      })
      return () => {
        gate = undefined
        open()
      }
    },
  }
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('opens of one burst share one write, after the batch delay; closes delete rows', async () => {
  const redis = fakeRedis()
  const table = new ClusterTable(redis.write, () => assert.fail('no failure'))
  table.rewrite([])
  await table.flush()
  for (let i = 0; i < 100; i++) table.opened(identity(i))
  assert.equal(redis.calls.length, 1, 'nothing written synchronously')
  await wait(FLUSH_DELAY_MS + 30)
  assert.equal(redis.calls.length, 2)
  assert.equal(redis.rows.size, 100)
  assert.ok(table.isRecorded(identity(5).connectionId))
  const row = JSON.parse(redis.rows.get(identity(5).connectionId) ?? '{}')
  assert.equal(row.sourceIp, '127.0.0.1')
  table.closed(identity(5).connectionId)
  await table.flush()
  assert.equal(redis.rows.size, 99)
  assert.equal(table.isRecorded(identity(5).connectionId), false)
})

test('a close while its row is being written deletes the row afterwards', async () => {
  const redis = fakeRedis()
  const table = new ClusterTable(redis.write, () => assert.fail('no failure'))
  table.rewrite([])
  await table.flush()
  table.opened(identity(1))
  const release = redis.hold()
  const flushing = table.flush()
  table.closed(identity(1).connectionId)
  release()
  await flushing
  await table.flush()
  assert.equal(redis.rows.size, 0)
  assert.equal(table.isRecorded(identity(1).connectionId), false)
})

test('a lost slot writes nothing and reports it; a Redis error keeps the rows for later', async () => {
  const redis = fakeRedis()
  const failures: Array<boolean> = []
  const table = new ClusterTable(redis.write, (lost) => failures.push(lost))
  table.rewrite([identity(1)])
  redis.answer = new Error('down')
  await table.flush()
  assert.deepEqual(failures, [false])
  assert.equal(table.pending, 1)
  redis.answer = false
  await table.flush()
  assert.deepEqual(failures, [false, true])
  assert.equal(redis.rows.size, 0)
  // Registered again: the whole table is rewritten, reset first.
  redis.answer = true
  table.rewrite([identity(2), identity(3)])
  await table.flush()
  assert.deepEqual([...redis.rows.keys()].sort(), [
    identity(2).connectionId,
    identity(3).connectionId,
  ])
  assert.equal(redis.calls.at(-1)?.reset, true)
})
