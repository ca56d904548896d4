import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import fc from 'fast-check'
import { manualClock } from '../../src/clock.ts'
import { isGatehouseError } from '../../src/errors.ts'
import type { GatewayEvent, SignedRequest } from '../../src/events/event.ts'
import {
  createSignatureVerifier,
  hashSignedHeaders,
  isUnsignedHeader,
  type SignedParts,
  signEvent,
  staticSecretValue,
  verifyStaticSecret,
} from '../../src/events/signing.ts'
import { connectEvent, messageEvent, SECRET, T0 } from './fixtures.ts'

const run = promisify(execFile)

const HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['Host', 'app.example.test'],
  ['Cookie', 'sessionid=abc'],
  ['X-Forwarded-For', '203.0.113.7'],
]

/** What the app decodes of the HTTP request: method, path, query, header hash. */
function requestOf(overrides: Partial<SignedRequest> = {}): SignedRequest {
  return {
    method: 'POST',
    path: '/ws/default',
    rawQuery: '',
    headersHash: hashSignedHeaders(HEADERS),
    ...overrides,
  }
}

/** The event as the app decodes it from a call the gateway signed at `at`. */
function signed(
  event: GatewayEvent,
  at: number,
  secret = SECRET,
  request: SignedRequest = requestOf(),
): GatewayEvent {
  const { timestamp, signature } = signEvent(
    {
      timestamp: at,
      requestId: event.requestId,
      connectionId: event.connectionId,
      routeKey: event.routeKey,
      sourceIp: event.sourceIp,
      ...request,
      body: event.body,
    },
    secret,
  )
  return { ...event, transport: { via: 'http', signature, timestamp, request } }
}

/** Parts for signEvent with one field changed. */
function parts(overrides: Partial<SignedParts> = {}): SignedParts {
  return {
    requestId: 'r',
    connectionId: 'c=',
    routeKey: '$default',
    sourceIp: '',
    method: 'POST',
    path: '/ws/default',
    rawQuery: '',
    headersHash: hashSignedHeaders([]),
    body: '',
    ...overrides,
  }
}

function withTransport(
  event: GatewayEvent,
  patch: { signature?: string; timestamp?: string; request?: SignedRequest | undefined },
) {
  const t = event.transport.via === 'http' ? event.transport : { via: 'http' as const }
  return { ...event, transport: { ...t, ...patch } } as GatewayEvent
}

