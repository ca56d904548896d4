/**
 * `node bench/replay-check.ts` (docs/security.md) runs end to end on every store it can
 * reach. No timing is asserted: figures on a shared test machine mean nothing.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const SCRIPT = fileURLToPath(new URL('../../bench/replay-check.ts', import.meta.url))

test('bench/replay-check.ts measures sharedReplayCheck off and on', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [SCRIPT, '--store=memory,postgres,redis', '--messages=50'],
    { timeout: 60_000 },
  )
  for (const store of ['memory', 'postgres', 'redis']) {
    assert.match(stdout, new RegExp(`${store} +sharedReplayCheck off +\\d+ msg/s`))
    assert.match(stdout, new RegExp(`${store} +sharedReplayCheck on +\\d+ msg/s`))
  }
})
