import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { MAX_COOKIE_HEADER_LENGTH, MAX_COOKIE_PAIRS, parseCookies } from '../../src/http/cookies.ts'

test('parseCookies: names and values, trimmed, quotes removed, no decoding', () => {
  const c = parseCookies('sessionid=abc; csrftoken="q1w2" ;  theme = dark;enc=a%3Db')
  assert.equal(c.get('sessionid'), 'abc')
  assert.equal(c.get('csrftoken'), 'q1w2')
  assert.equal(c.get('theme'), 'dark')
  assert.equal(c.get('enc'), 'a%3Db')
  assert.equal(c.size, 4)
})

test('parseCookies: empty and missing headers, pairs without =, empty values', () => {
  assert.equal(parseCookies(null).size, 0)
  assert.equal(parseCookies(undefined).size, 0)
  assert.equal(parseCookies('').size, 0)
  const c = parseCookies('flag; a=; =b; b=1=2')
  assert.equal(c.get('a'), '')
  assert.equal(c.get('b'), '1=2')
  assert.equal(c.has('flag'), false)
  assert.equal(c.has(''), false)
})

test('parseCookies: first value of a repeated name wins', () => {
  assert.equal(parseCookies('csrftoken=first; csrftoken=second').get('csrftoken'), 'first')
})

test('parseCookies: invalid names are skipped', () => {
  const c = parseCookies('a b=1; (x)=2; ok=3; a\u0000=4')
  assert.deepEqual([...c.keys()], ['ok'])
})

test('parseCookies: prototype names are plain Map keys, Object.prototype untouched', () => {
  const c = parseCookies('__proto__=x; constructor=y; toString=z')
  assert.equal(c.get('__proto__'), 'x')
  assert.equal(c.get('constructor'), 'y')
  assert.equal(c.get('toString'), 'z')
  assert.equal(c.get('hasOwnProperty'), undefined)
  assert.equal(({} as Record<string, unknown>).x, undefined)
  assert.equal(Object.getPrototypeOf(c), Map.prototype)
})

test('parseCookies: bounded — oversized header is empty, pairs past the cap are ignored', () => {
  const big = `csrftoken=a; pad=${'x'.repeat(MAX_COOKIE_HEADER_LENGTH)}`
  assert.equal(parseCookies(big).size, 0)
  const many = Array.from({ length: MAX_COOKIE_PAIRS + 50 }, (_, i) => `c${i}=${i}`).join('; ')
  const c = parseCookies(many)
  assert.equal(c.size, MAX_COOKIE_PAIRS)
  assert.equal(c.has(`c${MAX_COOKIE_PAIRS}`), false)
})

test('parseCookies: property — never throws, bounded size, values are substrings of the header', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 400 }), (header) => {
      const c = parseCookies(header)
      assert.ok(c.size <= MAX_COOKIE_PAIRS)
      for (const [name, value] of c) {
        assert.ok(header.includes(name))
        assert.ok(header.includes(value))
      }
    }),
    { numRuns: 1000 },
  )
})