describe('signEvent / createSignatureVerifier', () => {
  it('accepts a fresh signed call once', () => {
    const clock = manualClock(T0)
    const verifier = createSignatureVerifier({ secret: SECRET, clock })
    const event = signed(messageEvent(), T0)
    assert.equal(verifier.verify(event), 'ok')
    assert.equal(verifier.size, 1)
  })

  it('signs with lower-case hex and a decimal ms timestamp', () => {
    const sig = signEvent(parts({ timestamp: T0, requestId: 'r1', connectionId: 'c1=' }), SECRET)
    assert.equal(sig.timestamp, String(T0))
    assert.match(sig.signature, /^[0-9a-f]{64}$/)
  })

  it('reports a call without signature or timestamp as missing', () => {
    const verifier = createSignatureVerifier({ secret: SECRET, clock: manualClock(T0) })
    assert.equal(verifier.verify(messageEvent({ transport: { via: 'http' } })), 'missing')
    const event = signed(messageEvent(), T0)
    assert.equal(verifier.verify(withTransport(event, { signature: '' })), 'missing')
    assert.equal(verifier.verify(withTransport(event, { timestamp: '' })), 'missing')
    assert.equal(verifier.verify(messageEvent({ transport: { via: 'in-process' } })), 'missing')
    assert.equal(verifier.verify(messageEvent({ transport: { via: 'lambda' } })), 'missing')
  })

  it('reports a tampered timestamp, connection id, route, body, request id or source IP as bad', () => {
    const base = signed(messageEvent(), T0)
    const cases: GatewayEvent[] = [
      withTransport(base, { timestamp: String(T0 + 1) }),
      { ...base, connectionId: 'R1kmxc2VNjMCFIB=' },
      { ...base, routeKey: 'sendmessage' },
      { ...base, body: '{"action":"ping","n":2}' },
      { ...base, body: undefined },
      { ...base, requestId: 'other-request-id' },
      { ...base, sourceIp: '203.0.113.8' },
      { ...base, sourceIp: '' },
    ]
    for (const event of cases) {
      const verifier = createSignatureVerifier({ secret: SECRET, clock: manualClock(T0) })
      assert.equal(verifier.verify(event), 'bad')
    }
  })

  it('reports a changed method, path, query or header set as bad', () => {
    const base = signed(connectEvent(), T0, SECRET, requestOf({ rawQuery: 'ws_token=t&channel=a' }))
    const request = base.transport.via === 'http' ? base.transport.request : undefined
    assert.ok(request)
    const cases: Array<SignedRequest | undefined> = [
      { ...request, method: 'PUT' },
      { ...request, path: '/other/default' },
      { ...request, rawQuery: 'ws_token=t&channel=b' },
      { ...request, rawQuery: 'ws_token=u&channel=a' },
      { ...request, rawQuery: '' },
      { ...request, headersHash: hashSignedHeaders([...HEADERS, ['Origin', 'https://evil']]) },
      { ...request, headersHash: hashSignedHeaders(HEADERS.slice(1)) },
      // A signed event decoded without its request facts cannot be checked.
      undefined,
    ]
    const verifier = createSignatureVerifier({ secret: SECRET, clock: manualClock(T0) })
    for (const changed of cases) {
      assert.equal(verifier.verify(withTransport(base, { request: changed })), 'bad')
    }
    assert.equal(verifier.verify(base), 'ok')
  })

  it('rejects any single-field tampering (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 200 }),
        fc.string({ maxLength: 200 }),
        fc.constantFrom('body', 'routeKey', 'timestamp', 'query', 'path'),
        (body, other, field) => {
          fc.pre(body !== other)
          const query = new URLSearchParams({ ws_token: body }).toString()
          const base = signed(messageEvent({ body }), T0, SECRET, requestOf({ rawQuery: query }))
          const request = requestOf({ rawQuery: query })
          const verifier = createSignatureVerifier({ secret: SECRET, clock: manualClock(T0) })
          let event: GatewayEvent
          if (field === 'body') event = { ...base, body: other }
          else if (field === 'routeKey') event = { ...base, routeKey: `r${other}` }
          else if (field === 'query') {
            const changed = new URLSearchParams({ ws_token: other }).toString()
            event = withTransport(base, { request: { ...request, rawQuery: changed } })
          } else if (field === 'path') {
            event = withTransport(base, {
              request: { ...request, path: `/ws/${encodeURIComponent(other)}x` },
            })
          } else event = withTransport(base, { timestamp: String(T0 - 1 - (other.length % 1000)) })
          assert.equal(verifier.verify(event), 'bad')
        },
      ),
      { numRuns: 200 },
    )
  })

  it('reports a call signed with another secret as bad', () => {
    const verifier = createSignatureVerifier({ secret: SECRET, clock: manualClock(T0) })
    assert.equal(verifier.verify(signed(messageEvent(), T0, 'another-secret-0123456789')), 'bad')
  })

  it('reports an old or future timestamp as stale', () => {
    const clock = manualClock(T0)
    const verifier = createSignatureVerifier({ secret: SECRET, clock, windowMs: 30_000 })
    assert.equal(verifier.verify(signed(messageEvent(), T0 - 30_001)), 'stale')
    assert.equal(verifier.verify(signed(messageEvent(), T0 + 30_001)), 'stale')
    assert.equal(verifier.verify(signed(messageEvent(), T0 - 30_000)), 'ok')
  })

  it('becomes stale when the clock moves past the window', () => {
    const clock = manualClock(T0)
    const verifier = createSignatureVerifier({ secret: SECRET, clock })
    const event = signed(messageEvent(), T0)
    clock.advance(30_001)
    assert.equal(verifier.verify(event), 'stale')
  })

  it('reports the same signed call twice as replayed', () => {
    const clock = manualClock(T0)
    const verifier = createSignatureVerifier({ secret: SECRET, clock })
    const event = signed(messageEvent(), T0)
    assert.equal(verifier.verify(event), 'ok')
    clock.advance(5_000)
    assert.equal(verifier.verify(event), 'replayed')
  })

  it('accepts two identical frames in the same millisecond (the request id is a nonce)', () => {
    const verifier = createSignatureVerifier({ secret: SECRET, clock: manualClock(T0) })
    assert.equal(verifier.verify(signed(messageEvent({ requestId: 'req-1' }), T0)), 'ok')
    assert.equal(verifier.verify(signed(messageEvent({ requestId: 'req-2' }), T0)), 'ok')
  })

  it('never throws on a wrong-length or malformed signature', () => {
    const verifier = createSignatureVerifier({ secret: SECRET, clock: manualClock(T0) })
    const base = signed(messageEvent(), T0)
    const sig = base.transport.via === 'http' ? (base.transport.signature ?? '') : ''
    for (const bad of [
      sig.slice(0, 63),
      `${sig}0`,
      `${sig}00`,
      sig.toUpperCase(),
      'zz',
      'é'.repeat(64),
    ]) {
      assert.equal(verifier.verify(withTransport(base, { signature: bad })), 'bad')
    }
    fc.assert(
      fc.property(fc.string(), fc.string(), (signature, timestamp) => {
        const verdict = verifier.verify(withTransport(base, { signature, timestamp }))
        assert.ok(['bad', 'missing', 'stale'].includes(verdict), verdict)
      }),
      { numRuns: 300 },
    )
  })

  it('does not remember rejected calls (forgeries cannot fill the cache)', () => {
    const verifier = createSignatureVerifier({ secret: SECRET, clock: manualClock(T0) })
    const base = signed(messageEvent(), T0)
    for (let i = 0; i < 50; i++) {
      verifier.verify(withTransport(base, { signature: i.toString(16).padStart(64, '0') }))
    }
    assert.equal(verifier.size, 0)
  })

  it('a full cache forgets its oldest signature and refuses anything signed before it, never everyone', () => {
    const clock = manualClock(T0)
    const verifier = createSignatureVerifier({ secret: SECRET, clock, replayCacheSize: 3 })
    const first = signed(messageEvent({ requestId: 'r0' }), T0)
    assert.equal(verifier.verify(first), 'ok')
    clock.advance(1)
    for (let i = 1; i < 3; i++) {
      assert.equal(verifier.verify(signed(messageEvent({ requestId: `r${i}` }), T0 + 1)), 'ok')
    }
    // Full: a new call is still served; the oldest entry goes.
    assert.equal(verifier.verify(signed(messageEvent({ requestId: 'r3' }), T0 + 1)), 'ok')
    assert.equal(verifier.size, 3)
    // The forgotten signature cannot be replayed: anything signed at or before it is stale.
    assert.equal(verifier.verify(first), 'stale')
    assert.equal(verifier.verify(signed(messageEvent({ requestId: 'late' }), T0)), 'stale')
    // Remembered ones are still replays; fresh ones pass.
    assert.equal(verifier.verify(signed(messageEvent({ requestId: 'r3' }), T0 + 1)), 'replayed')
    assert.equal(verifier.verify(signed(messageEvent({ requestId: 'r4' }), T0 + 1)), 'ok')
    // Expiry goes by whole signed seconds: once the window has passed the second they were
    // signed in, they are gone.
    clock.advance(31_000)
    assert.equal(verifier.verify(signed(messageEvent({ requestId: 'r5' }), T0 + 31_001)), 'ok')
    assert.equal(verifier.size, 1)
  })

  it('a future-dated signature neither blocks expiry nor raises the floor over honest calls', () => {
    const clock = manualClock(T0)
    const verifier = createSignatureVerifier({ secret: SECRET, clock, replayCacheSize: 1000 })
    // Signed 20 s ahead (within the window, so valid): first in arrival order.
    const ahead = signed(messageEvent({ requestId: 'ahead' }), T0 + 20_000)
    assert.equal(verifier.verify(ahead), 'ok')
    const tally = { ok: 0, stale: 0, replayed: 0, bad: 0, missing: 0 }
    for (let i = 0; i < 3000; i++) {
      clock.advance(1)
      tally[verifier.verify(signed(messageEvent({ requestId: `h${i}` }), clock.now()))]++
    }
    assert.deepEqual(tally, { ok: 3000, stale: 0, replayed: 0, bad: 0, missing: 0 })
    assert.equal(verifier.size, 1000)
    assert.equal(verifier.verify(ahead), 'replayed', 'the future entry is still remembered')
    // Expiry is not blocked behind it: once the honest calls' window has passed they go.
    clock.advance(31_000)
    assert.equal(verifier.verify(signed(messageEvent({ requestId: 'x' }), clock.now())), 'ok')
    assert.equal(verifier.size, 2, 'the future entry and the fresh one')
  })

  it('per source too: one future-dated call of a source does not lock its honest calls out', () => {
    const clock = manualClock(T0)
    const verifier = createSignatureVerifier({ secret: SECRET, clock, replayCachePerSource: 10 })
    const ip = '198.51.100.7'
    const call = (id: string, at: number) =>
      signed(messageEvent({ requestId: id, sourceIp: ip }), at)
    assert.equal(verifier.verify(call('ahead', T0 + 20_000)), 'ok')
    for (let i = 0; i < 50; i++) {
      clock.advance(1)
      assert.equal(verifier.verify(call(`h${i}`, clock.now())), 'ok', `honest call ${i}`)
    }
    assert.equal(verifier.size, 10)
  })

  it('one source holds at most replayCachePerSource entries; its floor is its own', () => {
    const clock = manualClock(T0)
    const verifier = createSignatureVerifier({ secret: SECRET, clock, replayCachePerSource: 2 })
    const from = (ip: string, id: string, at: number) =>
      signed(messageEvent({ requestId: id, sourceIp: ip }), at)
    const oldest = from('198.51.100.7', 'a0', T0)
    assert.equal(verifier.verify(oldest), 'ok')
    assert.equal(verifier.verify(from('198.51.100.7', 'a1', T0 + 1)), 'ok')
    assert.equal(verifier.verify(from('198.51.100.7', 'a2', T0 + 2)), 'ok')
    assert.equal(verifier.size, 2, 'the source kept two')
    assert.equal(verifier.verify(oldest), 'stale', 'its forgotten call cannot be replayed')
    // Another source signed at the same instant is unaffected (no global floor was raised).
    assert.equal(verifier.verify(from('203.0.113.9', 'b0', T0)), 'ok')
    // An IPv6 source counts per /64: rotating addresses inside it shares one share.
    assert.equal(verifier.verify(from('2001:db8:1:2::1', 'c0', T0 + 3)), 'ok')
    assert.equal(verifier.verify(from('2001:db8:1:2::2', 'c1', T0 + 4)), 'ok')
    assert.equal(verifier.verify(from('2001:db8:1:2::3', 'c2', T0 + 5)), 'ok')
    assert.equal(verifier.verify(from('2001:db8:1:2::4', 'c3', T0 + 3)), 'stale')
  })

  it('release forgets an accepted signature (a refused call); a replay is judged again', () => {
    const verifier = createSignatureVerifier({ secret: SECRET, clock: manualClock(T0) })
    const event = signed(connectEvent(), T0)
    assert.equal(verifier.verify(event), 'ok')
    assert.equal(verifier.verify(event), 'replayed', 'in flight, a duplicate is refused')
    verifier.release(event)
    assert.equal(verifier.size, 0)
    assert.equal(verifier.verify(event), 'ok')
    verifier.release(messageEvent()) // unsigned: nothing to forget, no throw
    assert.equal(verifier.size, 1)
  })

  it('rejects short secrets and bad options at construction', () => {
    const invalid = (fn: () => unknown) =>
      assert.throws(fn, (err: unknown) => isGatehouseError(err, 'ERR_INVALID_OPTION'))
    invalid(() => createSignatureVerifier({ secret: 'short' }))
    invalid(() => createSignatureVerifier({ secret: SECRET, windowMs: 0 }))
    invalid(() => createSignatureVerifier({ secret: SECRET, replayCacheSize: -1 }))
    invalid(() => createSignatureVerifier({ secret: SECRET, replayCachePerSource: 0 }))
    invalid(() => signEvent(parts(), ''))
  })

  it('refuses to sign fields that could shift into one another', () => {
    const invalid = (fn: () => unknown) =>
      assert.throws(fn, (err: unknown) => isGatehouseError(err, 'ERR_INVALID_EVENT'))
    invalid(() => signEvent(parts({ requestId: 'a:b\nc' }), SECRET))
    invalid(() => signEvent(parts({ connectionId: 'c:1' }), SECRET))
    invalid(() => signEvent(parts({ routeKey: 'a\nb' }), SECRET))
    invalid(() => signEvent(parts({ path: '/a\n/b' }), SECRET))
    invalid(() => signEvent(parts({ rawQuery: 'a=1\r\nb=2' }), SECRET))
    invalid(() => signEvent(parts({ method: 'PO ST' }), SECRET))
    invalid(() => signEvent(parts({ sourceIp: 'not-an-ip' }), SECRET))
    invalid(() => signEvent(parts({ headersHash: 'abc' }), SECRET))
    assert.doesNotThrow(() => signEvent(parts({ sourceIp: '2001:db8::1' }), SECRET))
  })
})

