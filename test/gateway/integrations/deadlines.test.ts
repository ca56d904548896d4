import assert from 'node:assert/strict'
import { test } from 'node:test'
import { afterDeadline } from '../../../src/gateway/integrations/deadlines.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('a call done in time never expires; one left running expires once, after its timeout', async () => {
  const expired: string[] = []
  const done = afterDeadline(30, () => expired.push('done-in-time'))
  afterDeadline(30, () => expired.push('left'))
  done()
  done()
  await sleep(10)
  assert.deepEqual(expired, [])
  await sleep(60)
  assert.deepEqual(expired, ['left'])
})

test('calls with one timeout value share one timer, whatever their number', async () => {
  const real = globalThis.setTimeout
  let armed = 0
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    armed += 1
    return real(...args)
  }) as typeof setTimeout
  const expired: number[] = []
  try {
    const dones = Array.from({ length: 1_000 }, (_, i) => afterDeadline(41, () => expired.push(i)))
    for (const done of dones.slice(0, 998)) done()
  } finally {
    globalThis.setTimeout = real
  }
  assert.equal(armed, 1)
  await sleep(90)
  assert.deepEqual(expired, [998, 999])
})

test('deadlines of different values expire in their own time and order', async () => {
  const expired: string[] = []
  afterDeadline(60, () => expired.push('slow'))
  afterDeadline(15, () => expired.push('fast-1'))
  await sleep(5)
  afterDeadline(15, () => expired.push('fast-2'))
  await sleep(40)
  assert.deepEqual(expired, ['fast-1', 'fast-2'])
  await sleep(60)
  assert.deepEqual(expired, ['fast-1', 'fast-2', 'slow'])
})

test('a finished head lets the next call expire on time (the timer re-arms for it)', async () => {
  const expired: string[] = []
  const first = afterDeadline(20, () => expired.push('first'))
  await sleep(10)
  afterDeadline(20, () => expired.push('second'))
  first()
  await sleep(15)
  assert.deepEqual(expired, [])
  await sleep(40)
  assert.deepEqual(expired, ['second'])
})
