/**
 * The group-commit queue itself (store/group-commit.ts), over a fake transaction that records
 * the batches it is given: who shares a commit, in what order, and how a failure spreads.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type BatchCommit, groupCommit } from '../../src/store/group-commit.ts'

function recorder(fails: (batch: number) => boolean = () => false) {
  const batches: number[] = []
  let gate: Promise<void> = Promise.resolve()
  const commit: BatchCommit<string> = async (bodies) => {
    await gate
    batches.push(bodies.length)
    const out = bodies.map((b) => b(`tx${batches.length}`))
    if (fails(batches.length)) throw new Error('commit failed')
    return out
  }
  return {
    batches,
    commit,
    hold(): () => void {
      let open!: () => void
      gate = new Promise<void>((resolve) => {
        open = resolve
      })
      return open
    },
  }
}
const fail = (op: string, err: unknown) => new Error(`${op}: ${(err as Error).message}`)

test('writes queued in one turn share one commit and get their own results, in order', async () => {
  const r = recorder()
  const batch = groupCommit(r.commit, fail)
  const results = await Promise.all([1, 2, 3].map((n) => batch.add('w', (tx) => `${tx}:${n}`)))
  assert.deepEqual(results, ['tx1:1', 'tx1:2', 'tx1:3'])
  assert.deepEqual(r.batches, [3])
})

test('a write added while a commit is in flight waits for the next batch, with everything else that arrived', async () => {
  const r = recorder()
  const batch = groupCommit(r.commit, fail)
  const open = r.hold()
  const first = batch.add('w', (tx) => tx)
  await new Promise((resolve) => setImmediate(resolve)) // the first batch is now in flight
  const later = [batch.add('w', (tx) => tx), batch.add('w', (tx) => tx)]
  open()
  assert.equal(await first, 'tx1')
  assert.deepEqual(await Promise.all(later), ['tx2', 'tx2'])
  assert.deepEqual(r.batches, [1, 2])
})

test('a failed commit rejects every write of its batch, and only of its batch', async () => {
  const r = recorder((n) => n === 1)
  const batch = groupCommit(r.commit, fail)
  const doomed = [batch.add('hit', () => 1), batch.add('openSession', () => 2)]
  const outcomes = await Promise.allSettled(doomed)
  assert.deepEqual(
    outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : o.value)),
    ['hit: commit failed', 'openSession: commit failed'],
  )
  assert.equal(await batch.add('w', (tx) => tx), 'tx2')
})

test('a burst beyond maxWrites is split into several commits', async () => {
  const r = recorder()
  const batch = groupCommit(r.commit, fail, 4)
  await Promise.all(Array.from({ length: 10 }, () => batch.add('w', () => 0)))
  assert.deepEqual(r.batches, [4, 4, 2])
})

test('drain commits what is queued and waits for it', async () => {
  const r = recorder()
  const batch = groupCommit(r.commit, fail)
  let done = 0
  for (let i = 0; i < 3; i++) void batch.add('w', () => done++)
  await batch.drain()
  assert.equal(done, 3)
  assert.deepEqual(r.batches, [3])
})
