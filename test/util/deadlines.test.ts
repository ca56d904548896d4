import assert from 'node:assert/strict'
import { test } from 'node:test'
import { afterDeadline } from '../../src/util/deadlines.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Wait until `check` holds, polling; bounded so a broken queue fails instead of hanging. */
async function until(check: () => boolean, boundMs = 5_000): Promise<void> {
  const end = performance.now() + boundMs
  while (!check()) {
    if (performance.now() > end) assert.fail('timed out waiting')
    await sleep(5)
  }
}

test('a call done in time never expires; one left running expires once, not before its timeout', async () => {
  const expired: string[] = []
  const start = performance.now()
  let at = 0
  const done = afterDeadline(30, () => expired.push('done-in-time'))
  afterDeadline(30, () => {
    at = performance.now()
    expired.push('left')
  })
  done()
  done()
  await until(() => expired.length > 0)
  await sleep(40)
  assert.deepEqual(expired, ['left'])
  assert.ok(at - start >= 29, `expired after ${at - start} ms`)
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
  await until(() => expired.length === 2)
  assert.deepEqual(expired, [998, 999])
})

test('deadlines of different values expire in their own time and order', async () => {
  const expired: string[] = []
  afterDeadline(300, () => expired.push('slow'))
  afterDeadline(15, () => expired.push('fast-1'))
  afterDeadline(15, () => expired.push('fast-2'))
  await until(() => expired.length === 3)
  assert.deepEqual(expired, ['fast-1', 'fast-2', 'slow'])
})

test('a finished head lets the next call expire, not before its own deadline', async () => {
  const expired: number[] = []
  const first = afterDeadline(40, () => expired.push(-1))
  await sleep(10)
  const secondStart = performance.now()
  afterDeadline(40, () => expired.push(performance.now() - secondStart))
  first()
  await until(() => expired.length > 0)
  assert.equal(expired.length, 1)
  assert.ok(expired[0]! >= 39, `expired after ${expired[0]} ms`)
})
