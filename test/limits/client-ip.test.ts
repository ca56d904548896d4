import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isGatehouseError } from '../../src/errors.ts'
import {
  isTrustedProxy,
  normalizeIp,
  rateKeyForIp,
  resolveClientIp,
} from '../../src/limits/client-ip.ts'

const PROXIES = ['10.0.0.0/8', '192.0.2.1', '2001:db8:ffff::/48']

test('normalizeIp: canonical IPv4/IPv6, mapped IPv4, zone ids dropped, junk null', () => {
  assert.equal(normalizeIp('203.0.113.9'), '203.0.113.9')
  assert.equal(normalizeIp('::ffff:127.0.0.1'), '127.0.0.1')
  assert.equal(normalizeIp('::FFFF:7f00:1'), '127.0.0.1')
  assert.equal(normalizeIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1')
  assert.equal(normalizeIp('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1')
  assert.equal(normalizeIp('2001:0:0:1:0:0:0:1'), '2001:0:0:1::1')
  assert.equal(normalizeIp('2001:0:0:1:0:0:1:1'), '2001::1:0:0:1:1')
  assert.equal(normalizeIp('2001:db8:1:1:1:1:0:1'), '2001:db8:1:1:1:1:0:1')
  assert.equal(normalizeIp('::'), '::')
  assert.equal(normalizeIp('::1'), '::1')
  assert.equal(normalizeIp('fe80::1%eth0'), 'fe80::1')
  for (const junk of [
    '',
    'unknown',
    '01.2.3.4',
    '1.2.3.256',
    ' 1.2.3.4',
    '1.2.3.4:80',
    '[::1]',
    'x'.repeat(500),
  ]) {
    assert.equal(normalizeIp(junk), null, junk)
  }
})

test('resolveClientIp: the peer when it is not a trusted proxy, whatever X-Forwarded-For says', () => {
  assert.equal(resolveClientIp('198.51.100.7', '1.1.1.1', PROXIES), '198.51.100.7')
  assert.equal(resolveClientIp('198.51.100.7', '1.1.1.1', []), '198.51.100.7')
  assert.equal(resolveClientIp('::ffff:198.51.100.7', undefined, []), '198.51.100.7')
})

test('resolveClientIp: from a trusted proxy, X-Forwarded-For counted from the right', () => {
  assert.equal(resolveClientIp('10.0.0.5', 'spoofed, 203.0.113.9', PROXIES), '203.0.113.9')
  assert.equal(
    resolveClientIp('10.0.0.5', '6.6.6.6, 203.0.113.9, 10.1.1.1', PROXIES, 2),
    '203.0.113.9',
  )
  assert.equal(resolveClientIp('::ffff:10.0.0.5', '203.0.113.9', PROXIES), '203.0.113.9')
  assert.equal(resolveClientIp('192.0.2.1', '[2001:db8::7]:443', PROXIES), '2001:db8::7')
  assert.equal(resolveClientIp('192.0.2.1', '203.0.113.9:51234', PROXIES), '203.0.113.9')
  assert.equal(resolveClientIp('2001:db8:ffff:1::2', '203.0.113.9', PROXIES), '203.0.113.9')
  // Fewer entries than hops: the leftmost valid one.
  assert.equal(resolveClientIp('10.0.0.5', '203.0.113.9', PROXIES, 3), '203.0.113.9')
  // A trusted peer without the header is itself the client (e.g. a health check).
  assert.equal(resolveClientIp('10.0.0.5', undefined, PROXIES), '10.0.0.5')
  assert.equal(resolveClientIp('10.0.0.5', '', PROXIES), '10.0.0.5')
})

test('resolveClientIp: an invalid entry within the trusted hops stops the scan at the peer', () => {
  // The attack: the client writes 6.6.6.6, the proxy appends something that is no address;
  // skipping it would resolve to the client-written entry.
  for (const xff of ['6.6.6.6, unknown', '6.6.6.6, ', '6.6.6.6, 203.0.113.9%eth0:443']) {
    assert.equal(resolveClientIp('10.0.0.5', xff, PROXIES), '10.0.0.5', xff)
  }
  // Two trusted hops: an invalid second hop stops there too.
  assert.equal(resolveClientIp('10.0.0.5', '6.6.6.6, junk, 10.1.1.1', PROXIES, 2), '10.0.0.5')
  // Invalid entries left of the trusted hops do not matter.
  assert.equal(resolveClientIp('10.0.0.5', 'junk, 203.0.113.9', PROXIES), '203.0.113.9')
})

test('resolveClientIp: property — an invalid entry within the hops always yields the peer', () => {
  const junk = fc.oneof(
    fc.constantFrom('unknown', '', ' ', '203.0.113.9%eth0:443', '1.2.3.4:99999', '[::1'),
    fc.string({ maxLength: 20 }).filter((s) => !s.includes(',') && /[^0-9a-fA-F:.\s[\]]/.test(s)),
  )
  fc.assert(
    fc.property(
      fc.array(fc.ipV4(), { maxLength: 4 }),
      junk,
      fc.array(fc.ipV4(), { maxLength: 3 }),
      fc.integer({ min: 1, max: 4 }),
      (left, bad, right, extra) => {
        const hops = right.length + extra
        const xff = [...left, bad, ...right].join(', ')
        return resolveClientIp('10.9.9.9', xff, PROXIES, hops) === '10.9.9.9'
      },
    ),
    { numRuns: 1000 },
  )
})

test('resolveClientIp: invalid entries never a shared bucket', () => {
  assert.equal(resolveClientIp('10.0.0.5', 'garbage, , nope', PROXIES), '10.0.0.5')
  const a = resolveClientIp('1.2.3.4', 'garbage', PROXIES)
  const b = resolveClientIp('5.6.7.8', 'garbage', PROXIES)
  assert.notEqual(a, b)
  assert.notEqual(a, '0.0.0.0')
})

test('resolveClientIp: property — an untrusted peer is always its own answer', () => {
  fc.assert(
    fc.property(
      fc.ipV4(),
      fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
      (peer, xff) => {
        fc.pre(!isTrustedProxy(peer, PROXIES))
        return resolveClientIp(peer, xff, PROXIES) === peer
      },
    ),
    { numRuns: 1000 },
  )
})

test('resolveClientIp: property — from a trusted proxy the answer is the rightmost entry the proxy wrote', () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ maxLength: 30 }), { maxLength: 10 }),
      fc.ipV4(),
      (left, real) => {
        const xff = [...left.map((s) => s.replace(/,/g, '')), real].join(', ')
        return resolveClientIp('10.9.9.9', xff, PROXIES) === real
      },
    ),
    { numRuns: 500 },
  )
})

