import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { toFastify } from '../../src/adapters/fastify.ts'
import { echo, serve } from './support.ts'

describe('adapters/fastify', () => {
  const hijacked: boolean[] = []
  const route = toFastify(echo, { maxBodyBytes: 1024 })
  async function start() {
    return serve((req, res) => {
      // A hijacking Fastify route with the pass-through parser: body is the payload stream.
      void route({ raw: req, body: req }, { raw: res, hijack: () => void hijacked.push(true) })
    })
  }

  test('a request reaches the handler and the reply is written after hijack()', async () => {
    const s = await start()
    try {
      const r = await fetch(`http://127.0.0.1:${s.port}/api/ws-token/`, {
        method: 'POST',
        body: 'p',
      })
      assert.equal(r.status, 201)
      assert.equal((await r.json()).body, 'p')
      assert.ok(hijacked.length > 0)
    } finally {
      await s.close()
    }
  })

  test('an oversized body answers 413 and a throwing handler 500: the client never hangs', async () => {
    const s = await start()
    try {
      assert.equal(
        (await fetch(`http://127.0.0.1:${s.port}/`, { method: 'POST', body: 'x'.repeat(4096) }))
          .status,
        413,
      )
      const r = await fetch(`http://127.0.0.1:${s.port}/throw`, {
        signal: AbortSignal.timeout(5000),
      })
      assert.equal(r.status, 500)
    } finally {
      await s.close()
    }
  })
})
