import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { test } from 'node:test'
import express, { type NextFunction, type Request, type Response } from 'express'
import { expressServer } from '../../examples/adapters/express.ts'
import { httpGateway } from '../../examples/adapters/gateway.ts'
import { authenticate } from '../../examples/adapters/my-auth.ts'
import { toExpress } from '../../src/adapters/express.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { adapterSuite, ODD_FRAME, openOk, SECRET, startHarness, token } from './suite.ts'
import { assertBodiesIntact, bodyDigest, echo, listen, rawRequest } from './support.ts'

/** An Express error handler that records what reached it. */
function recordErrors(errors: unknown[]) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(err)
    res.status(500).json({ message: 'Internal server error' })
  }
}

adapterSuite(
  'Express 5 (examples/adapters/express.ts)',
  (app) => listen(createServer(expressServer(app))),
  {
    http: true,
    extra: (harness) => {
      test('the host routes after the Gatehouse route keep express.json()', async () => {
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

test('a body a parser consumed is refused with ERR_BODY_CONSUMED, never re-serialised', async () => {
  const errors: unknown[] = []
  let reached = 0
  const web = express()
  web.use(express.json({ type: 'application/json' }), express.text({ type: 'text/plain' }))
  web.post(
    '/ws/:route',
    toExpress(() => {
      reached++
      return new Response('reached')
    }),
  )
  web.use(recordErrors(errors))
  const s = await listen(createServer(web))
  try {
    for (const type of ['application/json', 'text/plain']) {
      const r = await fetch(`${s.baseUrl}/ws/default`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: ODD_FRAME,
      })
      assert.equal(r.status, 500, type)
    }
    assert.equal(reached, 0)
    assert.equal(errors.length, 2)
    for (const err of errors) {
      assert.ok(isGatehouseError(err, 'ERR_BODY_CONSUMED'), String(err))
      assert.match(err.message, /express\.raw\(\{ type: \(\) => true/)
    }
    // A body no parser touched (no Content-Type, as the gateway sends) still reaches the handler.
    const untouched = await fetch(`${s.baseUrl}/ws/default`, {
      method: 'POST',
      body: new TextEncoder().encode(ODD_FRAME),
    })
    assert.equal(await untouched.text(), 'reached')
  } finally {
    await s.close()
  }
})

test('inside a router mounted on a prefix the signed path still matches (originalUrl)', async () => {
  const h = await startHarness(async (app) => {
    const router = express.Router()
    router.post('/ws/:route', toExpress(app.fetch))
    router.post('/api/ws-token/', toExpress(app.tokenEndpoint({ authenticate })))
    const web = express()
    web.use('/realtime', router)
    const s = await listen(createServer(web))
    return {
      baseUrl: `${s.baseUrl}/realtime`,
      gateway: httpGateway(`${s.baseUrl}/realtime`, SECRET, 0),
      close: s.close,
    }
  })
  try {
    const client = await openOk(h, { token: await token(h) })
    client.ws.send(ODD_FRAME)
    assert.deepEqual(await client.next(), { type: 'echo', raw: ODD_FRAME, user: 'alice' })
    client.ws.close(1000)
    await client.closed
  } finally {
    await h.close()
  }
})

test('a forged Host gets 400; a handler error goes to next(); cookies all come back', async () => {
  const errors: unknown[] = []
  const web = express()
  web.use(toExpress(echo))
  web.use(recordErrors(errors))
  const s = await listen(createServer(web))
  try {
    const r = await fetch(`${s.baseUrl}/x`, { method: 'POST', body: 'raw' })
    assert.equal((await r.json()).body, 'raw')
    assert.deepEqual(r.headers.getSetCookie(), ['a=1; HttpOnly', 'b=2'])
    const port = Number(new URL(s.baseUrl).port)
    assert.match(
      await rawRequest(
        port,
        'POST / HTTP/1.1\r\nHost: a/b?\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      ),
      / 400 /,
    )
    assert.equal((await fetch(`${s.baseUrl}/throw`)).status, 500)
    assert.equal(errors.length, 1)
    assert.match(String(errors[0]), /internal detail/)
  } finally {
    await s.close()
  }
})

test('any body bytes reach the handler unchanged, with express.raw() and with no parser', async () => {
  const web = express()
  web.post('/raw/:route', express.raw({ type: () => true, limit: '1mb' }), toExpress(bodyDigest))
  web.post('/plain/:route', toExpress(bodyDigest))
  web.use(express.json())
  const s = await listen(createServer(web))
  try {
    await assertBodiesIntact(`${s.baseUrl}/raw/default`)
    await assertBodiesIntact(`${s.baseUrl}/plain/default`)
  } finally {
    await s.close()
  }
})
