/**
 * @module events/ids
 * Identifiers shaped like API Gateway's, so validators written against AWS accept ours.
 */
import { randomBytes } from 'node:crypto'

/**
 * A fresh request (or message) id: 11 random bytes as URL-safe base64, 16 characters ending
 * in `=`, like `R1knPH17NjMFftw=`.
 *
 * @example
 * ```ts
 * randomRequestId() // 'm3Yq0c8Lx_1aPZQ='
 * ```
 */
export function randomRequestId(): string {
  return `${randomBytes(11).toString('base64url')}=`
}

/**
 * An `X-Amzn-Trace-Id` value: `Root=1-<epoch seconds, 8 hex>-<24 random hex>`.
 *
 * @example
 * ```ts
 * traceId(Date.now()) // 'Root=1-65abc0e4-3f1e2d4c5b6a79880f1e2d3c'
 * ```
 */
export function traceId(nowMs: number): string {
  const seconds = Math.floor(nowMs / 1000)
    .toString(16)
    .padStart(8, '0')
    .slice(-8)
  return `Root=1-${seconds}-${randomBytes(12).toString('hex')}`
}
