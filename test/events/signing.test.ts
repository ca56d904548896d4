import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { manualClock } from '../../src/clock.ts'
import { isGatehouseError } from '../../src/errors.ts'
import type { GatewayEvent } from '../../src/events/event.ts'
import { createSignatureVerifier, signEvent, verifyStaticSecret } from '../../src/events/signing.ts'
import { messageEvent, SECRET, T0 } from './fixtures.ts'

/** The event as the app decodes it from a call the gateway signed at `at`. */
function signed(event: GatewayEvent, at: number, secret = SECRET): GatewayEvent {
  const { timestamp, signature } = signEvent(
    {
      timestamp: at,
      requestId: event.requestId,
      connectionId: event.connectionId,
      routeKey: event.routeKey,
      body: event.body,
    },
    secret,
  )
  return { ...event, transport: { via: 'http', signature, timestamp } }
}

function withTransport(event: GatewayEvent, patch: { signature?: string; timestamp?: string }) {
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
    const sig = signEvent(
      { timestamp: T0, requestId: 'r1', connectionId: 'c1=', routeKey: '$default', body: 'x' },
      SECRET,
    )
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

  it('reports a tampered timestamp, connection id, route, body or request id as bad', () => {
    const base = signed(messageEvent(), T0)
    const cases: GatewayEvent[] = [
      withTransport(base, { timestamp: String(T0 + 1) }),
      { ...base, connectionId: 'R1kmxc2VNjMCFIB=' },
      { ...base, routeKey: 'sendmessage' },
      { ...base, body: '{"action":"ping","n":2}' },
      { ...base, body: undefined },
      { ...base, requestId: 'other-request-id' },
    ]
    for (const event of cases) {
      const verifier = createSignatureVerifier({ secret: SECRET, clock: manualClock(T0) })
      assert.equal(verifier.verify(event), 'bad')
    }
  })

  it('rejects any single-field tampering (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 200 }),
        fc.string({ maxLength: 200 }),
        fc.constantFrom('body', 'routeKey', 'timestamp'),
        (body, other, field) => {
          fc.pre(body !== other)
          const base = signed(messageEvent({ body }), T0)
          const verifier = createSignatureVerifier({ secret: SECRET, clock: manualClock(T0) })
          let event: GatewayEvent
          if (field === 'body') event = { ...base, body: other }
          else if (field === 'routeKey') event = { ...base, routeKey: `r${other}` }
          else event = withTransport(base, { timestamp: String(T0 - 1 - (other.length % 1000)) })
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

  it('refuses rather than grows when the replay cache is full, and recovers after the window', () => {
    const clock = manualClock(T0)
    const verifier = createSignatureVerifier({ secret: SECRET, clock, replayCacheSize: 3 })
    for (let i = 0; i < 3; i++) {
      assert.equal(verifier.verify(signed(messageEvent({ requestId: `r${i}` }), T0)), 'ok')
    }
    assert.equal(verifier.verify(signed(messageEvent({ requestId: 'r3' }), T0)), 'overloaded')
    assert.equal(verifier.size, 3)
    clock.advance(30_001)
    assert.equal(verifier.verify(signed(messageEvent({ requestId: 'r4' }), T0 + 30_001)), 'ok')
    assert.equal(verifier.size, 1)
  })

  it('rejects short secrets and bad options at construction', () => {
    const invalid = (fn: () => unknown) =>
      assert.throws(fn, (err: unknown) => isGatehouseError(err, 'ERR_INVALID_OPTION'))
    invalid(() => createSignatureVerifier({ secret: 'short' }))
    invalid(() => createSignatureVerifier({ secret: SECRET, windowMs: 0 }))
    invalid(() => createSignatureVerifier({ secret: SECRET, replayCacheSize: -1 }))
    invalid(() =>
      signEvent({ requestId: 'r', connectionId: 'c=', routeKey: '$default', body: '' }, ''),
    )
  })

  it('refuses to sign ids that could shift the signed fields', () => {
    const invalid = (fn: () => unknown) =>
      assert.throws(fn, (err: unknown) => isGatehouseError(err, 'ERR_INVALID_EVENT'))
    invalid(() =>
      signEvent({ requestId: 'a:b', connectionId: 'c=', routeKey: '$default', body: '' }, SECRET),
    )
    invalid(() =>
      signEvent({ requestId: 'r', connectionId: 'c:1', routeKey: '$default', body: '' }, SECRET),
    )
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
