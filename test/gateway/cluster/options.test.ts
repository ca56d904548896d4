import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DEFAULTS } from '../../../src/defaults.ts'
import { isGatehouseError } from '../../../src/errors.ts'
import { resolveClusterOptions } from '../../../src/gateway/cluster/options.ts'
import { resolveGatewayOptions } from '../../../src/gateway/options.ts'

const base = { url: 'redis://127.0.0.1:6379', nodeId: 'a', secret: 's'.repeat(16) }
const invalid = (err: unknown) => isGatehouseError(err, 'ERR_INVALID_OPTION')

test('defaults come from the defaults table, the result is frozen', () => {
  const o = resolveClusterOptions(base)
  assert.equal(o.keyPrefix, DEFAULTS.clusterKeyPrefix)
  assert.equal(o.heartbeatIntervalMs, DEFAULTS.clusterHeartbeatIntervalMs)
  assert.equal(o.deadAfterMs, DEFAULTS.clusterDeadAfterMs)
  assert.equal(o.routeTimeoutMs, DEFAULTS.clusterRouteTimeoutMs)
  assert.ok(Object.isFrozen(o))
  // The default bound a dead node is seen within: deadAfterMs + one heartbeat, ≤ 10 s.
  assert.ok(DEFAULTS.clusterDeadAfterMs + DEFAULTS.clusterHeartbeatIntervalMs <= 10_000)
  assert.equal(resolveGatewayOptions({ cluster: base }).cluster?.nodeId, 'a')
  assert.equal(resolveGatewayOptions({}).cluster, undefined)
})

test('fails closed without a secret, or with a short one', () => {
  const { secret: _, ...unsigned } = base
  assert.throws(() => resolveGatewayOptions({ cluster: unsigned as typeof base }), invalid)
  assert.throws(() => resolveClusterOptions({ ...base, secret: 'short' }), invalid)
})

test('refuses unknown keys, bad URLs and node ids, and a heartbeat too close to death', () => {
  assert.throws(() => resolveClusterOptions({ ...base, deadAfter: 1 }), invalid)
  assert.throws(() => resolveClusterOptions({ ...base, url: 'http://x' }), invalid)
  assert.throws(() => resolveClusterOptions({ ...base, url: 'nope' }), invalid)
  assert.throws(() => resolveClusterOptions({ ...base, nodeId: '' }), invalid)
  assert.throws(() => resolveClusterOptions({ ...base, nodeId: 'a b' }), invalid)
  assert.throws(() => resolveClusterOptions({ ...base, nodeId: 'x'.repeat(65) }), invalid)
  assert.equal(
    resolveClusterOptions({ ...base, nodeId: 'node-1.eu_west' }).nodeId,
    'node-1.eu_west',
  )
  assert.throws(() => resolveClusterOptions({ ...base, deadAfterMs: 120_000 }), invalid)
  assert.throws(() => resolveClusterOptions({ ...base, keyPrefix: '' }), invalid)
  assert.throws(() => resolveClusterOptions(null), invalid)
  assert.throws(
    () => resolveClusterOptions({ ...base, heartbeatIntervalMs: 3_000, deadAfterMs: 5_000 }),
    (err) => isGatehouseError(err, 'ERR_OPTION_CONFLICT'),
  )
})
