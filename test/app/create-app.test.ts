import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type LambdaWebSocketEvent, toLambdaEvent } from '../../src/events/lambda.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import { appFixture, countingStore } from '../support/app-fixture.ts'

const BAD_REQUEST = { statusCode: 400, body: '{"message":"Bad Request"}' }

describe('app.lambda', () => {
  test('a well-formed $connect event is answered by the app', async () => {
    const f = await appFixture()
    const event = toLambdaEvent(f.connectEvent({ token: await f.issue() }))
    assert.equal((await f.app.lambda(event)).statusCode, 200)
  })

  test('a malformed event answers 400 Bad Request instead of throwing', async () => {
    const store = countingStore(createMemoryStore())
    const f = await appFixture({}, { store })
    const good = toLambdaEvent(f.connectEvent({ token: await f.issue() }))
    const hits = store.calls.get('hit') // the token issue's own
    const malformed: unknown[] = [
      {},
      null,
      'x',
      { requestContext: null },
      { ...good, requestContext: { ...good.requestContext, connectionId: 'not an id!' } },
      { ...good, requestContext: { ...good.requestContext, routeKey: '' } },
      { ...good, requestContext: { ...good.requestContext, eventType: 'MESSAGE' } },
      { requestContext: { ...good.requestContext, routeKey: '$default', eventType: 'MESSAGE' } },
    ]
    for (const event of malformed) {
      assert.deepEqual(
        await f.app.lambda(event as LambdaWebSocketEvent),
        BAD_REQUEST,
        JSON.stringify(event)?.slice(0, 80),
      )
    }
    assert.equal(store.calls.get('hit'), hits, 'nothing reached the pipeline')
    assert.ok(f.logs.some((line) => line.includes('"event_invalid"')))
  })

  test('a $connect without identity.sourceIp answers 400 before any check runs', async () => {
    const store = countingStore(createMemoryStore())
    const f = await appFixture({}, { store })
    const good = toLambdaEvent(f.connectEvent({ token: await f.issue() }))
    const { sourceIp: _, ...identity } = good.requestContext.identity
    const hits = store.calls.get('hit') // the token issue's own
    for (const requestContext of [
      { ...good.requestContext, identity },
      { ...good.requestContext, identity: { ...identity, sourceIp: '' } },
      { ...good.requestContext, identity: undefined },
    ]) {
      const event = { ...good, requestContext } as unknown as LambdaWebSocketEvent
      assert.deepEqual(await f.app.lambda(event), BAD_REQUEST)
    }
    assert.equal(store.calls.get('hit'), hits, 'not even the rate limit ran')
    assert.equal(store.calls.get('consumeToken') ?? 0, 0, 'the token is not used')
    assert.equal((await f.app.lambda(good)).statusCode, 200, 'and still works')
  })
})
