/**
 * @module gateway/cluster/envelope
 * What cluster nodes send each other over Redis pub/sub, signed so that nothing else on the
 * Redis can push, read or close a connection, or replay what a node sent.
 *
 * Wire form: `v1.<signature>.<json>`, the signature being HMAC-SHA256 (base64url) under a key
 * derived from the cluster secret, over the channel name, a newline and the JSON: an envelope
 * is valid on the one channel it was published to. The JSON carries a unique `id` and the
 * sender's clock `ts`; a receiver refuses a `ts` more than `windowMs` (30 s) from its own
 * clock and an `id` it has already seen within that window.
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * A message between nodes. `post` pushes `data` to `ids`; `delete` closes `ids`; `get`
 * describes `ids[0]`; `reply` answers the request `re` on the requester's reply channel.
 *
 * @example
 * ```ts
 * const body: EnvelopeBody = { op: 'post', ids: ['DbX2Lq0v9mTz_a8K'], data: { t: 's', d: 'hi' }, reply: 'gatehouse:cluster:reply:x' }
 * ```
 */
export type EnvelopeBody =
  | {
      readonly op: 'post'
      readonly ids: readonly string[]
      readonly data: WireData
      readonly reply: string
    }
  | { readonly op: 'delete' | 'get'; readonly ids: readonly string[]; readonly reply: string }
  | { readonly op: 'reply'; readonly re: string; readonly ok: boolean; readonly result: unknown }

/** A payload on the wire: a string as is, bytes as base64 (`t: 'b'`). */
export type WireData =
  | { readonly t: 's'; readonly d: string }
  | { readonly t: 'b'; readonly d: string }

/** A verified envelope: its body, unique id and timestamp. */
export type Envelope = EnvelopeBody & { readonly id: string; readonly ts: number }

/**
 * Why an envelope was dropped (logged as `cluster_envelope_refused`, field `reason`).
 *
 * @example
 * ```ts
 * const reason: EnvelopeRefusal = 'signature'
 * ```
 */
export type EnvelopeRefusal = 'malformed' | 'signature' | 'stale' | 'replayed'

/**
 * A payload as it travels: strings unchanged, bytes base64 (JSON has no bytes).
 *
 * @example
 * ```ts
 * toWire('hi') // { t: 's', d: 'hi' }
 * fromWire(toWire(new Uint8Array([0xff]))) // Uint8Array [255]
 * ```
 */
export function toWire(data: string | Uint8Array): WireData {
  if (typeof data === 'string') return { t: 's', d: data }
  return {
    t: 'b',
    d: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
  }
}

/**
 * The payload back from {@link toWire}'s form.
 *
 * @example
 * ```ts
 * fromWire({ t: 's', d: 'hi' }) // 'hi'
 * ```
 */
export function fromWire(data: WireData): string | Uint8Array {
  return data.t === 's' ? data.d : new Uint8Array(Buffer.from(data.d, 'base64'))
}

/**
 * Signs and checks envelopes under one cluster secret, remembering the ids it accepted.
 *
 * @example
 * ```ts
 * const codec = createEnvelopeCodec({ secret, now: () => Date.now() })
 * const wire = codec.seal('gatehouse:cluster:route:3', { op: 'get', ids: [id], reply })
 * codec.open('gatehouse:cluster:route:3', wire) // { ok: true, envelope }
 * ```
 */
export interface EnvelopeCodec {
  seal(channel: string, body: EnvelopeBody): string
  /** {@link seal}, with the envelope's id (what its reply will carry as `re`). */
  sealWithId(channel: string, body: EnvelopeBody): { id: string; wire: string }
  open(
    channel: string,
    wire: string,
  ): { ok: true; envelope: Envelope } | { ok: false; reason: EnvelopeRefusal }
}

/** Ids remembered at most; past it the oldest go (they would be stale soon anyway). */
const MAX_SEEN = 200_000

/**
 * The envelope codec of one node.
 *
 * @example
 * ```ts
 * const codec = createEnvelopeCodec({ secret: process.env.CLUSTER_SECRET!, now: Date.now, windowMs: 30_000 })
 * ```
 */
export function createEnvelopeCodec(options: {
  readonly secret: string
  readonly now: () => number
  readonly windowMs?: number
}): EnvelopeCodec {
  // A key of its own: the cluster secret may also be used elsewhere (derived from --secret).
  // A KeyObject, prepared once: Node re-prepares a Buffer key on every createHmac (most of
  // an HMAC's cost), and every routed push seals one envelope and opens one.
  const key = createSecretKey(
    createHmac('sha256', options.secret).update('gatehouse cluster envelope v1').digest(),
  )
  const windowMs = options.windowMs ?? 30_000
  const { now } = options
  // id → when it may be forgotten; insertion order is expiry order (same window for all).
  const seen = new Map<string, number>()

  function mac(channel: string, json: string): Buffer {
    return createHmac('sha256', key).update(channel).update('\n').update(json).digest()
  }

  function forget(at: number): void {
    for (const [id, until] of seen) {
      if (until > at && seen.size <= MAX_SEEN) break
      seen.delete(id)
    }
  }

  function sealWithId(channel: string, body: EnvelopeBody): { id: string; wire: string } {
    const id = randomBytes(16).toString('base64url')
    const json = JSON.stringify({ ...body, id, ts: now() })
    return { id, wire: `v1.${mac(channel, json).toString('base64url')}.${json}` }
  }

  return {
    sealWithId,
    seal(channel, body) {
      return sealWithId(channel, body).wire
    },
    open(channel, wire) {
      if (typeof wire !== 'string' || !wire.startsWith('v1.'))
        return { ok: false, reason: 'malformed' }
      const dot = wire.indexOf('.', 3)
      if (dot < 0) return { ok: false, reason: 'malformed' }
      const given = Buffer.from(wire.slice(3, dot), 'base64url')
      const json = wire.slice(dot + 1)
      const expected = mac(channel, json)
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return { ok: false, reason: 'signature' }
      }
      let envelope: Envelope
      try {
        envelope = JSON.parse(json) as Envelope
      } catch {
        return { ok: false, reason: 'malformed' }
      }
      if (typeof envelope !== 'object' || envelope === null || typeof envelope.id !== 'string') {
        return { ok: false, reason: 'malformed' }
      }
      const at = now()
      if (typeof envelope.ts !== 'number' || Math.abs(at - envelope.ts) > windowMs) {
        return { ok: false, reason: 'stale' }
      }
      forget(at)
      if (seen.has(envelope.id)) return { ok: false, reason: 'replayed' }
      seen.set(envelope.id, at + 2 * windowMs)
      return { ok: true, envelope }
    },
  }
}
