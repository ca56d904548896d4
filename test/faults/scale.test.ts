/**
 * Fault scenario 7 at 2,000 connections (the full 10,000 for 60 s is
 * `npm run bench -- --scale`): authenticated connections held with server pings, then
 * closed. Every socket survives the hold (pings answered), the gateway keeps its timers flat
 * (no timer per connection), and `$disconnect` fires exactly once per connection.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runScale, type ScaleOptions, scaleFigure } from '../../bench/faults/scale.ts'

test('scale: 2,000 authenticated connections held with pings, flat timers, $disconnect exactly 2,000', {
  timeout: 300_000,
}, async () => {
  const options: ScaleOptions = {
    connections: 2_000,
    holdMs: 6_000,
    pingIntervalMs: 1_000,
    sources: 10,
    concurrency: 32,
  }
  const r = await runScale(options)
  console.log(scaleFigure(r))
  assert.equal(r.connections, options.connections)
  assert.equal(r.openAfterHold, options.connections, 'every socket answered its pings')
  // Transient timers (HTTP keep-alive, token requests) come and go; one per connection
  // would add 2,000.
  assert.ok(
    r.timersWith - r.timersBase <= 50,
    `no timer per connection: ${r.timersBase} → ${r.timersWith}`,
  )
  assert.equal(r.disconnects, options.connections, '$disconnect exactly once per connection')
  assert.equal(r.disconnectsLate, 0)
  assert.deepEqual(r.refused, {}, 'no connect was refused')
  // Generous, for a shared machine: the measured figure is printed above.
  assert.ok(r.rssPerConnBytes < 64 * 1024, `RSS per connection ${r.rssPerConnBytes} B`)
})
