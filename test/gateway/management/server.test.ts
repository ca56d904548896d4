import assert from 'node:assert/strict'
import { createServer, type RequestListener } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { SignatureV4 } from '@smithy/signature-v4'
import fc from 'fast-check'
import { manualClock } from '../../../src/clock.ts'
import { isGatehouseError } from '../../../src/errors.ts'
import {
  createManagementHandler,
  createManagementServer,
} from '../../../src/gateway/management/server.ts'
import type { Connections } from '../../../src/push/connections.ts'
import { recordingConnections, send, signedHeaders } from './helpers.ts'

const STAGE = 'production'
const ID = 'R1kmxc2VNjMCFIA='
const ENC_ID = 'R1kmxc2VNjMCFIA%3D'

async function start(options: Partial<Parameters<typeof createManagementServer>[0]> = {}) {
  const connections = recordingConnections()
  const auth = options.credentials ? {} : { allowUnauthenticated: true }
  const server = createManagementServer({ connections, stage: STAGE, ...auth, ...options })
  const { port, url } = await server.listen()
  return { connections, server, port, url }
}

describe('management API without auth', () => {
  let ctx: Awaited<ReturnType<typeof start>>
  before(async () => {
    ctx = await start()
  })
  after(() => ctx.server.close())

  it('listen() reports the endpoint with the stage', () => {
    assert.equal(ctx.url, `http://127.0.0.1:${ctx.port}/${STAGE}`)
  })

  it('POST 200 empty and delivers the raw body; GET JSON; DELETE 204', async () => {
    ctx.connections.open(ID, { sourceIp: '10.1.2.3', userAgent: 'Mozilla/5.0' })
    const post = await send(ctx.port, 'POST', `/${STAGE}/@connections/${ENC_ID}`, {}, '{"a":"é"}')
    assert.equal(post.status, 200)
    assert.equal(post.body, '')
    assert.deepEqual(ctx.connections.received(ID), ['{"a":"é"}'])

    const get = await send(ctx.port, 'GET', `/${STAGE}/@connections/${ENC_ID}`)
    assert.equal(get.status, 200)
    assert.match(String(get.headers['content-type']), /application\/json/)
    const info = JSON.parse(get.body)
    assert.deepEqual(Object.keys(info).sort(), ['connectedAt', 'identity', 'lastActiveAt'])
    assert.match(info.connectedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.match(info.lastActiveAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.deepEqual(info.identity, { sourceIp: '10.1.2.3', userAgent: 'Mozilla/5.0' })

    const del = await send(ctx.port, 'DELETE', `/${STAGE}/@connections/${ENC_ID}`)
    assert.equal(del.status, 204)
    assert.equal(del.body, '')
    assert.equal(ctx.connections.isOpen(ID), false)
  })

  it('410 GoneException with an empty body for closed and unknown ids, on every method', async () => {
    for (const method of ['POST', 'GET', 'DELETE']) {
      for (const id of [ENC_ID, 'unknown0000000A%3D']) {
        const r = await send(
          ctx.port,
          method,
          `/${STAGE}/@connections/${id}`,
          {},
          method === 'POST' ? 'x' : undefined,
        )
        assert.equal(r.status, 410, `${method} ${id}`)
        assert.equal(r.headers['x-amzn-errortype'], 'GoneException')
        assert.equal(r.body, '')
      }
    }
  })

  it('accepts %40 for @, literal = and %3D in the id', async () => {
    const id = 'abc_-DEF='
    ctx.connections.open(id)
    for (const path of [
      `/${STAGE}/%40connections/abc_-DEF%3D`,
      `/${STAGE}/@connections/abc_-DEF=`,
      `/${STAGE}/%40connections/abc_-DEF=`,
      `/${STAGE}/@connections/abc_-DEF%3d`,
    ]) {
      const r = await send(ctx.port, 'POST', path, {}, path)
      assert.equal(r.status, 200, path)
    }
    assert.equal(ctx.connections.received(id).length, 4)
  })

  it('ids that cannot be connection ids are 410 without a lookup', async () => {
    const before = ctx.connections.calls.length
    for (const id of ['a%20b', 'a%2Fb', '%F0%9F%98%80', 'x'.repeat(129), 'a.b', '..']) {
      const r = await send(ctx.port, 'GET', `/${STAGE}/@connections/${id}`)
      assert.equal(r.status, 410, id)
    }
    assert.equal(ctx.connections.calls.length, before)
  })

  it('403 ForbiddenException {"message":"Forbidden"} for a wrong stage, path or method', async () => {
    const cases: Array<[string, string]> = [
      ['POST', `/dev/@connections/${ENC_ID}`],
      ['POST', `/Production/@connections/${ENC_ID}`],
      ['POST', `/@connections/${ENC_ID}`],
      ['POST', `/${STAGE}/connections/${ENC_ID}`],
      ['POST', `/${STAGE}/@connections/${ENC_ID}/extra`],
      ['POST', `/${STAGE}/@connections/${ENC_ID}/`],
      ['POST', `/${STAGE}/%2540connections/${ENC_ID}`],
      ['POST', `/${STAGE}/@connections/%E0%A4%A`],
      ['PUT', `/${STAGE}/@connections/${ENC_ID}`],
      ['PATCH', `/${STAGE}/@connections/${ENC_ID}`],
      ['GET', `/${STAGE}/@connections`],
      ['POST', `/${STAGE}/@connections`],
      ['GET', '/'],
      ['POST', '/healthz'],
    ]
    for (const [method, path] of cases) {
      const r = await send(ctx.port, method, path, {}, method === 'GET' ? undefined : 'x')
      assert.equal(r.status, 403, `${method} ${path}`)
      assert.equal(r.headers['x-amzn-errortype'], 'ForbiddenException')
      assert.deepEqual(JSON.parse(r.body), { message: 'Forbidden' })
    }
  })

  it('sets x-amzn-RequestId on successes and errors, unique per request', async () => {
    ctx.connections.open('rid=')
    const a = await send(ctx.port, 'GET', `/${STAGE}/@connections/rid%3D`)
    const b = await send(ctx.port, 'GET', `/${STAGE}/@connections/none%3D`)
    const c = await send(ctx.port, 'GET', '/nope')
    for (const r of [a, b, c])
      assert.match(String(r.headers['x-amzn-requestid']), /^[0-9a-f-]{36}$/)
    assert.notEqual(a.headers['x-amzn-requestid'], b.headers['x-amzn-requestid'])
  })

  it('GET /healthz is 200', async () => {
    const r = await send(ctx.port, 'GET', '/healthz')
    assert.equal(r.status, 200)
    assert.deepEqual(JSON.parse(r.body), { status: 'ok' })
  })

  it('POST of exactly 131072 bytes is delivered; 131073 is 413 PayloadTooLargeException', async () => {
    ctx.connections.open('big=')
    const ok = await send(
      ctx.port,
      'POST',
      `/${STAGE}/@connections/big%3D`,
      {},
      'a'.repeat(131_072),
    )
    assert.equal(ok.status, 200)
    const tooBig = await send(
      ctx.port,
      'POST',
      `/${STAGE}/@connections/big%3D`,
      {},
      'a'.repeat(131_073),
    )
    assert.equal(tooBig.status, 413)
    assert.equal(tooBig.headers['x-amzn-errortype'], 'PayloadTooLargeException')
    assert.equal(typeof JSON.parse(tooBig.body).message, 'string')
    assert.equal(ctx.connections.received('big=').length, 1)
  })

  it('413 on a declared huge Content-Length before any body byte is sent', {
    timeout: 5000,
  }, async () => {
    ctx.connections.open('huge=')
    const reply = await rawExchange(
      ctx.port,
      `POST /${STAGE}/@connections/huge%3D HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000000\r\n\r\n`,
    )
    assert.match(reply.head, /^HTTP\/1\.1 413 /)
    assert.match(reply.head, /x-amzn-ErrorType: PayloadTooLargeException/i)
    assert.equal(reply.closedByServer, true)
    assert.deepEqual(ctx.connections.received('huge='), [])
  })

  it('413 on a chunked body as soon as it passes the limit, without reading the rest', {
    timeout: 5000,
  }, async () => {
    ctx.connections.open('chunk=')
    const piece = 'a'.repeat(70_000)
    const chunk = `${piece.length.toString(16)}\r\n${piece}\r\n`
    // Two chunks pass the limit; the body never ends, so only stopping early can answer.
    const reply = await rawExchange(
      ctx.port,
      `POST /${STAGE}/@connections/chunk%3D HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}${chunk}`,
    )
    assert.match(reply.head, /^HTTP\/1\.1 413 /)
    assert.equal(reply.closedByServer, true)
    assert.deepEqual(ctx.connections.received('chunk='), [])
  })

  it('random paths never crash the server and only look up well-formed ids', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 40 }), async (s) => {
        const segment = encodeURIComponent(s)
        const r = await send(ctx.port, 'GET', `/${STAGE}/@connections/${segment}`)
        assert.ok([200, 403, 410].includes(r.status), `${r.status} for ${segment}`)
        return true
      }),
      { numRuns: 60 },
    )
    for (const call of ctx.connections.calls) {
      assert.match(call.slice(call.indexOf(':') + 1), /^[A-Za-z0-9_=-]{1,128}$/)
    }
  })
})

