/**
 * The observed store (store/observed.ts) times a sample of its calls for the store latency
 * histogram: nothing without a subscriber, then the first call of each method and one in
 * STORE_TIMING_SAMPLE after it, failures included.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createMemoryStore } from '../../src/store/memory.ts'
import { observeStore, STORE_TIMING_SAMPLE } from '../../src/store/observed.ts'
import { subscribe, type TelemetryEvent } from '../../src/telemetry.ts'

type StoreEvent = Extract<TelemetryEvent, { type: 'store' }>

function record(): { events: StoreEvent[]; stop: () => void } {
  const events: StoreEvent[] = []
  const stop = subscribe((e) => {
    if (e.type === 'store') events.push(e)
  })
  return { events, stop }
}

describe('observed store', () => {
  it('publishes nothing while nobody listens', async () => {
    const store = observeStore(createMemoryStore())
    for (let i = 0; i < 20; i++) await store.listConnections({ channel: 'room' })
    const { events, stop } = record()
    stop()
    assert.deepEqual(events, [])
  })

  it('times the first call of each method, then one in STORE_TIMING_SAMPLE', async () => {
    const store = observeStore(createMemoryStore())
    const { events, stop } = record()
    try {
      const calls = 2 * STORE_TIMING_SAMPLE + 1
      for (let i = 0; i < calls; i++) await store.listConnections({ channel: 'room' })
      await store.hit([{ key: 'connect:ip:127.0.0.1', limit: 10, windowMs: 1000 }], 0)
      const ops = events.map((e) => e.op)
      assert.deepEqual(ops, ['listConnections', 'listConnections', 'listConnections', 'hit'])
      for (const e of events) {
        assert.equal(e.ok, true)
        assert.ok(e.durationMs >= 0 && Number.isFinite(e.durationMs))
      }
    } finally {
      stop()
    }
  })

  it('reports a sampled call that fails as not ok, and the caller still sees the error', async () => {
    const inner = createMemoryStore()
    const failing = Object.assign(Object.create(inner) as typeof inner, {
      listConnections: () => Promise.reject(new Error('store down')),
    })
    const store = observeStore(failing)
    const { events, stop } = record()
    try {
      await assert.rejects(store.listConnections({ channel: 'room' }), /store down/)
      assert.deepEqual(
        events.map((e) => [e.op, e.ok]),
        [['listConnections', false]],
      )
    } finally {
      stop()
    }
  })
})
