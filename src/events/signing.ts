/**
 * @module events/signing
 * The signature the bundled gateway puts on every HTTP integration call, and its check in the
 * app. API-Gateway-shaped headers prove nothing, so the link between gateway and app is
 * authenticated with an HMAC-SHA256 over
 *
 * ```
 * v1:<timestamp>:<requestId>:<connectionId>:<routeKey>:<hex sha256 of the body>
 * ```
 *
 * `timestamp` is epoch milliseconds and must lie within ±`windowMs` of the app's clock.
 * `requestId` is a per-call nonce: without it two identical frames sent in the same
 * millisecond would sign identically and the second would look like a replay. The app keeps
 * the signatures it accepted for the length of the window and refuses a second use.
 * Neither the request id nor the connection id may contain `:`, so the fields cannot be
 * shifted into one another.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { type Clock, systemClock } from '../clock.ts'
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import { positiveInt } from '../util/options.ts'
import type { GatewayEvent } from './event.ts'

/** Header carrying the signature (lower-case hex). */
export const SIGNATURE_HEADER = 'x-gatehouse-signature'
/** Header carrying the signed timestamp (epoch ms). */
export const TIMESTAMP_HEADER = 'x-gatehouse-timestamp'
/** Header carrying the static secret an AWS request parameter mapping sets. */
export const STATIC_SECRET_HEADER = 'x-gatehouse-secret'

/** Shortest secret accepted: 16 characters (use 32 random bytes, base64url). */
export const MIN_SECRET_LENGTH = 16

/** Request ids (nonces) the signature accepts: AWS-style ids, UUIDs, base64 or base64url. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_=+/.-]{1,128}$/

const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/
const TIMESTAMP_PATTERN = /^[0-9]{1,15}$/

/** What one call's signature covers. */
export interface SignedParts {
  /** Epoch ms; default: now. */
  readonly timestamp?: number
  /** The event's request id, used as the nonce. */
  readonly requestId: string
  readonly connectionId: string
  readonly routeKey: string
  /** The raw body; `undefined` signs as the empty string. */
  readonly body: string | undefined
}

/** The two headers' values. */
export interface EventSignature {
  readonly timestamp: string
  readonly signature: string
}

/**
 * Sign one integration call.
 *
 * @throws GatehouseError `ERR_INVALID_OPTION` for a short secret, `ERR_INVALID_EVENT` for a
 *   connection id or request id that does not match its pattern.
 * @example
 * ```ts
 * const { timestamp, signature } = signEvent(
 *   { requestId: 'R1knPH17NjMFftw=', connectionId: 'R1kmxc2VNjMCFIA=', routeKey: '$default', body: '{"action":"ping"}' },
 *   process.env.GATEHOUSE_SECRET!,
 * )
 * // send them as x-gatehouse-timestamp and x-gatehouse-signature
 * ```
 */
export function signEvent(parts: SignedParts, secret: string): EventSignature {
  assertSecret(secret)
  const timestamp = parts.timestamp ?? Date.now()
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new GatehouseError('ERR_INVALID_EVENT', 'Signature timestamp must be epoch milliseconds')
  }
  if (!DEFAULTS.connectionIdPattern.test(parts.connectionId)) {
    throw new GatehouseError('ERR_INVALID_EVENT', 'Cannot sign an invalid connection id')
  }
  if (!REQUEST_ID_PATTERN.test(parts.requestId)) {
    throw new GatehouseError('ERR_INVALID_EVENT', 'Cannot sign an invalid request id')
  }
  const ts = String(timestamp)
  return { timestamp: ts, signature: hmacHex(secret, canonical(ts, parts)) }
}

/** The verdict on one call. `overloaded`: the replay cache is full, so the call is refused. */
export type SignatureVerdict = 'ok' | 'missing' | 'stale' | 'bad' | 'replayed' | 'overloaded'

/** Options of {@link createSignatureVerifier}. */
export interface SignatureVerifierOptions {
  readonly secret: string
  /** Accepted clock skew either way, and how long a used signature is remembered. */
  readonly windowMs?: number
  readonly clock?: Clock
  /** Most signatures remembered at once; when full, calls are refused (fail closed). */
  readonly replayCacheSize?: number
}