/** Send raw bytes; read until the server answers and closes (bounded by the test timeout). */
function rawExchange(
  port: number,
  text: string,
): Promise<{ head: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after the answer still counts as the server closing.
      if (data.includes('HTTP/1.1'))
        resolve({ head: data.split('\r\n\r\n')[0] ?? '', closedByServer: true })
      else reject(err)
    })
    socket.on('data', (d) => {
      data += d.toString('latin1')
    })
    socket.on('end', () => resolve({ head: data.split('\r\n\r\n')[0] ?? '', closedByServer: true }))
    socket.on('close', () =>
      resolve({ head: data.split('\r\n\r\n')[0] ?? '', closedByServer: true }),
    )
    socket.write(text)
  })
}

describe('management API errors from the port', () => {
  it('an unexpected failure is 500 InternalServerErrorException; ERR_MESSAGE_TOO_LARGE is 413', async () => {
    const failing: Connections = {
      post: async (id) => {
        if (id === 'large=') {
          const { GatehouseError } = await import('../../../src/errors.ts')
          throw new GatehouseError('ERR_MESSAGE_TOO_LARGE', 'too large')
        }
        throw new Error('boom')
      },
      postMany: async () => ({ sent: 0, gone: [] }),
      delete: async () => false,
      get: async () => null,
    }
    const server = createManagementServer({
      connections: failing,
      stage: STAGE,
      allowUnauthenticated: true,
    })
    const { port } = await server.listen()
    try {
      const r = await send(port, 'POST', `/${STAGE}/@connections/a%3D`, {}, 'x')
      assert.equal(r.status, 500)
      assert.equal(r.headers['x-amzn-errortype'], 'InternalServerErrorException')
      const l = await send(port, 'POST', `/${STAGE}/@connections/large%3D`, {}, 'x')
      assert.equal(l.status, 413)
    } finally {
      await server.close()
    }
  })
})

