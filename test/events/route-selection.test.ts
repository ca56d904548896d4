// biome-ignore-all lint/suspicious/noTemplateCurlyInString: API Gateway template expressions are the input under test
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isGatehouseError } from '../../src/errors.ts'
import {
  compileRouteExpression,
  createRouteSelector,
  selectRoute,
} from '../../src/events/route-selection.ts'

const ROUTES = new Set(['$connect', '$disconnect', '$default', 'sendmessage', 'chat/join', ''])
const NO_DEFAULT = new Set(['$connect', '$disconnect', 'sendmessage'])
const ACTION = '$request.body.action'

describe('selectRoute', () => {
  it('selects a registered route from $request.body.action (§7 item 18)', () => {
    assert.equal(selectRoute('{"action":"sendmessage"}', ACTION, ROUTES), 'sendmessage')
    assert.equal(selectRoute('{"action":"sendmessage"}', undefined, ROUTES), 'sendmessage')
  })

  it('matches exactly and case-sensitively', () => {
    assert.equal(selectRoute('{"action":"SendMessage"}', ACTION, ROUTES), '$default')
    assert.equal(selectRoute('{"action":"sendmessage "}', ACTION, ROUTES), '$default')
    assert.equal(selectRoute('{"action":"sendmessag"}', ACTION, ROUTES), '$default')
  })

  it('falls back to $default for non-JSON or unmatched bodies (§7 item 19)', () => {
    assert.equal(selectRoute('hello', ACTION, ROUTES), '$default')
    assert.equal(selectRoute('{"action":"nope"}', ACTION, ROUTES), '$default')
    assert.equal(selectRoute(undefined, ACTION, ROUTES), '$default')
  })

  it('answers null without $default, so the caller sends Forbidden (§7 item 20)', () => {
    assert.equal(selectRoute('hello', ACTION, NO_DEFAULT), null)
    assert.equal(selectRoute('{"action":"nope"}', ACTION, NO_DEFAULT), null)
    assert.equal(selectRoute('{"action":"sendmessage"}', ACTION, NO_DEFAULT), 'sendmessage')
  })

  it('resolves a missing key or a non-object body to the empty string', () => {
    const withEmpty = new Set(['', 'x'])
    assert.equal(selectRoute('{"other":1}', ACTION, withEmpty), '')
    assert.equal(selectRoute('"action"', ACTION, withEmpty), '')
    assert.equal(selectRoute('42', ACTION, withEmpty), '')
  })

  it('stringifies numbers, booleans and arrays', () => {
    const keys = new Set(['1', 'true', '[a, b]', '[1, [2, 3]]', '{k=v}'])
    assert.equal(selectRoute('{"action":1}', ACTION, keys), '1')
    assert.equal(selectRoute('{"action":true}', ACTION, keys), 'true')
    assert.equal(selectRoute('{"action":["a","b"]}', ACTION, keys), '[a, b]')
    assert.equal(selectRoute('{"action":[1,[2,3]]}', ACTION, keys), '[1, [2, 3]]')
    assert.equal(selectRoute('{"action":{"k":"v"}}', ACTION, keys), '{k=v}')
  })

  it('evaluates nested paths and ${…} templates', () => {
    const body =
      '{"service":"chat","action":"join","meta":{"kind":"sendmessage"},"list":["a","sendmessage"]}'
    assert.equal(
      selectRoute(body, '${request.body.service}/${request.body.action}', ROUTES),
      'chat/join',
    )
    assert.equal(selectRoute(body, '$request.body.meta.kind', ROUTES), 'sendmessage')
    assert.equal(selectRoute(body, "$request.body['meta'].kind", ROUTES), 'sendmessage')
    assert.equal(selectRoute(body, '$request.body.list[1]', ROUTES), 'sendmessage')
    assert.equal(selectRoute(body, '$request.body.list[9]', ROUTES), '')
    assert.equal(selectRoute(body, "${request.body['service']}/join", ROUTES), 'chat/join')
  })

  it('supports static expressions and the \\$ escape', () => {
    assert.equal(selectRoute('{"action":"sendmessage"}', '\\$default', ROUTES), '$default')
    assert.equal(selectRoute('anything', 'sendmessage', ROUTES), '$default') // non-JSON wins
    assert.equal(selectRoute('{}', 'sendmessage', ROUTES), 'sendmessage')
  })

  it('never selects $connect or $disconnect from a message', () => {
    assert.equal(selectRoute('{"action":"$connect"}', ACTION, ROUTES), '$default')
    assert.equal(selectRoute('{"action":"$disconnect"}', ACTION, NO_DEFAULT), null)
  })

  it('is not fooled by prototype keys', () => {
    const keys = new Set([
      '{}',
      '[object Object]',
      'function Object() { [native code] }',
      '$default',
    ])
    for (const path of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      assert.equal(selectRoute('{"a":1}', `$request.body.${path}`, keys), '$default')
      assert.equal(selectRoute('{"a":{}}', `$request.body.a.${path}`, keys), '$default')
    }
    assert.equal(selectRoute('{"a":[1,2]}', '$request.body.a.length', new Set(['2'])), null)
    // An own __proto__ key from JSON is an ordinary key.
    assert.equal(
      selectRoute('{"__proto__":"sendmessage"}', '$request.body.__proto__', ROUTES),
      'sendmessage',
    )
    assert.equal(({} as Record<string, unknown>).sendmessage, undefined)
  })

  it('never returns an unregistered key, whatever the body (property)', () => {
    const registered = new Set(['$connect', '$disconnect', 'a', 'b', 'toString', '__proto__'])
    const withDefault = new Set([...registered, '$default'])
    const body = fc.oneof(
      fc.string(),
      fc.json(),
      fc
        .record({
          action: fc.oneof(fc.string(), fc.constantFrom('a', 'b', '$connect', '__proto__')),
        })
        .map((o) => JSON.stringify(o)),
    )
    fc.assert(
      fc.property(body, (text) => {
        for (const keys of [registered, withDefault]) {
          const route = selectRoute(text, ACTION, keys)
          assert.ok(route === null || keys.has(route), `unregistered ${route}`)
          assert.notEqual(route, '$connect')
          assert.notEqual(route, '$disconnect')
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('survives deeply nested bodies', () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`
    assert.equal(selectRoute(`{"action":${deep}}`, ACTION, ROUTES), '$default')
  })
})

describe('compileRouteExpression', () => {
  it('returns undefined for non-JSON and the value otherwise', () => {
    const evaluate = compileRouteExpression(ACTION)
    assert.equal(evaluate('not json'), undefined)
    assert.equal(evaluate('{"action":"x"}'), 'x')
  })

  it('rejects expressions it cannot parse', () => {
    for (const bad of [
      '',
      '${request.body.a',
      '${request.header.a}',
      '$request.body.',
      'a$b',
      '$request.body.a..b',
    ]) {
      assert.throws(
        () => compileRouteExpression(bad),
        (err: unknown) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
        bad,
      )
    }
  })
})

describe('createRouteSelector', () => {
  it('agrees with selectRoute for any body and key set (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.json()),
        fc.uniqueArray(fc.constantFrom('$default', 'chat', 'ping', '$connect'), {
          maxLength: 4,
        }),
        (body, keys) => {
          const set = new Set(keys)
          assert.equal(
            createRouteSelector('$request.body.action', set)(body),
            selectRoute(body, '$request.body.action', set),
          )
        },
      ),
    )
  })

  it('does not parse the body when only $default (or nothing) can be selected', () => {
    const parse = JSON.parse
    let calls = 0
    JSON.parse = ((text: string) => {
      calls++
      return parse(text)
    }) as typeof JSON.parse
    try {
      assert.equal(
        createRouteSelector('$request.body.action', new Set(['$default']))('{}'),
        '$default',
      )
      assert.equal(createRouteSelector('$request.body.action', new Set<string>())('{}'), null)
      assert.equal(calls, 0)
      assert.equal(
        createRouteSelector('$request.body.action', new Set(['$default', 'a']))('{"action":"a"}'),
        'a',
      )
      assert.equal(calls, 1)
    } finally {
      JSON.parse = parse
    }
  })

  it('fails on a malformed expression when built', () => {
    assert.throws(
      () => createRouteSelector('$request.body.', new Set(['$default'])),
      (err) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
    )
  })
})
