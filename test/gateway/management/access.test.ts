import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isGatehouseError } from '../../../src/errors.ts'
import { createHostCheck, isLoopbackAddress } from '../../../src/gateway/management/access.ts'

/** Just what the host check reads of a request. */
function fakeRequest(hosts: string[] | undefined, localAddress = '127.0.0.1'): IncomingMessage {
  return {
    headersDistinct: hosts === undefined ? {} : { host: hosts },
    socket: { localAddress },
  } as unknown as IncomingMessage
}

describe('isLoopbackAddress', () => {
  it('is true for 127.0.0.0/8, ::1 and IPv4-mapped 127.x only', () => {
    for (const a of ['127.0.0.1', '127.255.255.254', '127.0.0.0', '::1', '::ffff:127.0.0.1']) {
      assert.equal(isLoopbackAddress(a), true, a)
    }
    for (const a of [
      undefined,
      '',
      '128.0.0.1',
      '10.0.0.1',
      '::ffff:10.0.0.1',
      '::2',
      '0.0.0.0',
      '::',
      '127.0.0.256',
      '127.0.0',
      '127.0.0.1.evil',
      'localhost',
    ]) {
      assert.equal(isLoopbackAddress(a), false, String(a))
    }
  })

  it('no IPv4 address outside 127/8 is loopback', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => isLoopbackAddress(ip) === ip.startsWith('127.')),
      { numRuns: 500 },
    )
  })
})

describe('createHostCheck', () => {
  it('by default accepts localhost, loopback literals and the arrival address, any port', () => {
    const allowed = createHostCheck(undefined)
    for (const h of [
      'localhost',
      'LOCALHOST:3002',
      '127.0.0.1',
      '127.0.0.1:3002',
      '127.1.2.3:80',
      '[::1]',
      '[::1]:3002',
    ]) {
      assert.equal(allowed(fakeRequest([h])), true, h)
    }
    assert.equal(allowed(fakeRequest(['10.1.2.3:3002'], '10.1.2.3')), true, 'bound address')
    assert.equal(allowed(fakeRequest(['10.1.2.3'], '::ffff:10.1.2.3')), true, 'mapped bound')
  })

  it('by default refuses other names (DNS rebinding), several or no Host, malformed ones', () => {
    const allowed = createHostCheck(undefined)
    for (const hosts of [
      ['evil.example'],
      ['evil.example:3002'],
      ['localhost.evil.example'],
      ['127.0.0.1.nip.io'],
      ['10.1.2.3:3002'],
      ['localhost', 'localhost'],
      [''],
      ['localhost:'],
      ['localhost:abc'],
      ['[::1'],
      ['::1'],
      ['local host'],
    ]) {
      assert.equal(allowed(fakeRequest(hosts)), false, JSON.stringify(hosts))
    }
    assert.equal(allowed(fakeRequest(undefined)), false, 'no Host')
  })

  it('allowedHosts replaces the default list', () => {
    const allowed = createHostCheck(['Gateway.Internal', '::1', '[fd00::7]'])
    assert.equal(allowed(fakeRequest(['gateway.internal:3002'])), true)
    assert.equal(allowed(fakeRequest(['[::1]:3002'])), true)
    assert.equal(allowed(fakeRequest(['[FD00::7]'])), true)
    assert.equal(allowed(fakeRequest(['localhost:3002'])), false)
    assert.equal(allowed(fakeRequest(['127.0.0.1'])), false)
  })

  it('refuses an empty list or entries with a port', () => {
    for (const bad of [[], ['host:3002'], [''], ['[::1]:80'], ['a b']]) {
      assert.throws(
        () => createHostCheck(bad),
        (err) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
        JSON.stringify(bad),
      )
    }
  })

  it('a random Host passes the default check only when it names a loopback host', () => {
    const allowed = createHostCheck(undefined)
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (h) => {
        if (!allowed(fakeRequest([h]))) return true
        const name = h.toLowerCase().replace(/:\d{1,5}$/, '')
        return name === 'localhost' || name === '[::1]' || /^127\.[\d.]+$/.test(name)
      }),
      { numRuns: 1000 },
    )
  })
})
