import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import * as v from 'valibot'
import { handlers } from '../../examples/typed-handlers/handlers.ts'
import { defineHandler } from '../../src/app/define-handler.ts'
import type { MessageContext } from '../../src/app/types.ts'
import { GatehouseError } from '../../src/errors.ts'
import { appFixture } from '../support/app-fixture.ts'

function spied() {
  const bodies: unknown[] = []
  const example = handlers.send_message
  return {
    bodies,
    handlers: {
      send_message: {
        ...example,
        run: (ctx: Parameters<typeof example.run>[0]) => {
          bodies.push(ctx.body)
          return example.run(ctx)
        },
      },
      note: defineHandler({
        schema: v.object({ title: v.pipe(v.string(), v.maxLength(20)), tags: v.array(v.string()) }),
        run: (ctx) => {
          bodies.push(ctx.body)
          return { type: 'noted', tags: ctx.body.tags.length }
        },
      }),
    },
  }
}

const BAD_REQUEST = (paths: string[]) =>
  JSON.stringify({ type: 'error', message: 'Bad Request', paths })

describe('handlers with a schema', () => {
  test('a valid body reaches run as the schema output (defaults applied, action taken out)', async () => {
    const s = spied()
    const f = await appFixture({ handlers: s.handlers })
    const id = await f.connect('alice')
    const r = await f.app.handle(f.messageEvent(id, '{"action":"send_message","text":"hi"}'))
    assert.equal(r.status, 200)
    assert.deepEqual(JSON.parse(r.body!), { type: 'sent', length: 2 })
    assert.deepEqual(s.bodies, [{ text: 'hi', priority: 'low' }])
  })

  test('every schema rule that fails gets the one validation reply, and run never runs', async () => {
    const s = spied()
    const f = await appFixture({ handlers: s.handlers })
    const id = await f.connect('alice')
    const long = 'L'.repeat(501)
    const cases: [string, object, string[]][] = [
      ['missing field', { action: 'send_message' }, ['text']],
      ['wrong type', { action: 'send_message', text: 12345 }, ['text']],
      ['too short', { action: 'send_message', text: '' }, ['text']],
      ['too long', { action: 'send_message', text: long }, ['text']],
      [
        'value not allowed',
        { action: 'send_message', text: 'a', priority: 'urgent-secret' },
        ['priority'],
      ],
      ['unknown key (strict)', { action: 'send_message', text: 'a', isAdmin: 'yes-secret' }, ['']],
      ['valibot: too long', { action: 'note', title: 'T'.repeat(21), tags: [] }, ['title']],
      ['valibot: nested type', { action: 'note', title: 't', tags: ['ok', 42] }, ['tags.1']],
      ['`handler` key routes too', { handler: 'note', title: 't' }, ['tags']],
    ]
    for (const [what, body, paths] of cases) {
      const text = JSON.stringify(body)
      const r = await f.app.handle(f.messageEvent(id, text))
      assert.equal(r.status, 400, what)
      assert.equal(r.body, BAD_REQUEST(paths), what)
      for (const value of ['12345', long, 'urgent-secret', 'yes-secret', 'T'.repeat(21)]) {
        assert.ok(!r.body?.includes(value), `${what}: the reply echoes the input`)
      }
    }
    assert.deepEqual(s.bodies, [], 'no handler ran')
    const rejected = f.logs.map((l) => JSON.parse(l)).filter((l) => l.reason === 'body_invalid')
    assert.equal(rejected.length, cases.length)
    assert.ok(
      rejected.every((l) => !JSON.stringify(l).includes('yes-secret')),
      'log has no values',
    )
  })

  test('handlers without a schema still get the raw parsed body', async () => {
    let seen: MessageContext['body'] | undefined
    const f = await appFixture({
      handlers: {
        raw: (ctx) => {
          seen = ctx.body
        },
      },
    })
    const id = await f.connect('alice')
    await f.app.handle(f.messageEvent(id, '{"action":"raw","x":1}'))
    assert.deepEqual(seen, { action: 'raw', x: 1 })
  })

  test('a schema that throws is a handler failure (500), and run does not run', async () => {
    let ran = false
    const throwing = {
      '~standard': {
        version: 1 as const,
        vendor: 'test',
        validate: () => {
          throw new Error('schema bug')
        },
      },
    }
    const f = await appFixture({
      handlers: {
        x: {
          schema: throwing,
          run: () => {
            ran = true
          },
        },
      },
    })
    const id = await f.connect('alice')
    const r = await f.app.handle(f.messageEvent(id, '{"action":"x"}'))
    assert.equal(r.status, 500)
    assert.equal(ran, false)
  })

  test('a schema that is not a Standard Schema is refused at construction', async () => {
    await assert.rejects(
      appFixture({ handlers: { x: { schema: { parse() {} } as never, run: () => {} } } }),
      (err: unknown) => err instanceof GatehouseError && err.code === 'ERR_HANDLER_INVALID',
    )
  })
})
