/**
 * @module events/ids
 * Identifiers shaped like API Gateway's, so validators written against AWS accept ours.
 *
 * Every id draws from one pool of CSPRNG bytes refilled by a single `randomBytes` call, so the
 * ids a busy gateway mints per message (request id, message id, trace id) cost no system call
 * each. Each id's bytes are used once and wiped.
 */
import { randomBytes } from 'node:crypto'

/** Random bytes per id: 11 bytes encode to exactly 15 base64 characters plus one `=`. */
const ID_BYTES = 11

/** Bytes one `randomBytes` call prepares: 256 ids' worth. */
const POOL_BYTES = ID_BYTES * 256

let pool = Buffer.alloc(0)
let offset = 0

/** Encode `length` fresh pooled bytes, then wipe them so a later read cannot recover an id. */
function fromPool(length: number, encoding: 'base64url' | 'hex'): string {
  if (offset + length > pool.length) {
    pool = randomBytes(POOL_BYTES)
    offset = 0
  }
  const bytes = pool.subarray(offset, offset + length)
  offset += length
  const text = bytes.toString(encoding)
  bytes.fill(0)
  return text
}

/**
 * A fresh AWS-shaped id: 11 random bytes as URL-safe base64, 16 characters ending in `=`,
 * like `R1knPH17NjMFftw=`. Request, message and connection ids all have this shape.
 *
 * @example
 * ```ts
 * randomRequestId() // 'm3Yq0c8Lx_1aPZQ='
 * /^[A-Za-z0-9_-]{15}=$/.test(randomRequestId()) // true
 * ```
 */
export function randomRequestId(): string {
  // base64url drops padding; AWS ids keep their one `=`.
  return `${fromPool(ID_BYTES, 'base64url')}=`
}

/**
 * `bytes` fresh random bytes from the pool, as unpadded URL-safe base64 (4 characters per 3
 * bytes), for ids of another shape (the cluster's connection ids).
 *
 * @example
 * ```ts
 * randomUrlSafe(12) // 16 characters of [A-Za-z0-9_-]
 * ```
 */
export function randomUrlSafe(bytes: number): string {
  return fromPool(bytes, 'base64url')
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
  return `Root=1-${seconds}-${fromPool(12, 'hex')}`
}