describe('hashSignedHeaders', () => {
  it('is the same for a raw pair list and the Fetch Headers built from it', () => {
    const raw: Array<[string, string]> = [
      ['Host', 'app:8000'],
      ['Cookie', 'a=1'],
      ['cookie', 'b=2'],
      ['X-Padded', '  value \t'],
      ['Origin', 'https://app.example'],
      ['X-Empty', ''],
    ]
    const headers = new Headers()
    for (const [name, value] of raw) headers.append(name, value)
    assert.equal(hashSignedHeaders(raw), hashSignedHeaders(headers))
  })

  it('matches Fetch Headers for any header list (property)', () => {
    const name = fc.constantFrom('Cookie', 'cookie', 'Origin', 'X-A', 'x-b', 'Set-Cookie', 'Host')
    const value = fc.stringMatching(/^[\t !-~]{0,20}$/)
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 12 }), (raw) => {
        const headers = new Headers()
        for (const [n, v] of raw) headers.append(n, v)
        assert.equal(hashSignedHeaders(raw), hashSignedHeaders(headers))
      }),
      { numRuns: 300 },
    )
  })

  it('covers names, values, order of repeats and presence; leaves out only framing', () => {
    const base: Array<[string, string]> = [
      ['Cookie', 'a=1'],
      ['Cookie', 'b=2'],
    ]
    const h = hashSignedHeaders(base)
    assert.notEqual(
      hashSignedHeaders([
        ['Cookie', 'b=2'],
        ['Cookie', 'a=1'],
      ]),
      h,
    )
    assert.notEqual(hashSignedHeaders([...base, ['Origin', 'x']]), h)
    assert.notEqual(hashSignedHeaders([['Cookie', 'a=1; b=3']]), h)
    assert.notEqual(hashSignedHeaders([['Cookie2', 'a=1; b=2']]), h)
    // Joined repeats are what Fetch shows the app: the same text either way.
    assert.equal(hashSignedHeaders([['Cookie', 'a=1; b=2']]), h)
    assert.equal(
      hashSignedHeaders([
        ['X-A', '1'],
        ['x-a', '2'],
      ]),
      hashSignedHeaders([['X-A', '1, 2']]),
    )
    for (const framing of [
      'Connection',
      'Keep-Alive',
      'Transfer-Encoding',
      'Content-Length',
      'x-gatehouse-signature',
      'X-Gatehouse-Timestamp',
    ]) {
      assert.equal(isUnsignedHeader(framing.toLowerCase()), true, framing)
      assert.equal(hashSignedHeaders([...base, [framing, '1']]), h, framing)
    }
    for (const covered of ['cookie', 'host', 'x-forwarded-for', 'x-gatehouse-secret', 'upgrade']) {
      assert.equal(isUnsignedHeader(covered), false, covered)
    }
  })
})