describe('management API options', () => {
  it('refuses a non-loopback host without credentials', () => {
    assert.throws(
      () =>
        createManagementServer({
          connections: recordingConnections(),
          stage: STAGE,
          host: '0.0.0.0',
        }),
      (err) => isGatehouseError(err, 'ERR_OPTION_CONFLICT'),
    )
  })

  it('refuses a bad stage, port or limit', () => {
    const connections = recordingConnections()
    for (const bad of [
      { stage: 'a/b' },
      { stage: '' },
      { stage: STAGE, port: 70000 },
      { stage: STAGE, maxPayloadBytes: 0 },
      // Integers past 2 ** 53 are not exact: the shared positiveInt() refuses them.
      { stage: STAGE, maxPayloadBytes: 2 ** 53 },
      { stage: STAGE, maxFanoutIds: 2 ** 60 },
      { stage: STAGE, rateLimit: { requestsPerSecond: 0 } },
      { stage: STAGE, rateLimit: { requestsPerSecond: Number.POSITIVE_INFINITY } },
      { stage: STAGE, rateLimit: { requestsPerSecond: 5, burst: 0.5 } },
      { stage: STAGE, credentials: [] },
    ]) {
      assert.throws(
        () =>
          createManagementServer({
            connections,
            ...('credentials' in bad ? {} : { allowUnauthenticated: true }),
            ...bad,
          }),
        (err) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
        JSON.stringify(bad),
      )
    }
  })
})

