import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  forwardableClientHeaders,
  HTTP_TOKEN,
  isGatewayOwnedHeader,
  isHeaderName,
  isHeaderValue,
  isHttpToken,
  joinHeaderValues,
  joinRepeatedHeaders,
  nullRecord,
} from '../../src/events/headers.ts'

describe('header hygiene', () => {
  it('validates names and values', () => {
    assert.equal(isHeaderName('Sec-WebSocket-Key'), true)
    assert.equal(isHeaderName('a b'), false)
    assert.equal(isHeaderName(''), false)
    assert.equal(isHeaderValue('permessage-deflate; x=1'), true)
    assert.equal(isHeaderValue('caf\u00e9'), true)
    for (const bad of ['a\r\nb', 'a\nb', 'a\rb', 'a\u0000b', 'snow\u2603']) {
      assert.equal(isHeaderValue(bad), false, JSON.stringify(bad))
    }
  })

  it('exports the one RFC 9110 token pattern', () => {
    for (const good of ['gatehouse.v1', 'Sec-WebSocket-Key', "!#$%&'*+.^_`|~09azAZ-"]) {
      assert.equal(isHttpToken(good), true, good)
      assert.equal(HTTP_TOKEN.test(good), true, good)
    }
    for (const bad of ['', 'a b', 'a,b', 'a;b', 'a"b', 'caf\u00e9', 'a\tb', '(x)', 'a/b']) {
      assert.equal(isHttpToken(bad), false, JSON.stringify(bad))
    }
  })

  it('folds repeated headers as Fetch joins them: Cookie with "; ", others with ", "', () => {
    assert.equal(joinHeaderValues('cookie', 'a=1', 'b=2'), 'a=1; b=2')
    assert.equal(joinHeaderValues('accept', 'a', 'b'), 'a, b')
    assert.deepEqual(
      joinRepeatedHeaders([
        ['Cookie', 'a=1'],
        ['Origin', 'o'],
        ['cookie', 'b=2'],
        ['X-A', '1'],
        ['x-a', '2'],
      ]),
      [
        ['Cookie', 'a=1; b=2'],
        ['Origin', 'o'],
        ['X-A', '1, 2'],
      ],
    )
    const headers = new Headers()
    for (const [n, v] of [
      ['Cookie', 'a=1'],
      ['cookie', 'b=2'],
      ['X-A', '1'],
      ['x-a', '2'],
    ]) {
      headers.append(n as string, v as string)
    }
    assert.equal(headers.get('cookie'), 'a=1; b=2')
    assert.equal(headers.get('x-a'), '1, 2')
  })

  it('knows the headers the gateway owns', () => {
    for (const name of [
      'host',
      'content-length',
      'x-forwarded-for',
      'x-forwarded-anything',
      'forwarded',
      'x-real-ip',
      'connectionid',
      'x-amzn-trace-id',
      'x-gatehouse-secret',
      'via',
    ]) {
      assert.equal(isGatewayOwnedHeader(name), true, name)
    }
    for (const name of ['cookie', 'origin', 'user-agent', 'x-amz-date', 'sec-websocket-key']) {
      assert.equal(isGatewayOwnedHeader(name), false, name)
    }
  })

  it('keeps casing, order and repeats; drops hop-by-hop, nominated, owned and invalid headers', () => {
    const raw = [
      'Host',
      'gw.test',
      'Connection',
      'Upgrade, X-Drop-Me',
      'Upgrade',
      'websocket',
      'Cookie',
      'a=1',
      'X-Drop-Me',
      'x',
      'cookie',
      'b=2',
      'TE',
      'trailers',
      'X-Forwarded-For',
      '6.6.6.6',
      'Bad Name',
      'v',
      'X-Bad-Value',
      'a\r\nInjected: 1',
      'Origin',
      'https://a.test',
    ]
    assert.deepEqual(forwardableClientHeaders(raw), [
      ['Cookie', 'a=1'],
      ['cookie', 'b=2'],
      ['Origin', 'https://a.test'],
    ])
  })

  it('accepts a lower-cased record too', () => {
    assert.deepEqual(
      forwardableClientHeaders({ cookie: 'a=1', connection: 'upgrade', 'x-gatehouse-secret': 's' }),
      [['cookie', 'a=1']],
    )
  })

  it('makes prototype-free records', () => {
    const record = nullRecord<string>()
    const key = '__proto__'
    record[key] = 'x'
    assert.equal(Object.getPrototypeOf(record), null)
    assert.equal(Object.hasOwn(record, '__proto__'), true)
  })
})
