/**
 * The gateway's per-address upgrade rate: one address cannot push a flood of handshakes
 * through to the app, and a NAT full of honest users still reconnects after a restart.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { manualClock } from '../../src/clock.ts'
import { DEFAULTS } from '../../src/defaults.ts'
import { createUpgradeRateLimit } from '../../src/gateway/upgrade-rate.ts'
import { connectClient, recorder, startGateway } from '../conformance/gateway/support/harness.ts'
import { rawUpgrade } from '../conformance/gateway/support/raw-socket.ts'

test('past the burst an address gets 429 with Retry-After and the app never sees it', async (t) => {
  const clock = manualClock()
  const app = recorder()
  const g = await startGateway({
    routes: { $connect: { type: 'in-process', handler: app } },
    upgradeBurstPerIp: 3,
    upgradesPerSecondPerIp: 1,
    retryAfterSeconds: 7,
    clock,
  })
  t.after(() => g.close())
  for (let i = 0; i < 3; i++) {
    const c = await connectClient(g.url, { localAddress: '127.0.0.21' })
    c.ws.close()
  }
  const seen = app.events.length
  for (let i = 0; i < 5; i++) {
    const over = await rawUpgrade(g.port, { localAddress: '127.0.0.21' })
    over.destroy()
    assert.equal(over.answer.status, 429)
    assert.equal(over.answer.headers['retry-after'], '7')
  }
  assert.equal(app.events.length, seen, 'no $connect for a refused attempt')
  // Another address is not affected; the first refills at the steady rate.
  ;(await connectClient(g.url, { localAddress: '127.0.0.22' })).ws.close()
  clock.advance(1_000)
  ;(await connectClient(g.url, { localAddress: '127.0.0.21' })).ws.close()
  const again = await rawUpgrade(g.port, { localAddress: '127.0.0.21' })
  again.destroy()
  assert.equal(again.answer.status, 429)
})

test('defaults: 100 users behind one address reconnecting after a restart all get in, twice', async (t) => {
  const app = recorder()
  const g = await startGateway({ routes: { $connect: { type: 'in-process', handler: app } } })
  t.after(() => g.close())
  // In waves the size of the pending-handshake cap per address (16), as clients back off.
  for (let round = 0; round < 2; round++) {
    const clients = []
    for (let i = 0; i < 100; i += DEFAULTS.maxPendingHandshakesPerIp) {
      const wave = Math.min(DEFAULTS.maxPendingHandshakesPerIp, 100 - i)
      clients.push(
        ...(await Promise.all(
          Array.from({ length: wave }, () => connectClient(g.url, { localAddress: '127.0.0.23' })),
        )),
      )
    }
    assert.equal(clients.length, 100)
    for (const c of clients) c.ws.close()
    await Promise.all(clients.map((c) => c.closed))
  }
})

test('the limiter tracks a bounded number of addresses, least recently used first out', () => {
  const limit = createUpgradeRateLimit(1, 1, 3)
  assert.equal(limit.take('a', 0), true)
  assert.equal(limit.take('a', 0), false)
  limit.take('b', 0)
  limit.take('c', 0)
  assert.equal(limit.take('a', 0), false, 'a was used most recently: kept')
  limit.take('d', 0) // evicts b, the least recently used
  assert.equal(limit.size, 3)
  assert.equal(limit.take('a', 0), false, 'a still tracked and empty')
  assert.equal(limit.take('b', 0), true, 'b was forgotten: a full bucket again')
})