describe('management API throttling', () => {
  it('429 LimitExceededException past the burst, allowed again after refill', async () => {
    const clock = manualClock()
    const ctx = await start({ clock, rateLimit: { requestsPerSecond: 2, burst: 2 } })
    try {
      ctx.connections.open('t=')
      const path = `/${STAGE}/@connections/t%3D`
      assert.equal((await send(ctx.port, 'GET', path)).status, 200)
      assert.equal((await send(ctx.port, 'GET', path)).status, 200)
      const limited = await send(ctx.port, 'GET', path)
      assert.equal(limited.status, 429)
      assert.equal(limited.headers['x-amzn-errortype'], 'LimitExceededException')
      clock.advance(500)
      assert.equal((await send(ctx.port, 'GET', path)).status, 200)
      assert.equal((await send(ctx.port, 'GET', path)).status, 429)
    } finally {
      await ctx.server.close()
    }
  })
})

describe('management API throttling with SigV4', () => {
  it('refused requests spend no tokens: only authenticated calls are throttled', async () => {
    const clock = manualClock(Date.UTC(2024, 0, 20, 11, 55, 0))
    const ctx = await start({
      clock,
      credentials: [{ accessKeyId: 'AKTEST', secretAccessKey: 'secret-test' }],
      rateLimit: { requestsPerSecond: 1, burst: 2 },
    })
    try {
      ctx.connections.open(ID)
      const path = `/${STAGE}/@connections/${ENC_ID}`
      const sign = (o: Partial<Parameters<typeof signedHeaders>[0]> = {}) =>
        signedHeaders({
          method: 'POST',
          port: ctx.port,
          path,
          body: 'hi',
          date: new Date(clock.now()),
          ...o,
        })
      // Unsigned, forged before the body, and forged over the body: all 403, none throttled.
      const refused = [
        {},
        await sign({ secretAccessKey: 'wrong' }),
        await sign({ secretAccessKey: 'wrong', payloadHash: false }),
        await sign({ accessKeyId: 'AKNOPE' }),
      ]
      for (let round = 0; round < 3; round++) {
        for (const headers of refused) {
          assert.equal((await send(ctx.port, 'POST', path, headers, 'hi')).status, 403)
        }
      }
      // The burst is still whole for the real caller, signed payload hash or not.
      assert.equal((await send(ctx.port, 'POST', path, await sign(), 'hi')).status, 200)
      const unhashed = await sign({ payloadHash: false })
      assert.equal((await send(ctx.port, 'POST', path, unhashed, 'hi')).status, 200)
      const over = await send(ctx.port, 'POST', path, await sign(), 'hi')
      assert.equal(over.status, 429)
      assert.equal(over.headers['x-amzn-errortype'], 'LimitExceededException')
      assert.equal(ctx.connections.received(ID).length, 2)
    } finally {
      await ctx.server.close()
    }
  })
})