describe('staticSecretValue', () => {
  it('the docs’ openssl command computes staticSecretValue (docs/gateway.md)', async () => {
    const doc = readFileSync(new URL('../../docs/gateway.md', import.meta.url), 'utf8')
    const line = doc.split('\n').find((l) => l.startsWith('STATIC_VALUE=$('))
    assert.ok(line, 'the command is in the docs')
    const secret = 'docs-static-secret-0123456789abcdef'
    const { stdout } = await run('sh', ['-c', `${line}\nprintf %s "$STATIC_VALUE"`], {
      env: { ...process.env, GATEHOUSE_SECRET: secret },
    })
    assert.equal(stdout, staticSecretValue(secret))
    assert.match(stdout, /^[0-9a-f]{64}$/)
    assert.notEqual(stdout, secret)
  })

  it('differs from the secret and from the HMAC key (a signature made with it is bad)', () => {
    const verifier = createSignatureVerifier({ secret: SECRET, clock: manualClock(T0) })
    const forged = signed(messageEvent(), T0, staticSecretValue(SECRET))
    assert.equal(verifier.verify(forged), 'bad')
    assert.equal(verifier.verify(signed(messageEvent(), T0)), 'ok')
  })
})

describe('verifyStaticSecret', () => {
  it('accepts the exact secret only', () => {
    assert.equal(verifyStaticSecret(SECRET, SECRET), true)
    assert.equal(verifyStaticSecret(`${SECRET}x`, SECRET), false)
    assert.equal(verifyStaticSecret(SECRET.slice(1), SECRET), false)
    assert.equal(verifyStaticSecret('', SECRET), false)
    assert.equal(verifyStaticSecret(undefined, SECRET), false)
    assert.equal(verifyStaticSecret('', ''), false)
  })

  it('never throws, whatever the lengths', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        assert.equal(verifyStaticSecret(a, b), b !== '' && a === b)
      }),
    )
  })
})
