import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import * as v from 'valibot'
import { z } from 'zod'
import { issuePath, validateBody } from '../../src/app/validate.ts'

describe('validateBody', () => {
  test('takes the routing key out before a strict schema sees the body', async () => {
    const schema = z.strictObject({ text: z.string() })
    assert.deepEqual(await validateBody(schema, { action: 'send', text: 'hi' }, ['action']), {
      ok: true,
      value: { text: 'hi' },
    })
    // Without taking it out, the strict schema would refuse `action` as an unknown key.
    assert.equal((await validateBody(schema, { action: 'send', text: 'hi' }, [])).ok, false)
  })

  test('reports paths, not messages, for zod and valibot alike', async () => {
    const zs = z.object({ items: z.array(z.object({ n: z.number() })) })
    const vs = v.object({ items: v.array(v.object({ n: v.number() })) })
    const body = { items: [{ n: 1 }, { n: 'two' }] }
    assert.deepEqual(await validateBody(zs, body, []), { ok: false, paths: ['items.1.n'] })
    assert.deepEqual(await validateBody(vs, body, []), { ok: false, paths: ['items.1.n'] })
  })

  test('a synchronous schema gives a synchronous result; an async one a promise', async () => {
    assert.ok(!(validateBody(z.object({}), {}, []) instanceof Promise))
    const slow = z.object({ a: z.string().refine(async (s) => s === 'ok') })
    const pending = validateBody(slow, { a: 'no' }, [])
    assert.ok(pending instanceof Promise)
    assert.deepEqual(await pending, { ok: false, paths: ['a'] })
  })

  test('hostile keys and values never come back in the paths', () => {
    const schema = z.record(z.string().max(3), z.number())
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.string(), { minKeys: 1 }), (dict) => {
        const out = validateBody(schema, dict, [])
        assert.ok(!(out instanceof Promise))
        if (out.ok) return
        assert.ok(out.paths.length <= 16)
        for (const path of out.paths) {
          assert.match(path, /^([A-Za-z0-9_$-]{1,64}|\*)?(\.([A-Za-z0-9_$-]{1,64}|\*))*$/)
        }
        for (const value of Object.values(dict)) {
          if (value.length > 3 && !/^[A-Za-z0-9_$-]+$/.test(value)) {
            assert.ok(!out.paths.some((p) => p.includes(value)), 'a value is echoed')
          }
        }
      }),
    )
  })

  test('at most 16 paths, however many fields fail', () => {
    const shape = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`f${i}`, z.string()]))
    const out = validateBody(z.object(shape), {}, [])
    assert.ok(!(out instanceof Promise) && !out.ok)
    assert.equal(out.paths.length, 16)
  })
})

describe('issuePath', () => {
  test('joins keys and indexes; odd or long segments become *', () => {
    assert.equal(issuePath({ message: '', path: ['a', 0, { key: 'b' }] }), 'a.0.b')
    assert.equal(issuePath({ message: '' }), '')
    assert.equal(
      issuePath({ message: '', path: ['<img src=x>', 'x'.repeat(65), Symbol('s')] }),
      '*.*.*',
    )
  })
})
