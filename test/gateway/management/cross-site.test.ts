/**
 * The management API against a page on another site: a browser sends a "simple" POST
 * (`text/plain`, a form type, or no type) to `http://127.0.0.1:3002/production/@connections/<id>`
 * without a preflight, so nothing but the server's own checks stands between that page and
 * every connection. The headers below are the ones a browser sends on such a request.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { manualClock } from '../../../src/clock.ts'
import { isGatehouseError } from '../../../src/errors.ts'
import { createManagementServer } from '../../../src/gateway/management/server.ts'
import { recordingConnections, send, sendRaw, signedHeaders } from './helpers.ts'

const STAGE = 'production'
const ID = 'R1kmxc2VNjMCFIA='
const PATH = `/${STAGE}/@connections/R1kmxc2VNjMCFIA%3D`
const ADMIN = 'http://127.0.0.1:3000'

async function start(options: Partial<Parameters<typeof createManagementServer>[0]> = {}) {
  const connections = recordingConnections()
  const auth = options.credentials ? {} : { allowUnauthenticated: true }
  const server = createManagementServer({ connections, stage: STAGE, ...auth, ...options })
  const { port } = await server.listen()
  connections.open(ID)
  return { connections, server, port }
}

describe('management API: cross-site requests (unsigned)', () => {
  let ctx: Awaited<ReturnType<typeof start>>
  before(async () => {
    ctx = await start({ allowedOrigins: [ADMIN] })
  })
  after(() => ctx.server.close())

  it('a POST from a page on another origin is refused (403) and never delivered', async () => {
    for (const headers of [
      { origin: 'https://evil.example', 'content-type': 'text/plain;charset=UTF-8' },
      { origin: 'https://evil.example', 'content-type': 'application/octet-stream' },
      { origin: 'null', 'content-type': 'text/plain' },
      { origin: 'http://localhost:3000', 'content-type': 'application/json' },
      { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
      { 'sec-fetch-site': 'same-site', 'content-type': 'application/json' },
    ]) {
      const r = await sendRaw(ctx.port, 'POST', PATH, headers, '{"type":"forged"}')
      assert.equal(r.status, 403, JSON.stringify(headers))
      assert.equal(r.headers['x-amzn-errortype'], 'ForbiddenException')
    }
    for (const method of ['GET', 'DELETE']) {
      const r = await sendRaw(ctx.port, method, PATH, { origin: 'https://evil.example' })
      assert.equal(r.status, 403, method)
    }
    const r = await sendRaw(ctx.port, 'GET', PATH, { 'sec-fetch-site': 'cross-site' })
    assert.equal(r.status, 403, 'a cross-site GET without Origin')
    assert.deepEqual(ctx.connections.received(ID), [])
    assert.equal(ctx.connections.isOpen(ID), true)
  })

  it('unsigned bodies must be application/json or application/octet-stream (415 otherwise)', async () => {
    for (const type of [
      'text/plain',
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      undefined,
    ]) {
      const headers: Record<string, string> = type === undefined ? {} : { 'content-type': type }
      const r = await sendRaw(ctx.port, 'POST', PATH, headers, 'forged')
      assert.equal(r.status, 415, String(type))
      assert.equal(r.headers['x-amzn-errortype'], 'UnsupportedMediaTypeException')
    }
    assert.deepEqual(ctx.connections.received(ID), [])
    for (const type of [
      'application/json',
      'Application/JSON; charset=utf-8',
      'application/octet-stream',
    ]) {
      const r = await sendRaw(ctx.port, 'POST', PATH, { 'content-type': type }, 'ok')
      assert.equal(r.status, 200, type)
    }
    assert.equal(ctx.connections.received(ID).length, 3)
  })

  it('an allowed origin, same-origin and navigations, and non-browser callers are served', async () => {
    const before = ctx.connections.received(ID).length
    for (const headers of [
      { origin: ADMIN },
      { origin: ADMIN, 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-origin' },
      { 'sec-fetch-site': 'none' },
      {},
    ]) {
      const r = await send(ctx.port, 'POST', PATH, headers, 'hi')
      assert.equal(r.status, 200, JSON.stringify(headers))
    }
    assert.equal(ctx.connections.received(ID).length, before + 5)
  })
})

describe('management API: cross-site requests (SigV4)', () => {
  const clock = manualClock(Date.UTC(2024, 0, 20, 11, 55, 0))
  let ctx: Awaited<ReturnType<typeof start>>
  before(async () => {
    ctx = await start({
      clock,
      credentials: [{ accessKeyId: 'AKTEST', secretAccessKey: 'secret-test' }],
    })
  })
  after(() => ctx.server.close())

  it('a foreign Origin is refused even on a signed call; a signed body of any type is served', async () => {
    const sign = (headers: Record<string, string>) =>
      signedHeaders({
        method: 'POST',
        port: ctx.port,
        path: PATH,
        body: 'hi',
        date: new Date(clock.now()),
        headers,
      })
    const foreign = await sign({
      origin: 'https://evil.example',
      'content-type': 'application/json',
    })
    assert.equal((await sendRaw(ctx.port, 'POST', PATH, foreign, 'hi')).status, 403)
    assert.deepEqual(ctx.connections.received(ID), [])
    // The SDK's own type, and one a browser could send: the signature is what authenticates.
    for (const type of ['application/octet-stream', 'text/plain']) {
      const h = await sign({ 'content-type': type })
      assert.equal((await sendRaw(ctx.port, 'POST', PATH, h, 'hi')).status, 200, type)
    }
    assert.equal(ctx.connections.received(ID).length, 2)
  })
})

describe('management API: allowedOrigins option', () => {
  it('entries must be serialised origins', () => {
    const connections = recordingConnections()
    for (const bad of [
      'evil.example',
      'https://evil.example/',
      'https://evil.example/path',
      'HTTPS://EVIL.EXAMPLE',
      '*',
      'null',
      'ftp://x.example',
      42,
    ]) {
      assert.throws(
        () =>
          createManagementServer({
            connections,
            stage: STAGE,
            allowUnauthenticated: true,
            allowedOrigins: [bad as string],
          }),
        (err) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
        String(bad),
      )
    }
  })
})
