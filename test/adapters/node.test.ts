import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { describe, test } from 'node:test'
import { nodeServer } from '../../examples/adapters/node.ts'
import { toExpress } from '../../src/adapters/express.ts'
import { toFastify } from '../../src/adapters/fastify.ts'
import {
  type NodeBridgeOptions,
  requestUrl,
  resolveBridgeOptions,
  toNodeListener,
} from '../../src/adapters/node.ts'
import { DEFAULTS } from '../../src/defaults.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { adapterSuite } from './suite.ts'
import { assertBodiesIntact, bodyDigest, echo, listen, rawRequest, serve } from './support.ts'

adapterSuite('node:http (examples/adapters/node.ts)', (app) => listen(nodeServer(app)), {
  http: true,
})

describe('adapters/node', () => {
  test('a request reaches the Fetch handler whole, and every Set-Cookie comes back', async () => {
    const s = await serve(toNodeListener(echo))
    try {
      const r = await fetch(`http://127.0.0.1:${s.port}/ws/default?x=1`, {
        method: 'POST',
        body: 'hello',
      })
      assert.equal(r.status, 201)
      assert.deepEqual(await r.json(), {
        method: 'POST',
        path: '/ws/default',
        host: `127.0.0.1:${s.port}`,
        body: 'hello',
      })
      assert.deepEqual(r.headers.getSetCookie(), ['a=1; HttpOnly', 'b=2'])
    } finally {
      await s.close()
    }
  })

  test('a Host header cannot rewrite the path the handler routes on (400)', async () => {
    const s = await serve(toNodeListener(echo))
    try {
      const forged = await rawRequest(
        s.port,
        'POST /ws/default HTTP/1.1\r\nHost: x/ws/connect?\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      )
      assert.match(forged, / 400 /)
      const absolute = await rawRequest(
        s.port,
        'POST http://evil.test/ws/connect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      )
      assert.match(absolute, / 400 /)
    } finally {
      await s.close()
    }
  })

  test('a body over maxBodyBytes is refused with 413 before the handler runs', async () => {
    let called = false
    const s = await serve(
      toNodeListener(
        (req) => {
          called = true
          return echo(req)
        },
        { maxBodyBytes: 1024 },
      ),
    )
    try {
      const r = await fetch(`http://127.0.0.1:${s.port}/`, {
        method: 'POST',
        body: 'x'.repeat(2048),
      })
      assert.equal(r.status, 413)
      assert.equal(called, false)
    } finally {
      await s.close()
    }
  })

  test('a throwing handler answers a generic 500 without its details', async () => {
    const s = await serve(toNodeListener(echo))
    try {
      const r = await fetch(`http://127.0.0.1:${s.port}/throw`)
      assert.equal(r.status, 500)
      assert.ok(!(await r.text()).includes('passwd'))
    } finally {
      await s.close()
    }
  })

  test('requestUrl accepts names, IPv4 and bracketed IPv6 hosts with ports only', () => {
    for (const host of ['app.example.com', '127.0.0.1:3000', '[::1]:8080', 'localhost']) {
      assert.equal(requestUrl({ headers: { host }, url: '/a' }).pathname, '/a')
    }
    for (const host of ['x/y', 'a b', 'a@b', 'x?', 'h:1:2:3', '']) {
      assert.throws(() => requestUrl({ headers: { host }, url: '/a' }), host)
    }
    assert.throws(() => requestUrl({ headers: { host: 'a' }, url: '//evil.test/x' }))
  })
})

test('any body bytes reach the handler unchanged', async () => {
  const s = await listen(createServer(toNodeListener(bodyDigest)))
  try {
    await assertBodiesIntact(`${s.baseUrl}/ws/default`)
  } finally {
    await s.close()
  }
})

test('adapter options are checked when the adapter is built, and copied', () => {
  for (const bad of [
    { maxBodyBytes: 0 },
    { maxBodyBytes: 1.5 },
    { protocol: 'ftp' },
    { maxBodyBytes: 10, limit: 5 },
  ]) {
    for (const build of [toNodeListener, toExpress, toFastify]) {
      assert.throws(
        () => build(echo, bad as NodeBridgeOptions),
        (err: unknown) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
        `${build.name} ${JSON.stringify(bad)}`,
      )
    }
  }
  const given: { maxBodyBytes: number } = { maxBodyBytes: 4 }
  const resolved = resolveBridgeOptions(given)
  given.maxBodyBytes = 1_000_000
  assert.deepEqual(resolved, { maxBodyBytes: 4, protocol: 'http' })
  assert.ok(Object.isFrozen(resolved))
  assert.equal(resolveBridgeOptions().maxBodyBytes, DEFAULTS.maxAdapterBodyBytes)
})
