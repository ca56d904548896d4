/**
 * Fault scenario 6: a restart storm. 1,000 real browser clients (`src/client` under Node's
 * WebSocket) are connected; the gateway process gets SIGTERM, and every client sees 1001;
 * it is started again, and every client reconnects with a fresh token, with no 429 from the
 * token endpoint or at `$connect`, per-user limits at their defaults. The client's jittered
 * backoff must spread the storm: the first retry delays the clients drew in the storm must
 * differ (p90 − p10 at least 200 ms; a fixed delay gives 0).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { restartFigure, runRestart } from '../../bench/faults/restart.ts'

const USERS = 1_000

test('restart storm: all see 1001, all reconnect with fresh tokens, no 429, jitter spreads them', {
  timeout: 300_000,
}, async () => {
  const r = await runRestart(USERS)
  console.log(restartFigure(r))
  assert.equal(r.exitCode, 0, 'the gateway shut down cleanly')
  assert.equal(r.saw1001, USERS, `every client saw 1001: ${JSON.stringify(r.closeCodes)}`)
  assert.equal(r.openAtStop, USERS)
  assert.equal(r.disconnectsAtStop, USERS, 'each closed socket fired its $disconnect')
  assert.equal(r.reopened, USERS)
  assert.equal(r.token429, 0, 'no token request was refused 429')
  assert.equal(r.tokenStatuses[429] ?? 0, 0)
  assert.equal(r.refused[429] ?? 0, 0, 'no $connect was refused 429')
  assert.equal(r.refused.gw429 ?? 0, 0, 'no upgrade was refused 429 by the gateway')
  assert.equal(r.refused[401] ?? 0, 0, 'every reconnect used a fresh, valid token')
  assert.ok(r.connectsAfterRestart >= USERS)
  // Each client draws its first retry delay from [500, 1000] ms: p90 − p10 is about 400 ms.
  // Without jitter every client waits the same, and the storm comes back as one wave.
  const spread = r.firstDelayMs.p90 - r.firstDelayMs.p10
  assert.ok(spread >= 200, `jitter spreads the first retries: p90 − p10 = ${spread} ms`)
})
