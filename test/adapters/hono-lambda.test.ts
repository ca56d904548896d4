import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { toHono } from '../../src/adapters/hono.ts'
import { toLambdaHandler } from '../../src/adapters/lambda.ts'
import { toLambdaEvent } from '../../src/events/lambda.ts'
import { appFixture } from '../support/app-fixture.ts'
import { echo } from './support.ts'

describe('adapters/hono and adapters/lambda', () => {
  test('toHono hands the raw Request over', async () => {
    const r = await toHono(echo)({
      req: { raw: new Request('http://h/p', { method: 'POST', body: 'b' }) },
    })
    assert.equal((await r.json()).body, 'b')
  })

  test('toLambdaHandler answers a Lambda proxy event with a Lambda result', async () => {
    const f = await appFixture()
    const handler = toLambdaHandler(f.app)
    const token = await f.issue('alice')
    const ok = await handler(toLambdaEvent(f.connectEvent({ token })))
    assert.equal(ok.statusCode, 200)
    const refused = await handler(toLambdaEvent(f.connectEvent({ token })))
    assert.equal(refused.statusCode, 401)
  })
})