/** Checks signed integration calls. */
export interface SignatureVerifier {
  /**
   * `ok` for a valid, fresh, first-seen signature (which is then remembered); `missing` when
   * the event has no signature or did not come over HTTP; `stale` outside the window; `bad`
   * for a malformed or wrong signature; `replayed` for a signature already accepted;
   * `overloaded` when the replay cache is full.
   */
  verify(event: GatewayEvent): SignatureVerdict
  /** Signatures currently remembered. */
  readonly size: number
}

/**
 * Build the app-side check of signed gateway calls.
 *
 * A signature is only remembered after it has been verified, so forged calls cannot fill the
 * cache. The replay cache is per process: several app processes behind one gateway each keep
 * their own, so a call replayed to a different process inside the window is not caught there.
 *
 * @throws GatehouseError `ERR_INVALID_OPTION` for a short secret or a bad window or size.
 * @example
 * ```ts
 * const verifier = createSignatureVerifier({ secret, clock: manualClock() })
 * if (verifier.verify(event) !== 'ok') return { status: 403 }
 * ```
 */
export function createSignatureVerifier(options: SignatureVerifierOptions): SignatureVerifier {
  const { secret } = options
  assertSecret(secret)
  const windowMs = options.windowMs ?? DEFAULTS.signatureWindowMs
  const maxSize = options.replayCacheSize ?? 100_000
  const clock = options.clock ?? systemClock
  positiveInt('windowMs', windowMs)
  positiveInt('replayCacheSize', maxSize)
  // signature → epoch ms after which it is stale anyway. Insertion order is close to expiry
  // order (timestamps sit within ±window of arrival), so evicting from the front is cheap;
  // an entry is never dropped before it expires.
  const seen = new Map<string, number>()

  const evict = (now: number): void => {
    for (const [signature, expiresAt] of seen) {
      if (expiresAt >= now) return
      seen.delete(signature)
    }
  }

  return {
    get size() {
      return seen.size
    },
    verify(event) {
      const transport = event.transport
      if (transport.via !== 'http') return 'missing'
      const { signature, timestamp } = transport
      if (!signature || !timestamp) return 'missing'
      if (!TIMESTAMP_PATTERN.test(timestamp) || !SIGNATURE_PATTERN.test(signature)) return 'bad'
      const now = clock.now()
      const ts = Number(timestamp)
      if (Math.abs(now - ts) > windowMs) return 'stale'
      if (!DEFAULTS.connectionIdPattern.test(event.connectionId)) return 'bad'
      if (!REQUEST_ID_PATTERN.test(event.requestId)) return 'bad'
      const expected = Buffer.from(hmacHex(secret, canonical(timestamp, event)), 'hex')
      const presented = Buffer.from(signature, 'hex')
      // Both are 32 bytes once the pattern matched; the length check keeps timingSafeEqual
      // from ever throwing should that change.
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
        return 'bad'
      }
      evict(now)
      if (seen.has(signature)) return 'replayed'
      if (seen.size >= maxSize) return 'overloaded'
      seen.set(signature, ts + windowMs)
      return 'ok'
    },
  }
}

/**
 * Compare a presented static secret with the expected one in constant time. Both are
 * hashed first, so different lengths neither throw nor leak through timing.
 *
 * @example
 * ```ts
 * verifyStaticSecret(event.transport.staticSecret ?? '', process.env.GATEHOUSE_SECRET!) // boolean
 * ```
 */
export function verifyStaticSecret(presented: string | undefined, expected: string): boolean {
  if (typeof presented !== 'string' || typeof expected !== 'string' || expected === '') return false
  const a = createHash('sha256').update(presented, 'utf8').digest()
  const b = createHash('sha256').update(expected, 'utf8').digest()
  return timingSafeEqual(a, b)
}

function canonical(
  timestamp: string,
  parts: { requestId: string; connectionId: string; routeKey: string; body: string | undefined },
): string {
  const bodyHash = createHash('sha256')
    .update(parts.body ?? '', 'utf8')
    .digest('hex')
  return `v1:${timestamp}:${parts.requestId}:${parts.connectionId}:${parts.routeKey}:${bodyHash}`
}

function hmacHex(secret: string, data: string): string {
  return createHmac('sha256', secret).update(data, 'utf8').digest('hex')
}

function assertSecret(secret: string): void {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      `The gateway secret must be a string of at least ${MIN_SECRET_LENGTH} characters`,
    )
  }
}
