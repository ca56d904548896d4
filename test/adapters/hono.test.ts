import assert from 'node:assert/strict'
import type { Server } from 'node:http'
import { test } from 'node:test'
import { createAdaptorServer } from '@hono/node-server'
import { Hono } from 'hono'
import { honoServer } from '../../examples/adapters/hono.ts'
import { toHono } from '../../src/adapters/hono.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { adapterSuite, ODD_FRAME } from './suite.ts'
import { assertBodiesIntact, bodyDigest, echo, listen } from './support.ts'

/** A Hono app on @hono/node-server, on 127.0.0.1:0. */
function serveHono(web: Hono) {
  return listen(createAdaptorServer({ fetch: web.fetch }) as Server)
}

adapterSuite(
  'Hono on @hono/node-server (examples/adapters/hono.ts)',
  (app) => serveHono(honoServer(app)),
  {
    http: true,
    extra: (harness) => {
      test('the host routes keep reading their own bodies', async () => {
        const r = await fetch(`${harness().mounted.baseUrl}/api/profile`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"name":"alice"}',
        })
        assert.deepEqual(await r.json(), { saved: { name: 'alice' } })
      })
    },
  },
)

test('a body a middleware already read is refused (ERR_BODY_CONSUMED), never rebuilt', async () => {
  const errors: unknown[] = []
  let reached = 0
  const web = new Hono()
  web.use(async (c, next) => {
    await c.req.json() // a validator reading the body first
    await next()
  })
  web.post(
    '/ws/:route',
    toHono(() => {
      reached++
      return new Response('reached')
    }),
  )
  web.onError((err, c) => {
    errors.push(err)
    return c.json({ message: 'Internal server error' }, 500)
  })
  const s = await serveHono(web)
  try {
    const r = await fetch(`${s.baseUrl}/ws/default`, { method: 'POST', body: ODD_FRAME })
    assert.equal(r.status, 500)
  } finally {
    await s.close()
  }
  assert.equal(reached, 0)
  assert.equal(errors.length, 1)
  assert.ok(isGatehouseError(errors[0], 'ERR_BODY_CONSUMED'), String(errors[0]))
})

test('toHono hands the raw Request over', async () => {
  const r = await toHono(echo)({
    req: { raw: new Request('http://h/p', { method: 'POST', body: ODD_FRAME }) },
  })
  assert.equal((await r.json()).body, ODD_FRAME)
})

test('any body bytes reach the handler unchanged', async () => {
  const web = new Hono()
  web.post('/ws/:route', toHono(bodyDigest))
  const s = await serveHono(web)
  try {
    await assertBodiesIntact(`${s.baseUrl}/ws/default`)
  } finally {
    await s.close()
  }
})
