import assert from 'node:assert/strict'
import { test } from 'node:test'
import { manualClock } from '../../src/clock.ts'
import { Connection } from '../../src/gateway/connection-table.ts'
import type { ConnectionIdentity } from '../../src/gateway/handshake.ts'
import { resolveGatewayOptions } from '../../src/gateway/options.ts'
import { createRuntime } from '../../src/gateway/runtime.ts'
import { sweep } from '../../src/gateway/sweep.ts'

function setup() {
  const clock = manualClock(0)
  const rt = createRuntime(
    resolveGatewayOptions({
      clock,
      idleTimeoutMs: 1_000,
      maxConnectionMs: 10_000,
      pingIntervalMs: 300,
      pongTimeoutMs: 100,
    }),
  )
  const calls: string[] = []
  function add(id: string): Connection {
    const ws = {
      readyState: 1,
      close: (code: number) => calls.push(`${id}:close:${code}`),
      terminate: () => calls.push(`${id}:terminate`),
      ping: () => calls.push(`${id}:ping`),
    }
    const conn = new Connection(
      { connectionId: id, connectedAt: clock.now() } as ConnectionIdentity,
      ws as unknown as Connection['ws'],
      {} as Connection['socket'],
      '127.0.0.1',
      clock.now(),
      1,
    )
    rt.table.add(conn)
    return conn
  }
  return { clock, rt, calls, add }
}

test('pings every interval; a pong clears it; a missing pong terminates (1006)', () => {
  const { clock, rt, calls, add } = setup()
  const a = add('a')
  const b = add('b')
  clock.advance(299)
  sweep(rt, clock.now())
  assert.deepEqual(calls, [])
  clock.advance(1)
  sweep(rt, clock.now())
  assert.deepEqual(calls, ['a:ping', 'b:ping'])
  a.pingSentAt = 0 // a answered
  a.lastActiveAt = b.lastActiveAt = clock.now()
  clock.advance(100)
  sweep(rt, clock.now())
  assert.deepEqual(calls.slice(2), ['b:terminate'])
  assert.equal(b.closeCode, 1006)
  assert.equal(b.state, 'closing')
  assert.equal(a.state, 'open')
})

test('idle: no data in either direction for idleTimeoutMs closes 1001; pongs do not count', () => {
  const { clock, rt, calls, add } = setup()
  const a = add('a')
  for (let t = 0; t < 999; t += 50) {
    clock.advance(50)
    a.pingSentAt = 0 // the peer answers every ping, but sends no data
    sweep(rt, clock.now())
  }
  assert.ok(calls.includes('a:close:1001'))
  assert.equal(a.closeReason, 'Going away')
})

test('data keeps a connection until its hard lifetime, then 1001', () => {
  const { clock, rt, calls, add } = setup()
  const a = add('a')
  for (let i = 0; i < 100; i++) {
    clock.advance(100)
    a.lastActiveAt = clock.now()
    a.pingSentAt = 0
    sweep(rt, clock.now())
    if (a.state !== 'open') break
  }
  assert.equal(clock.now(), 10_000)
  assert.ok(calls.includes('a:close:1001'))
})

test('closing connections are left alone', () => {
  const { clock, rt, calls, add } = setup()
  const a = add('a')
  a.state = 'closing'
  clock.advance(50_000)
  sweep(rt, clock.now())
  assert.deepEqual(calls, [])
})
