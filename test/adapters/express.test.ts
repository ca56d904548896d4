import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { describe, test } from 'node:test'
import { type ExpressLikeRequest, toExpress } from '../../src/adapters/express.ts'
import { echo, rawRequest, serve } from './support.ts'

/** What express.json() does: read the stream, parse it, set req.body. */
async function jsonBodyParser(req: IncomingMessage): Promise<void> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  ;(req as ExpressLikeRequest).body = JSON.parse(Buffer.concat(chunks).toString() || '{}')
}

describe('adapters/express', () => {
  test('works after a body parser consumed the stream (the parsed body is re-serialised)', async () => {
    const handler = toExpress(echo)
    const s = await serve(async (req, res) => {
      await jsonBodyParser(req)
      handler(req as ExpressLikeRequest, res, (err) => res.writeHead(599).end(String(err)))
    })
    try {
      const r = await fetch(`http://127.0.0.1:${s.port}/api/ws-token/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"a":1}',
      })
      assert.equal(r.status, 201)
      assert.deepEqual((await r.json()).body, '{"a":1}')
      assert.deepEqual(r.headers.getSetCookie(), ['a=1; HttpOnly', 'b=2'])
    } finally {
      await s.close()
    }
  })

  test('works without a body parser; a forged Host gets 400; a handler error goes to next()', async () => {
    const errors: unknown[] = []
    const handler = toExpress(echo)
    const s = await serve((req, res) =>
      handler(req as ExpressLikeRequest, res, (err) => {
        errors.push(err)
        res.writeHead(599).end()
      }),
    )
    try {
      const r = await fetch(`http://127.0.0.1:${s.port}/x`, { method: 'POST', body: 'raw' })
      assert.equal((await r.json()).body, 'raw')
      assert.match(
        await rawRequest(
          s.port,
          'POST / HTTP/1.1\r\nHost: a/b?\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
        ),
        / 400 /,
      )
      assert.equal((await fetch(`http://127.0.0.1:${s.port}/throw`)).status, 599)
      assert.equal(errors.length, 1)
    } finally {
      await s.close()
    }
  })
})