test('resolveClientIp: bad trustedProxies or trustedHops throw ERR_INVALID_OPTION', () => {
  const invalid = (e: unknown) => isGatehouseError(e, 'ERR_INVALID_OPTION')
  for (const list of [['10.0.0.0/33'], ['nope'], ['10.0.0.0/8/1'], ['::/129'], ['10.0.0.0/x']]) {
    assert.throws(() => resolveClientIp('10.0.0.1', undefined, list), invalid, list[0])
  }
  assert.throws(() => resolveClientIp('10.0.0.1', undefined, PROXIES, 0), invalid)
  assert.throws(() => resolveClientIp('10.0.0.1', undefined, PROXIES, 1.5), invalid)
})

test('rateKeyForIp: IPv4 as is, IPv6 by /64, mapped IPv4 normalised, junk hashed apart', () => {
  assert.equal(rateKeyForIp('203.0.113.9'), '203.0.113.9')
  assert.equal(rateKeyForIp('::ffff:203.0.113.9'), '203.0.113.9')
  assert.equal(rateKeyForIp('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64')
  assert.equal(rateKeyForIp('2001:db8:1:2::ffff'), '2001:db8:1:2::/64')
  assert.equal(rateKeyForIp('2001:DB8:0:0:1::'), '2001:db8::/64')
  assert.notEqual(rateKeyForIp('2001:db8:1:3::1'), rateKeyForIp('2001:db8:1:2::1'))
  assert.equal(rateKeyForIp('::1'), '::/64')
  const junk1 = rateKeyForIp('garbage')
  const junk2 = rateKeyForIp('other garbage')
  assert.match(junk1, /^invalid:[0-9a-f]{32}$/)
  assert.notEqual(junk1, junk2)
})

test('rateKeyForIp: property — every address in one /64 shares a key; other prefixes do not', () => {
  const group = fc.integer({ min: 0, max: 0xffff })
  fc.assert(
    fc.property(
      fc.array(group, { minLength: 8, maxLength: 8 }),
      fc.array(group, { minLength: 4, maxLength: 4 }),
      (g, tail) => {
        const a = g.map((x) => x.toString(16)).join(':')
        const b = [...g.slice(0, 4), ...tail].map((x) => x.toString(16)).join(':')
        fc.pre(!(g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0))
        assert.equal(rateKeyForIp(a), rateKeyForIp(b))
        const other = [...g.slice(0, 3), ((g[3] ?? 0) + 1) % 0x10000, ...g.slice(4)]
        assert.notEqual(rateKeyForIp(a), rateKeyForIp(other.map((x) => x.toString(16)).join(':')))
      },
    ),
    { numRuns: 500 },
  )
})

test('rateKeyForIp: property — IPv4 and its mapped IPv6 form share a key', () => {
  fc.assert(
    fc.property(fc.ipV4(), (ip) => rateKeyForIp(ip) === ip && rateKeyForIp(`::ffff:${ip}`) === ip),
  )
})

test('normalizeIp: property — IPv6 text agrees with the WHATWG URL serializer', () => {
  fc.assert(
    fc.property(fc.ipV6(), (ip) => {
      const ours = normalizeIp(ip)
      assert.notEqual(ours, null)
      fc.pre(ours?.includes(':') === true)
      assert.equal(ours, new URL(`http://[${ip}]/`).hostname.slice(1, -1))
    }),
    { numRuns: 1000 },
  )
})
