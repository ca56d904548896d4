import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createActivityRecorder } from '../../src/app/activity.ts'
import { silentLogger } from '../../src/logger.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { SessionActivity, Store } from '../../src/store/store.ts'

const T0 = 1_700_000_000_000

test('notes are merged per connection and written in one batch when the timer fires', async () => {
  const batches: SessionActivity[][] = []
  const store = {
    ...createMemoryStore(),
    recordActivity: async (a: readonly SessionActivity[]) => {
      batches.push([...a])
    },
  } as Store
  const activity = createActivityRecorder({ store, flushMs: 20, logger: silentLogger })
  activity.note('a', T0 + 1)
  activity.note('a', T0 + 3)
  activity.note('b', T0 + 2)
  assert.deepEqual(batches, [])
  await new Promise((r) => setTimeout(r, 80))
  assert.deepEqual(batches, [
    [
      { connectionId: 'a', count: 2, lastSeenAt: T0 + 3 },
      { connectionId: 'b', count: 1, lastSeenAt: T0 + 2 },
    ],
  ])
  await activity.flush()
  assert.equal(batches.length, 1, 'nothing pending: no write')
})

test('a failed write is logged and dropped, never thrown at the message path', async () => {
  const lines: unknown[] = []
  const store = {
    ...createMemoryStore(),
    recordActivity: async () => {
      throw new Error('down')
    },
  } as Store
  const logger = { ...silentLogger, warn: (o: unknown) => void lines.push(o) }
  const activity = createActivityRecorder({ store, flushMs: 10_000, logger })
  activity.note('a', T0)
  await activity.flush()
  assert.equal((lines[0] as { event: string }).event, 'activity_write_failed')
})
