import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { z } from 'zod'
import { defineHandler } from '../../src/app/define-handler.ts'
import { readRequestId, replyEnvelope, withRequestId } from '../../src/app/reply.ts'
import { appFixture, USERS } from '../support/app-fixture.ts'

const handlers = {
  echo: defineHandler({ schema: z.object({ n: z.number() }), run: (ctx) => ({ n: ctx.body.n }) }),
  quiet: () => undefined,
  boom: () => {
    throw new Error('detail')
  },
  mod_only: { permissions: { allOf: ['chat.moderate'] }, run: () => 'ok' },
}

describe('request ids in replies', () => {
  test('a message with an id gets the envelope; without one, the result as it is', async () => {
    const f = await appFixture({ handlers })
    const id = await f.connect('alice')
    const send = async (body: object) =>
      (await f.app.handle(f.messageEvent(id, JSON.stringify(body)))).body
    assert.equal(
      await send({ action: 'echo', n: 1, rid: 'a-1' }),
      '{"type":"reply","rid":"a-1","data":{"n":1}}',
    )
    assert.equal(await send({ action: 'echo', n: 1 }), '{"n":1}')
    assert.equal(await send({ action: 'quiet', rid: 'a-2' }), '{"type":"reply","rid":"a-2"}')
  })

  test('every error reply after the body is read carries the id', async () => {
    let demoted = false
    const f = await appFixture({
      handlers,
      loadUser: (id) => (demoted ? { id, permissions: [] } : (USERS.get(id) ?? null)),
      // Every message reads the session and the user again, so the demotion below is seen at once.
      sessionCacheTtlMs: 0,
    })
    const alice = await f.connect('alice')
    const send = async (conn: string, body: object) =>
      JSON.parse((await f.app.handle(f.messageEvent(conn, JSON.stringify(body)))).body ?? '{}')
    assert.deepEqual(await send(alice, { action: 'nope', rid: 'r1' }), {
      type: 'error',
      message: 'Forbidden',
      rid: 'r1',
    })
    assert.deepEqual(await send(alice, { action: 'mod_only', rid: 'r2' }), {
      type: 'error',
      message: 'Forbidden',
      rid: 'r2',
    })
    assert.deepEqual(await send(alice, { action: 'boom', rid: 'r3' }), {
      type: 'error',
      message: 'Internal server error',
      rid: 'r3',
    })
    assert.deepEqual(await send(alice, { action: 'echo', n: 'x', rid: 'r4' }), {
      type: 'error',
      message: 'Bad Request',
      paths: ['n'],
      rid: 'r4',
    })
    // alice lost the app's permission: refused before any handler, still with the id.
    demoted = true
    assert.deepEqual(await send(alice, { action: 'echo', n: 1, rid: 'r5' }), {
      type: 'error',
      message: 'Forbidden',
      rid: 'r5',
    })
  })

  test('a malformed id is ignored: no envelope, nothing of it echoed', async () => {
    const f = await appFixture({ handlers })
    const id = await f.connect('alice')
    for (const rid of ['<script>', 'x'.repeat(65), 42, '', null, ['a'], 'a"b']) {
      const r = await f.app.handle(
        f.messageEvent(id, JSON.stringify({ action: 'echo', n: 2, rid })),
      )
      assert.equal(r.body, '{"n":2}', String(rid))
    }
  })

  test('helpers', () => {
    assert.equal(readRequestId({ rid: 'ok_1-x' }), 'ok_1-x')
    assert.equal(readRequestId(Object.create({ rid: 'inherited' })), undefined)
    assert.equal(replyEnvelope('a', 'text'), '{"type":"reply","rid":"a","data":"text"}')
    assert.equal(
      withRequestId('{"type":"error","message":"Forbidden"}', undefined),
      '{"type":"error","message":"Forbidden"}',
    )
  })
})
