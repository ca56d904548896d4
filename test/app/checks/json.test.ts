import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { parseMessage, withinDepth } from '../../../src/app/checks/json.ts'
import { isGatehouseError } from '../../../src/errors.ts'

/** Every object reachable from `value` has Object.prototype (or is an array) and no own __proto__. */
function assertClean(value: unknown, depth = 0): void {
  assert.ok(depth < 100)
  if (typeof value !== 'object' || value === null) return
  if (Array.isArray(value)) {
    for (const v of value) assertClean(v, depth + 1)
    return
  }
  assert.equal(Object.getPrototypeOf(value), Object.prototype)
  assert.equal(Object.hasOwn(value, '__proto__'), false)
  const ctor = (value as Record<string, unknown>).constructor
  if (Object.hasOwn(value, 'constructor') && typeof ctor === 'object' && ctor !== null) {
    assert.equal(Object.hasOwn(ctor, 'prototype'), false)
  }
  for (const v of Object.values(value)) assertClean(v, depth + 1)
}

test('parseMessage: plain objects only', () => {
  assert.deepEqual(parseMessage('{"action":"send_message","text":"hi"}'), {
    action: 'send_message',
    text: 'hi',
  })
  for (const body of ['[]', '[1]', '"x"', '1', 'null', 'true', '', '{', 'not json', '{"a":1}x']) {
    assert.equal(parseMessage(body), null, body)
  }
  assert.equal(parseMessage(undefined as unknown as string), null)
  assert.equal(parseMessage(42 as unknown as string), null)
})

test('parseMessage: depth capped before parsing, brackets in strings ignored', () => {
  assert.equal(parseMessage(`${'['.repeat(5000)}${']'.repeat(5000)}`), null)
  assert.equal(parseMessage(`{"a":${'['.repeat(5000)}`), null)
  assert.equal(parseMessage(`${'{"a":'.repeat(33)}1${'}'.repeat(33)}`), null)
  assert.notEqual(parseMessage(`${'{"a":'.repeat(32)}1${'}'.repeat(32)}`), null)
  assert.notEqual(parseMessage(`{"s":"${'['.repeat(100)}\\"${'{'.repeat(100)}"}`), null)
  assert.equal(parseMessage('{"a":{"b":1}}', 1), null)
  assert.notEqual(parseMessage('{"a":{"b":1}}', 2), null)
  assert.equal(withinDepth('"[[[["', 1), true)
  assert.equal(withinDepth('[[', 1), false)
})

test('parseMessage: __proto__ and constructor.prototype are removed at every level', () => {
  const cases = [
    '{"__proto__":{"isAdmin":true}}',
    '{"a":{"__proto__":{"isAdmin":true}}}',
    '{"\\u005f_proto__":{"isAdmin":true}}',
    '{"__pro\\u0074o__":{"isAdmin":true}}',
    '{"constructor":{"prototype":{"isAdmin":true}}}',
    '{"a":[{"constructor":{"prototype":{"isAdmin":true}}}]}',
    '{"\\u0063onstructor":{"prototype":{"isAdmin":true}}}',
  ]
  for (const body of cases) {
    const parsed = parseMessage(body)
    assert.ok(parsed !== null, body)
    assertClean(parsed)
    const target = Object.assign({}, parsed)
    assert.equal((target as Record<string, unknown>).isAdmin, undefined, body)
    assert.equal(Object.getPrototypeOf(target), Object.prototype)
  }
  assert.equal(({} as Record<string, unknown>).isAdmin, undefined)
  // A harmless constructor value stays (it is just data).
  assert.deepEqual(parseMessage('{"constructor":"x","a":1}'), { constructor: 'x', a: 1 })
})

test('parseMessage: an invalid maxDepth throws ERR_INVALID_OPTION', () => {
  for (const d of [0, -1, 1.5, Number.NaN]) {
    assert.throws(
      () => parseMessage('{}', d),
      (e) => isGatehouseError(e, 'ERR_INVALID_OPTION'),
    )
  }
})

const hostileKey = fc.constantFrom(
  '__proto__',
  '\\u005f_proto__',
  'constructor',
  'prototype',
  'isAdmin',
  'a',
  'toString',
)
const { json } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom('1', '"x"', 'null', 'true', '"[{"'),
    fc.array(tie('json'), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
    fc
      .array(fc.tuple(hostileKey, tie('json')), { maxLength: 3 })
      .map((entries) => `{${entries.map(([k, v]) => `"${k}":${v}`).join(',')}}`),
  ),
}))

test('parseMessage: property — never throws; results are clean plain objects', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.json(),
        json as fc.Arbitrary<string>,
        fc.integer({ min: 1, max: 6000 }).map((n) => '['.repeat(n)),
        fc.integer({ min: 1, max: 6000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
      ),
      (body) => {
        const parsed = parseMessage(body)
        if (parsed === null) return
        assert.equal(typeof parsed, 'object')
        assert.equal(Array.isArray(parsed), false)
        assertClean(parsed)
        assert.doesNotThrow(() => JSON.stringify(parsed))
      },
    ),
    { numRuns: 3000 },
  )
  assert.equal(({} as Record<string, unknown>).isAdmin, undefined)
})