describe('management API with SigV4', () => {
  const clock = manualClock(Date.UTC(2024, 0, 20, 11, 55, 0))
  const now = () => new Date(clock.now())
  let ctx: Awaited<ReturnType<typeof start>>
  const path = `/${STAGE}/@connections/${ENC_ID}`
  before(async () => {
    ctx = await start({
      clock,
      region: 'eu-west-1',
      credentials: [
        { accessKeyId: 'AKOTHER', secretAccessKey: 'other-secret' },
        { accessKeyId: 'AKTEST', secretAccessKey: 'secret-test' },
      ],
    })
    ctx.connections.open(ID)
  })
  after(() => ctx.server.close())

  const sign = (o: Partial<Parameters<typeof signedHeaders>[0]> = {}) =>
    signedHeaders({
      method: 'POST',
      port: ctx.port,
      path,
      body: 'hello',
      date: now(),
      region: 'eu-west-1',
      ...o,
    })

  async function expectForbidden(
    headers: Record<string, string>,
    body: string | undefined = 'hello',
    method = 'POST',
    target = path,
  ) {
    const before = ctx.connections.received(ID).length
    const r = await send(ctx.port, method, target, headers, body)
    assert.equal(r.status, 403)
    assert.equal(r.headers['x-amzn-errortype'], 'ForbiddenException')
    assert.deepEqual(JSON.parse(r.body), { message: 'Forbidden' })
    assert.equal(ctx.connections.received(ID).length, before, 'nothing delivered')
  }

  it('accepts a correct signature (with and without x-amz-content-sha256), from any configured key', async () => {
    assert.equal((await send(ctx.port, 'POST', path, await sign(), 'hello')).status, 200)
    assert.equal(
      (await send(ctx.port, 'POST', path, await sign({ payloadHash: false }), 'hello')).status,
      200,
    )
    const other = await sign({ accessKeyId: 'AKOTHER', secretAccessKey: 'other-secret' })
    assert.equal((await send(ctx.port, 'POST', path, other, 'hello')).status, 200)
    const get = await sign({ method: 'GET', body: undefined })
    assert.equal((await send(ctx.port, 'GET', path, get)).status, 200)
  })

  it('accepts a signed query string, and refuses it changed', async () => {
    const query = { a: '1', b: 'x y/z' }
    const h = await sign({ query })
    assert.equal((await send(ctx.port, 'POST', `${path}?a=1&b=x%20y%2Fz`, h, 'hello')).status, 200)
    await expectForbidden(h, 'hello', 'POST', `${path}?a=2&b=x%20y%2Fz`)
  })

  it('accepts %40 in a signed path', async () => {
    const p = `/${STAGE}/%40connections/${ENC_ID}`
    const h = await signedHeaders({
      method: 'POST',
      port: ctx.port,
      path: p,
      body: 'x',
      date: now(),
      region: 'eu-west-1',
    })
    assert.equal((await send(ctx.port, 'POST', p, h, 'x')).status, 200)
  })

  it('403 when Authorization is missing', async () => {
    await expectForbidden({})
    const h = await sign()
    delete h.authorization
    await expectForbidden(h)
  })

  it('403 for a wrong secret, an unknown key, a wrong region or service', async () => {
    await expectForbidden(await sign({ secretAccessKey: 'wrong' }))
    await expectForbidden(await sign({ accessKeyId: 'AKNOPE' }))
    await expectForbidden(await sign({ region: 'us-east-1' }))
    await expectForbidden(await sign({ service: 's3' }))
  })

  it('403 when x-amz-date is more than 5 minutes off; accepted within', async () => {
    await expectForbidden(await sign({ date: new Date(clock.now() - 301_000) }))
    await expectForbidden(await sign({ date: new Date(clock.now() + 301_000) }))
    const h = await sign({ date: new Date(clock.now() - 299_000) })
    assert.equal((await send(ctx.port, 'POST', path, h, 'hello')).status, 200)
  })

  it('403 when the body differs from the signed one, with or without a signed hash', async () => {
    await expectForbidden(await sign(), 'HELLO')
    await expectForbidden(await sign({ payloadHash: false }), 'HELLO')
    const h = await sign()
    h['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD'
    await expectForbidden(h)
  })

  it('403 when a signed header is changed or absent, or host/x-amz-date are not signed', async () => {
    const h = await sign({ headers: { 'x-custom': 'a' } })
    await expectForbidden({ ...h, 'x-custom': 'b' })
    const { 'x-custom': _drop, ...missing } = h
    await expectForbidden(missing)
    const noHost = await sign()
    noHost.authorization = (noHost.authorization as string).replace(/SignedHeaders=[^,]*/, (m) =>
      m.replace('host;', ''),
    )
    await expectForbidden(noHost)
    const forged = await sign()
    forged.authorization = (forged.authorization as string).replace(
      /Signature=\w+/,
      `Signature=${'0'.repeat(64)}`,
    )
    await expectForbidden(forged)
    await expectForbidden({ ...(await sign()), authorization: 'Bearer x' })
  })

  it('signs once per request: a signed payload hash is only compared once the body is read', async () => {
    const withHash = await sign()
    const withoutHash = await sign({ payloadHash: false })
    const proto = SignatureV4.prototype
    const original = proto.sign
    let signs = 0
    proto.sign = function (this: SignatureV4, ...args: Parameters<typeof original>) {
      signs++
      return original.apply(this, args)
    } as typeof original
    try {
      assert.equal((await send(ctx.port, 'POST', path, withHash, 'hello')).status, 200)
      assert.equal(signs, 1, 'signed payload hash: one signing, before the body')
      assert.equal((await send(ctx.port, 'POST', path, withoutHash, 'hello')).status, 200)
      assert.equal(signs, 2, 'no payload hash: one signing, after the body')
    } finally {
      proto.sign = original
    }
  })

  it('403 for a bad signature before reading a huge declared body', { timeout: 5000 }, async () => {
    const h = await sign({ secretAccessKey: 'wrong' })
    const head = Object.entries({ ...h, 'content-length': '1000000000' })
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n')
    const reply = await rawExchange(ctx.port, `POST ${path} HTTP/1.1\r\n${head}\r\n\r\n`)
    assert.match(reply.head, /^HTTP\/1\.1 403 /)
  })

  it('the fan-out call needs a signature too', async () => {
    const fpath = `/${STAGE}/@connections`
    const body = `${ID}\nfan`
    const r = await send(ctx.port, 'POST', fpath, { 'x-gatehouse-fanout': '1' }, body)
    assert.equal(r.status, 403)
    const h = await signedHeaders({
      method: 'POST',
      port: ctx.port,
      path: fpath,
      body,
      date: now(),
      region: 'eu-west-1',
      headers: { 'x-gatehouse-fanout': '1' },
    })
    const ok = await send(ctx.port, 'POST', fpath, h, body)
    assert.equal(ok.status, 200)
    assert.deepEqual(JSON.parse(ok.body), { sent: 1, gone: [] })
  })
})

describe('fan-out extension', () => {
  let ctx: Awaited<ReturnType<typeof start>>
  const path = `/${STAGE}/@connections`
  const H = { 'x-gatehouse-fanout': '1' }
  before(async () => {
    ctx = await start({ maxFanoutIds: 5 })
    for (const id of ['a=', 'b=', 'c=']) ctx.connections.open(id)
  })
  after(() => ctx.server.close())

  it('pushes the same bytes to every listed id once and reports gone ones', async () => {
    const data = 'line1\nline2,with,commas'
    const r = await send(ctx.port, 'POST', path, H, `a=,b=,zz=,a=,bad id\n${data}`)
    assert.equal(r.status, 200)
    assert.match(String(r.headers['content-type']), /application\/json/)
    const result = JSON.parse(r.body)
    assert.equal(result.sent, 2)
    assert.deepEqual([...result.gone].sort(), ['bad id', 'zz='])
    assert.deepEqual(ctx.connections.received('a='), [data])
    assert.deepEqual(ctx.connections.received('b='), [data])
    assert.deepEqual(ctx.connections.received('c='), [])
  })

  it('an empty ids line sends nothing', async () => {
    const r = await send(ctx.port, 'POST', path, H, '\nx')
    assert.deepEqual(JSON.parse(r.body), { sent: 0, gone: [] })
  })

  it('400 without an ids line, 403 without the header', async () => {
    const r = await send(ctx.port, 'POST', path, H, 'no newline')
    assert.equal(r.status, 400)
    assert.equal(r.headers['x-amzn-errortype'], 'BadRequestException')
    assert.equal((await send(ctx.port, 'POST', path, {}, 'a=\nx')).status, 403)
    assert.equal(
      (await send(ctx.port, 'POST', path, { 'x-gatehouse-fanout': 'yes' }, 'a=\nx')).status,
      403,
    )
  })

  it('413 when the data passes 131072 bytes or the ids pass the cap', async () => {
    const big = await send(ctx.port, 'POST', path, H, `a=\n${'x'.repeat(131_073)}`)
    assert.equal(big.status, 413)
    assert.equal(big.headers['x-amzn-errortype'], 'PayloadTooLargeException')
    const many = await send(ctx.port, 'POST', path, H, 'a=,b=,c=,d=,e=,f=\nx')
    assert.equal(many.status, 413)
    const exact = await send(ctx.port, 'POST', path, H, `a=\n${'x'.repeat(131_072)}`)
    assert.equal(exact.status, 200)
  })
})

/** A real loopback server whose requests claim to come from `peer` (no foreign traffic). */
async function mountAs(
  listener: RequestListener,
  peer: () => string,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    Object.defineProperty(req.socket, 'remoteAddress', { value: peer(), configurable: true })
    listener(req, res)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r())
        server.closeAllConnections()
      }),
  }
}

