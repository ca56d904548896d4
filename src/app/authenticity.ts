/**
 * @module app/authenticity
 * The first check of every pipeline: did this event really come from our gateway?
 * API-Gateway-shaped headers prove nothing (anyone can send `User-Agent: AmazonAPIGateway_x`),
 * so an HTTP integration call must carry a valid HMAC signature from the bundled gateway, or
 * the static secret header a request parameter mapping sets behind AWS. In-process and Lambda
 * invocations crossed no network boundary we do not already trust.
 */

import type { GatewayEvent } from '../events/event.ts'
import { createSignatureVerifier, verifyStaticSecret } from '../events/signing.ts'
import { type Rejection, reject } from '../http/refusal.ts'
import type { AppConfig } from './config.ts'

/** Returns a rejection when the event's transport is not trusted. */
export type AuthenticityCheck = (event: GatewayEvent) => Rejection | undefined

/**
 * Build the authenticity check for an app.
 *
 * @example
 * ```ts
 * const check = createAuthenticityCheck(config)
 * check(event) // undefined when authentic, else reject(403, ...)
 * ```
 */
export function createAuthenticityCheck(config: AppConfig): AuthenticityCheck {
  const secret = config.gatewaySecret
  const verifier =
    secret === undefined ? undefined : createSignatureVerifier({ secret, clock: config.clock })
  return (event) => {
    const transport = event.transport
    if (transport.via !== 'http') return undefined
    if (secret === undefined || verifier === undefined) {
      return config.allowUnsignedGateway ? undefined : reject(403, 'gateway_unsigned')
    }
    if (transport.staticSecret !== undefined) {
      return verifyStaticSecret(transport.staticSecret, secret)
        ? undefined
        : reject(403, 'gateway_signature')
    }
    const verdict = verifier.verify(event)
    if (verdict === 'ok') return undefined
    // A full replay cache is overload, not forgery: refuse (fail closed) but say "later".
    if (verdict === 'overloaded') return reject(503, 'gateway_overloaded', 1)
    return reject(403, verdict === 'missing' ? 'gateway_unsigned' : 'gateway_signature')
  }
}
