import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Connection, ConnectionTable } from '../../src/gateway/connection-table.ts'

const limits = {
  maxConnections: 5,
  maxConnectionsPerIp: 3,
  maxPendingHandshakes: 4,
  maxPendingHandshakesPerIp: 2,
}

function fakeConnection(id: string, ipKey: string): Connection {
  return { id, ipKey } as unknown as Connection
}

test('pending handshakes are capped globally and per address (503)', () => {
  const table = new ConnectionTable(limits)
  table.addPending('a1', 'A')
  table.addPending('a2', 'A')
  assert.deepEqual(table.admit('A'), { status: 503, reason: 'pending_handshakes_per_ip' })
  assert.equal(table.admit('B'), null)
  table.addPending('b1', 'B')
  table.addPending('c1', 'C')
  assert.deepEqual(table.admit('D'), { status: 503, reason: 'pending_handshakes' })
  table.removePending('a1')
  table.removePending('a1')
  assert.equal(table.pendingSize, 3)
  assert.equal(table.admit('A'), null)
})

test('open plus pending connections count against the per-address (429) and global (503) caps', () => {
  const table = new ConnectionTable(limits)
  table.add(fakeConnection('1', 'A'))
  table.add(fakeConnection('2', 'A'))
  table.addPending('3', 'A')
  assert.deepEqual(table.admit('A'), { status: 429, reason: 'max_connections_per_ip' })
  table.add(fakeConnection('4', 'B'))
  table.add(fakeConnection('5', 'C'))
  assert.deepEqual(table.admit('D'), { status: 503, reason: 'max_connections' })
})

test('counts drop to nothing: the per-address maps do not grow with departed clients', () => {
  const table = new ConnectionTable({ ...limits, maxConnections: 10_000, maxConnectionsPerIp: 10 })
  for (let i = 0; i < 1_000; i++) {
    const c = fakeConnection(String(i), `ip${i}`)
    table.addPending(c.id, c.ipKey)
    table.removePending(c.id)
    table.add(c)
    table.remove(c)
    table.remove(c)
  }
  assert.equal(table.size, 0)
  assert.equal(table.trackedAddresses, 0)
})

test('remove ignores a stale object with a reused id', () => {
  const table = new ConnectionTable(limits)
  const live = fakeConnection('x', 'A')
  table.add(live)
  table.remove(fakeConnection('x', 'A'))
  assert.equal(table.get('x'), live)
})
