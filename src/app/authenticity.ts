/**
 * @module app/authenticity
 * The first check of every pipeline: did this event really come from our gateway, and is
 * it not a replay? API-Gateway-shaped headers prove nothing (anyone can send
 * `User-Agent: AmazonAPIGateway_x`), so an HTTP integration call must carry a valid HMAC
 * signature from the bundled gateway, or — unless the app is `hmacOnly` — the static secret
 * header a request parameter mapping sets behind AWS. In-process and Lambda invocations
 * crossed no network boundary we do not already trust.
 *
 * Replays are caught in two places. The process's own cache (`createSignatureVerifier`)
 * catches a replay to this process at no cost. With `sharedReplayCheck` (the default on a
 * shared store) each signature is also claimed in the store, so a replay to another app
 * process is refused there: one `claimNonce` per signed message or `$disconnect`, run
 * alongside the message's session read so it adds no latency, and none for a `$connect` whose
 * single-use token already refuses a replay anywhere.
 */

import { DEFAULTS } from '../defaults.ts'
import type { GatewayEvent } from '../events/event.ts'
import {
  createSignatureVerifier,
  staticSecretValue,
  verifyStaticSecret,
} from '../events/signing.ts'
import { type Rejection, reject } from '../http/refusal.ts'
import type { Store } from '../store/store.ts'
import type { AppConfig } from './config.ts'

/** The authenticity checks of one app, shared by its pipelines. */
export interface Authenticity {
  /** A rejection when the event's transport is not trusted or it is a replay to this process. */
  check(event: GatewayEvent): Rejection | undefined
  /**
   * The app refused this (checked) event: forget its signature, so refused `$connect`s never
   * hold a place in the replay cache. Replaying a refused call only gets it judged again.
   */
  release(event: GatewayEvent): void
  /**
   * Claim the event's signature in the store when `sharedReplayCheck` is on: a rejection
   * when another process (or this one) already saw it. Resolves `undefined` at once when
   * the check is off or the event was not signed.
   */
  claimShared(event: GatewayEvent): Promise<Rejection | undefined>
}

/** Prefix of the nonce keys signatures are claimed under. */
const NONCE_PREFIX = 'sig:'
const NOTHING: Promise<undefined> = Promise.resolve(undefined)

/**
 * Build the authenticity checks of an app.
 *
 * @example
 * ```ts
 * const authenticity = createAuthenticity(config, store)
 * authenticity.check(event) // undefined when authentic, else reject(403, ...)
 * await authenticity.claimShared(event) // undefined unless another process saw it first
 * ```
 */
export function createAuthenticity(config: AppConfig, store: Store): Authenticity {
  const secret = config.gatewaySecret
  const windowMs = DEFAULTS.signatureWindowMs
  const verifier =
    secret === undefined
      ? undefined
      : createSignatureVerifier({ secret, clock: config.clock, windowMs })
  // The static header carries a value derived from the secret, not the secret (the HMAC key).
  const staticValue = secret === undefined ? undefined : staticSecretValue(secret)
  return {
    check(event) {
      const transport = event.transport
      if (transport.via !== 'http') return undefined
      if (secret === undefined || verifier === undefined) {
        return config.allowUnsignedGateway ? undefined : reject(403, 'gateway_unsigned')
      }
      if (transport.staticSecret !== undefined) {
        // The static header is a fixed string: whoever saw it once can send it forever.
        // An app behind the bundled gateway only (HMAC) refuses it outright.
        if (config.hmacOnly) return reject(403, 'gateway_static_refused')
        return verifyStaticSecret(transport.staticSecret, staticValue as string)
          ? undefined
          : reject(403, 'gateway_signature')
      }
      const verdict = verifier.verify(event)
      if (verdict === 'ok') return undefined
      if (verdict === 'replayed') return reject(403, 'gateway_replayed')
      return reject(403, verdict === 'missing' ? 'gateway_unsigned' : 'gateway_signature')
    },
    release(event) {
      verifier?.release(event)
    },
    claimShared(event) {
      if (!config.sharedReplayCheck) return NOTHING
      const transport = event.transport
      if (transport.via !== 'http' || !transport.signature || !transport.timestamp) {
        return NOTHING
      }
      // The signature is stale after its timestamp leaves the window: so is the nonce.
      const expiresAt = Number(transport.timestamp) + windowMs
      return store
        .claimNonce(`${NONCE_PREFIX}${transport.signature}`, expiresAt, config.clock.now())
        .then((claimed) => (claimed ? undefined : reject(403, 'gateway_replayed')))
    },
  }
}