describe('who may call the management API', () => {
  it('the handler needs credentials or an explicit allowUnauthenticated, not both', () => {
    const connections = recordingConnections()
    const creds = [{ accessKeyId: 'AK', secretAccessKey: 'SK' }]
    const cases: Array<[object, string]> = [
      [{}, 'ERR_INVALID_OPTION'],
      [{ allowUnauthenticated: false }, 'ERR_INVALID_OPTION'],
      [{ credentials: creds, allowUnauthenticated: true }, 'ERR_OPTION_CONFLICT'],
    ]
    for (const [extra, code] of cases) {
      for (const create of [createManagementHandler, createManagementServer]) {
        assert.throws(
          () => create({ connections, stage: STAGE, ...extra }),
          (err) => isGatehouseError(err, code as 'ERR_INVALID_OPTION'),
          `${create.name} ${JSON.stringify(extra)}`,
        )
      }
    }
    assert.doesNotThrow(() =>
      createManagementHandler({ connections, stage: STAGE, credentials: creds }),
    )
  })

  it('unauthenticated, it answers loopback peers only, on whatever socket it is mounted', async () => {
    const connections = recordingConnections()
    connections.open(ID)
    const { listener } = createManagementHandler({
      connections,
      stage: STAGE,
      allowUnauthenticated: true,
    })
    let peer = '127.0.0.1'
    const mounted = await mountAs(listener, () => peer)
    try {
      const path = `/${STAGE}/@connections/${ENC_ID}`
      for (peer of ['203.0.113.9', '::ffff:198.51.100.4', '10.0.0.1', '128.0.0.1', '::2']) {
        for (const [method, target] of [
          ['POST', path],
          ['GET', path],
          ['DELETE', path],
          ['POST', `/${STAGE}/@connections`],
          ['GET', '/healthz'],
        ] as const) {
          const headers = target.endsWith('@connections') ? { 'x-gatehouse-fanout': '1' } : {}
          const body = method === 'POST' ? `${ID}\nx` : undefined
          const r = await send(mounted.port, method, target, headers, body)
          assert.equal(r.status, 403, `${peer} ${method} ${target}`)
          assert.equal(r.headers['x-amzn-errortype'], 'ForbiddenException')
        }
      }
      assert.deepEqual(connections.calls, [], 'the port was never reached')
      assert.equal(connections.isOpen(ID), true)
      for (peer of ['127.0.0.1', '127.9.8.7', '::1', '::ffff:127.0.0.1']) {
        assert.equal((await send(mounted.port, 'POST', path, {}, 'hi')).status, 200, peer)
      }
      assert.equal(connections.received(ID).length, 4)
    } finally {
      await mounted.close()
    }
  })

  it('with credentials, a signed call from any peer address is served', async () => {
    const clock = manualClock(Date.UTC(2024, 0, 20, 11, 55, 0))
    const connections = recordingConnections()
    connections.open(ID)
    const { listener, ready } = createManagementHandler({
      connections,
      stage: STAGE,
      clock,
      credentials: [{ accessKeyId: 'AKTEST', secretAccessKey: 'secret-test' }],
    })
    await ready
    const mounted = await mountAs(listener, () => '203.0.113.9')
    try {
      const path = `/${STAGE}/@connections/${ENC_ID}`
      const h = await signedHeaders({
        method: 'POST',
        port: mounted.port,
        path,
        body: 'hi',
        date: new Date(clock.now()),
      })
      assert.equal((await send(mounted.port, 'POST', path, h, 'hi')).status, 200)
      assert.equal((await send(mounted.port, 'POST', path, {}, 'hi')).status, 403)
    } finally {
      await mounted.close()
    }
  })

  it('a Host that is not allowed gets 403 (DNS rebinding), signed or not', async () => {
    const ctx = await start()
    const clock = manualClock(Date.UTC(2024, 0, 20, 11, 55, 0))
    const signedCtx = await start({
      clock,
      credentials: [{ accessKeyId: 'AKTEST', secretAccessKey: 'secret-test' }],
    })
    try {
      ctx.connections.open(ID)
      const path = `/${STAGE}/@connections/${ENC_ID}`
      for (const host of [
        'evil.example',
        `evil.example:${ctx.port}`,
        `127.0.0.1.nip.io:${ctx.port}`,
      ]) {
        for (const [method, target] of [
          ['POST', path],
          ['GET', '/healthz'],
        ] as const) {
          const r = await send(
            ctx.port,
            method,
            target,
            { host },
            method === 'POST' ? 'x' : undefined,
          )
          assert.equal(r.status, 403, `${host} ${method} ${target}`)
          assert.equal(r.headers['x-amzn-errortype'], 'ForbiddenException')
        }
      }
      assert.deepEqual(ctx.connections.received(ID), [])
      for (const host of [`localhost:${ctx.port}`, `[::1]:${ctx.port}`, '127.0.0.1']) {
        assert.equal((await send(ctx.port, 'POST', path, { host }, 'x')).status, 200, host)
      }
      // No Host at all (HTTP/1.0) is refused too.
      const bare = await rawExchange(ctx.port, `GET /healthz HTTP/1.0\r\n\r\n`)
      assert.match(bare.head, /^HTTP\/1\.1 403 /)

      signedCtx.connections.open(ID)
      const evil = await signedHeaders({
        method: 'POST',
        port: signedCtx.port,
        path,
        body: 'x',
        date: new Date(clock.now()),
        headers: { host: `evil.example:${signedCtx.port}` },
      })
      assert.equal((await send(signedCtx.port, 'POST', path, evil, 'x')).status, 403)
      assert.deepEqual(signedCtx.connections.received(ID), [])
    } finally {
      await ctx.server.close()
      await signedCtx.server.close()
    }
  })

  it('allowedHosts lets a named host in and keeps the defaults out', async () => {
    const ctx = await start({ allowedHosts: ['gateway.internal'] })
    try {
      ctx.connections.open(ID)
      const path = `/${STAGE}/@connections/${ENC_ID}`
      const named = await send(
        ctx.port,
        'POST',
        path,
        { host: `gateway.internal:${ctx.port}` },
        'x',
      )
      assert.equal(named.status, 200)
      assert.equal(
        (await send(ctx.port, 'POST', path, {}, 'x')).status,
        403,
        '127.0.0.1 not listed',
      )
    } finally {
      await ctx.server.close()
    }
  })
})
