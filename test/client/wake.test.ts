import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { WakeTarget } from '../../src/client/wake.ts'
import { setupClient } from './fakes.ts'

/** A window or document whose listeners the test can count and fire. */
class FakeTarget implements WakeTarget {
  readonly listeners = new Map<string, Set<() => void>>()
  visibilityState = 'visible'
  addEventListener(type: string, fn: () => void): void {
    const set = this.listeners.get(type) ?? new Set()
    set.add(fn)
    this.listeners.set(type, set)
  }
  removeEventListener(type: string, fn: () => void): void {
    this.listeners.get(type)?.delete(fn)
  }
  fire(type: string): void {
    for (const fn of [...(this.listeners.get(type) ?? [])]) fn()
  }
  get count(): number {
    return [...this.listeners.values()].reduce((n, s) => n + s.size, 0)
  }
}

const top = () => 0.999_999_999

function setup(options = {}, respond?: Parameters<typeof setupClient>[1]) {
  const win = new FakeTarget()
  const doc = new FakeTarget()
  const s = setupClient({ environment: { window: win, document: doc }, ...options }, respond)
  return { ...s, win, doc }
}

/** Drop the connection a few times so the backoff has grown long. */
async function dropUntilLongBackoff(s: ReturnType<typeof setup>): Promise<number> {
  s.client.connect()
  await s.timers.advance(0)
  for (let i = 0; i < 6; i++) {
    s.sockets.at(-1)!.failToOpen()
    await s.timers.advance(s.timers.nextInMs()!)
  }
  s.sockets.at(-1)!.failToOpen()
  assert.equal(s.client.state, 'reconnecting')
  const waitMs = s.timers.nextInMs()!
  assert.ok(waitMs > 10_000, `backoff grew (${waitMs} ms)`)
  return waitMs
}

describe('GatehouseClient reconnects on wake-up', () => {
  it('on `online` after a disconnect: a new attempt within minReconnectDelayMs, with a fresh token', async () => {
    const s = setup({ random: top })
    await dropUntilLongBackoff(s)
    const sockets = s.sockets.length
    const calls = s.endpoint.calls.length
    s.win.fire('online')
    await s.timers.advance(499)
    assert.equal(s.endpoint.calls.length, calls + 1, 'one token request, at once')
    assert.equal(s.sockets.length, sockets + 1)
    const tokens = s.sockets.map((x) => x.token)
    assert.equal(new Set(tokens).size, tokens.length, 'a fresh token, none reused')
    s.client.close()
  })

  it('the wake-up delay is jittered, not zero for every tab', async () => {
    const delays: number[] = []
    for (const r of [0.1, 0.5, 0.9]) {
      let n = 0
      // Jitter comes from `random`: backoff draws use `top`, the wake-up draw uses `r`.
      const s = setup({ random: () => (++n === 8 ? r : top()) })
      await dropUntilLongBackoff(s)
      s.win.fire('online')
      delays.push(s.timers.nextInMs()!)
      s.client.close()
    }
    assert.deepEqual(delays, [50, 250, 450])
  })

  it('on the page becoming visible, not on becoming hidden', async () => {
    const s = setup({ random: top })
    await dropUntilLongBackoff(s)
    const calls = s.endpoint.calls.length
    s.doc.visibilityState = 'hidden'
    s.doc.fire('visibilitychange')
    await s.timers.advance(1000)
    assert.equal(s.endpoint.calls.length, calls, 'hidden: still waiting out the backoff')
    s.doc.visibilityState = 'visible'
    s.doc.fire('visibilitychange')
    await s.timers.advance(500)
    assert.equal(s.endpoint.calls.length, calls + 1)
    s.client.close()
  })

  it('does nothing while open or connecting', async () => {
    const s = setup()
    s.client.connect()
    s.win.fire('online') // connecting
    await s.timers.advance(0)
    s.sockets[0]!.open()
    s.win.fire('online')
    s.doc.fire('visibilitychange')
    await s.timers.advance(5000)
    assert.equal(s.endpoint.calls.length, 1)
    assert.equal(s.sockets.length, 1)
    s.client.close()
  })

  it("never comes back before a server's Retry-After", async () => {
    const s = setup({}, (n) =>
      n === 2 ? new Response(null, { status: 429, headers: { 'Retry-After': '30' } }) : undefined,
    )
    s.client.connect()
    await s.timers.advance(0)
    s.sockets[0]!.failToOpen()
    await s.timers.advance(s.timers.nextInMs()!) // token request 2: 429, Retry-After 30
    assert.equal(s.client.state, 'reconnecting')
    s.win.fire('online')
    await s.timers.advance(29_000)
    assert.equal(s.endpoint.calls.length, 2, 'held back by Retry-After')
    await s.timers.advance(1000)
    assert.equal(s.endpoint.calls.length, 3)
    s.client.close()
  })

  it('listens only while started: close() and failed remove the listeners', async () => {
    const s = setup()
    assert.equal(s.win.count + s.doc.count, 0)
    s.client.connect()
    assert.equal(s.win.count + s.doc.count, 2)
    s.client.close()
    assert.equal(s.win.count + s.doc.count, 0)
    s.win.fire('online')
    await s.timers.advance(60_000)
    assert.equal(s.client.state, 'closed')

    const f = setup({}, () => new Response(null, { status: 401 }))
    f.client.connect()
    await f.timers.advance(0)
    assert.equal(f.client.state, 'failed')
    assert.equal(f.win.count + f.doc.count, 0)
  })

  it('reconnectOnWake: false keeps the backoff', async () => {
    const s = setup({ random: top, reconnectOnWake: false })
    const waitMs = await dropUntilLongBackoff(s)
    const calls = s.endpoint.calls.length
    s.win.fire('online')
    await s.timers.advance(waitMs - 1)
    assert.equal(s.endpoint.calls.length, calls)
    assert.equal(s.win.count, 0)
    s.client.close()
  })
})
