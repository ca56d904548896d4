import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { main } from '../../src/cli/main.ts'

function bufferIo(env: Record<string, string> = {}) {
  let stdout = ''
  let stderr = ''
  return {
    io: {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env,
    },
    out: () => stdout,
    err: () => stderr,
  }
}

describe('gatehouse main', () => {
  it('delegates cleanup to runCleanup with the remaining arguments', async () => {
    const help = bufferIo()
    assert.equal(await main(['cleanup', '--help'], help.io), 0)
    assert.match(help.out(), /Usage: gatehouse cleanup/)
    const bad = bufferIo()
    assert.equal(await main(['cleanup', '--no-such-flag'], bad.io), 2)
    assert.match(bad.err(), /no-such-flag/)
  })

  it('cleanup reports a missing database as a failure, not a crash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'))
    try {
      const b = bufferIo()
      const code = await main(['cleanup', `--db=${join(dir, 'missing.db')}`], b.io)
      assert.equal(code, 1)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('an option the gateway core refuses (a short secret) is a usage error, exit 2', async () => {
    const b = bufferIo()
    assert.equal(
      await main(['gateway', '--integration', 'http://127.0.0.1:9/ws/', '--secret', 'x'], b.io),
      2,
    )
    assert.match(b.err(), /secret/)
  })
})
