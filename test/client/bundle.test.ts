import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
import { buildClient } from '../../scripts/build-client.ts'
import { CLIENT_DEFAULTS } from '../../src/client/index.ts'
import {
  APP_PROTOCOL,
  CHANNEL_PATTERN,
  CHANNEL_QUERY_PARAM,
  TOKEN_PROTOCOL_PREFIX,
  TOKEN_QUERY_PARAM,
} from '../../src/client/url.ts'
import { DEFAULTS } from '../../src/defaults.ts'
import { FakeTimers, fakeTokenEndpoint, fakeWebSocket, flush } from './fakes.ts'

describe('client bundle', () => {
  const dirs: string[] = []
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  it('is one small self-contained ESM file that works as the source does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-client-'))
    dirs.push(dir)
    const out = await buildClient(join(dir, 'gatehouse-client.js'))
    const code = await readFile(out.file, 'utf8')
    assert.equal(out.bytes, Buffer.byteLength(code))
    // 22 KiB: requests (3.5 KB), wake-up reconnects (1.3 KB) and history recovery (2.7 KB)
    // on top of the 13 KB client.
    assert.ok(out.bytes < 22_528, `bundle grew to ${out.bytes} bytes`)
    assert.ok(out.gzipBytes < 7168, `bundle grew to ${out.gzipBytes} gzipped bytes`)
    // No dependencies: nothing imported, no Node built-ins, no leftover TypeScript.
    assert.doesNotMatch(code, /\bimport\s*[{*"'(]|\brequire\(|node:/)

    const mod = (await import(
      pathToFileURL(out.file).href
    )) as typeof import('../../src/client/index.ts')
    for (const name of [
      'GatehouseClient',
      'backoffDelayMs',
      'readCookie',
      'requestToken',
      'parseRetryAfterMs',
      'CLIENT_DEFAULTS',
    ]) {
      assert.ok(name in mod, `${name} is exported`)
    }
    const timers = new FakeTimers()
    const ws = fakeWebSocket()
    const endpoint = fakeTokenEndpoint(timers)
    const client = new mod.GatehouseClient({
      url: 'ws://127.0.0.1:3001/',
      WebSocket: ws.WebSocket,
      fetch: endpoint.fetch,
      timers,
      getCookie: () => 'csrf',
    })
    client.connect()
    await flush()
    ws.sockets[0]!.failToOpen()
    await timers.advance(timers.nextInMs()!)
    assert.deepEqual(
      ws.sockets.map((s) => s.token),
      endpoint.issued,
    )
    assert.equal(new Set(endpoint.issued).size, 2)
    client.close()
    assert.equal(timers.pending, 0)
  })

  it('speaks the names the server side uses (kept as literals so the bundle stays small)', () => {
    assert.equal(TOKEN_QUERY_PARAM, DEFAULTS.tokenQueryParam)
    assert.equal(TOKEN_PROTOCOL_PREFIX, DEFAULTS.tokenProtocolPrefix)
    assert.equal(APP_PROTOCOL, DEFAULTS.appProtocol)
    assert.equal(CHANNEL_QUERY_PARAM, DEFAULTS.channelQueryParam)
    assert.equal(CHANNEL_PATTERN.source, DEFAULTS.channelPattern.source)
    assert.equal(CLIENT_DEFAULTS.csrfCookieName, DEFAULTS.csrfCookieName)
    assert.equal(CLIENT_DEFAULTS.csrfHeaderName.toLowerCase(), DEFAULTS.csrfHeaderName)
    assert.equal(CLIENT_DEFAULTS.maxMessageBytes, DEFAULTS.maxMessageBytes)
  })
})
