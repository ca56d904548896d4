import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify from 'fastify'
import { fastifyServer } from '../../examples/adapters/fastify.ts'
import { gatehousePlugin, toFastify } from '../../src/adapters/fastify.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { adapterSuite, ODD_FRAME } from './suite.ts'
import { assertBodiesIntact, bodyDigest, echo } from './support.ts'

type Web = Awaited<ReturnType<typeof fastifyServer>>

async function listen(web: Web | ReturnType<typeof Fastify>) {
  const address = await web.listen({ port: 0, host: '127.0.0.1' })
  return { baseUrl: address, close: () => web.close() }
}

adapterSuite(
  'Fastify 5 (examples/adapters/fastify.ts)',
  async (app) => listen(await fastifyServer(app)),
  {
    http: true,
    extra: (harness) => {
      test('the host routes outside the plugin keep Fastify’s JSON parser', async () => {
        const r = await fetch(`${harness().mounted.baseUrl}/api/profile`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"name":"alice"}',
        })
        assert.deepEqual(await r.json(), { saved: { name: 'alice' } })
      })

      test('the token endpoint refuses GET with 405 (every method reaches the handler)', async () => {
        const r = await fetch(`${harness().mounted.baseUrl}/api/ws-token/`)
        assert.equal(r.status, 405)
        assert.equal(r.headers.get('allow'), 'POST')
      })
    },
  },
)

test('without the plugin a gateway message gets 415 from Fastify (what the plugin fixes)', async () => {
  const web = Fastify()
  web.post('/ws/:route', toFastify(echo))
  const s = await listen(web)
  try {
    const r = await fetch(`${s.baseUrl}/ws/default`, {
      method: 'POST',
      body: new TextEncoder().encode(ODD_FRAME), // no Content-Type, as the gateway sends it
    })
    assert.equal(r.status, 415)
  } finally {
    await s.close()
  }
})

test('a body a host parser turned into a value is refused (ERR_BODY_CONSUMED), never rebuilt', async () => {
  const errors: unknown[] = []
  let reached = 0
  const web = Fastify()
  web.post(
    '/ws/:route',
    toFastify(() => {
      reached++
      return new Response('reached')
    }),
  )
  web.setErrorHandler((err, _request, reply) => {
    errors.push(err)
    void reply.code(500).send({ message: 'Internal server error' })
  })
  const s = await listen(web)
  try {
    const r = await fetch(`${s.baseUrl}/ws/default`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: ODD_FRAME,
    })
    assert.equal(r.status, 500)
  } finally {
    await s.close()
  }
  assert.equal(reached, 0)
  assert.equal(errors.length, 1)
  assert.ok(isGatehouseError(errors[0], 'ERR_BODY_CONSUMED'), String(errors[0]))
  assert.match(errors[0].message, /fastify\.register\(gatehousePlugin/)
})

test('the plugin: prefix honoured, oversized body 413, throwing handler 500', async () => {
  const web = Fastify()
  await web.register(gatehousePlugin, {
    prefix: '/realtime',
    maxBodyBytes: 1024,
    routes: {
      '/ws/:route': echo,
      '/boom': () => {
        throw new Error('internal detail /etc/passwd')
      },
    },
  })
  const s = await listen(web)
  try {
    const ok = await fetch(`${s.baseUrl}/realtime/ws/default`, { method: 'POST', body: ODD_FRAME })
    assert.equal(ok.status, 201)
    assert.equal((await ok.json()).body, ODD_FRAME)
    const big = await fetch(`${s.baseUrl}/realtime/ws/default`, {
      method: 'POST',
      body: 'x'.repeat(4096),
    })
    assert.equal(big.status, 413)
    const thrown = await fetch(`${s.baseUrl}/realtime/boom`, { signal: AbortSignal.timeout(5000) })
    assert.equal(thrown.status, 500)
    assert.ok(!(await thrown.text()).includes('passwd'))
  } finally {
    await s.close()
  }
})

test('the plugin refuses unknown and malformed options when Fastify loads it', async () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ routes: { '/ws/:route': echo }, bodyLimit: 1 }, /unknown option `bodyLimit`/],
    [{ routes: {} }, /names no route/],
    [{ routes: { 'ws/:route': echo } }, /must start with/],
    [{ routes: { '/ws/:route': 'nope' } }, /needs a function/],
    [{ routes: { '/ws/:route': echo }, maxBodyBytes: 0 }, /maxBodyBytes/],
    [{ routes: { '/ws/:route': echo }, protocol: 'ftp' }, /protocol/],
  ]
  for (const [options, message] of cases) {
    const web = Fastify()
    const load = async () => {
      // biome-ignore lint/suspicious/noExplicitAny: deliberately malformed options
      await web.register(gatehousePlugin, options as any)
    }
    await assert.rejects(load, (err: unknown) => {
      assert.ok(isGatehouseError(err, 'ERR_INVALID_OPTION'), String(err))
      assert.match((err as Error).message, message)
      return true
    })
    await web.close()
  }
})

test('any body bytes under any Content-Type reach a plugin route unchanged', async () => {
  const web = Fastify()
  await web.register(gatehousePlugin, { routes: { '/ws/:route': bodyDigest } })
  const s = await listen(web)
  try {
    await assertBodiesIntact(`${s.baseUrl}/ws/default`)
  } finally {
    await s.close()
  }
})
