import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import { hashToken } from '../../src/tokens/token.ts'
import { appFixture, SID } from '../support/app-fixture.ts'

test('no raw token is ever in the SQLite file or in a log line; only its hash is stored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-raw-'))
  try {
    const store = await openSqliteStore({ path: join(dir, 'gatehouse.db') })
    const f = await appFixture({ handlers: { ping: () => 'pong' } }, { store })
    const tokens: string[] = []
    // Every path a token takes: issued, used, reused, refused for Origin, stolen, revoked, via subprotocol.
    for (let i = 0; i < 5; i++) tokens.push(await f.issue('alice'))
    const ok = f.connectEvent({ token: tokens[0]! })
    assert.equal((await f.app.handle(ok)).status, 200)
    await f.app.handle(f.connectEvent({ token: tokens[0]! }))
    await f.app.handle(f.connectEvent({ token: tokens[1]!, origin: 'https://evil.test' }))
    await f.app.handle(f.connectEvent({ token: tokens[2]!, sid: SID.bob }))
    await f.app.handle(
      f.connectEvent({
        headers: { 'sec-websocket-protocol': `gatehouse.v1, gatehouse.token.${tokens[3]!}` },
      }),
    )
    await f.app.handle(
      f.messageEvent(ok.connectionId, JSON.stringify({ action: 'ping', token: tokens[4] })),
    )
    await f.app.revokeUser('alice')
    await store.close()

    assert.ok(f.logs.length > 5, 'the scenario logged')
    const files = readdirSync(dir).map((name) => readFileSync(join(dir, name)))
    const bytes = Buffer.concat(files)
    for (const token of tokens) {
      for (const line of f.logs)
        assert.ok(!line.includes(token), `raw token in log line: ${line.slice(0, 120)}`)
      assert.equal(bytes.indexOf(token), -1, 'raw token in the database files')
    }
    assert.notEqual(
      bytes.indexOf(hashToken(tokens[0]!)),
      -1,
      'the hash of the used token is stored',
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
