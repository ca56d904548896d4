/**
 * @module limits/keys
 * Builders for the rate-limit keys Gatehouse counts in the Store. Every key is namespaced
 * (`connect:ip:`, `connect:fail:`, `connect:user:`, `token:user:`) and its variable part is bounded and made of
 * safe characters, so a hostile user id can neither grow keys without bound nor reach another
 * namespace (Redis key-space `:` separators, glob characters, NUL bytes in SQL text).
 */
import { createHash } from 'node:crypto'
import { DEFAULTS } from '../defaults.ts'
import { positiveInt } from '../util/options.ts'
import { rateKeyForIp } from './client-ip.ts'
import type { RateKey } from './rate.ts'

/** A limit: how many attempts per window. */
export interface LimitOptions {
  /** Attempts allowed per window (a positive integer). */
  readonly limit?: number | undefined
  /** Window length in milliseconds (a positive integer). */
  readonly windowMs?: number | undefined
}

/** Identifier characters kept verbatim; anything else is hashed. It excludes `:`. */
const PLAIN_PART = /^[A-Za-z0-9._@+-]{1,128}$/

/**
 * The variable part of a key: `id` itself when it is 1–128 plain characters
 * (`A-Z a-z 0-9 . _ @ + -`), else `sha256:` and its hex SHA-256. The hashed form holds `:`,
 * which the plain form never does, so two different ids never share a key.
 *
 * @example
 * ```ts
 * encodeKeyPart('alice')        // 'alice'
 * encodeKeyPart('a:b\n')        // 'sha256:5c1f…'
 * ```
 */
export function encodeKeyPart(id: string): string {
  if (PLAIN_PART.test(id)) return id
  return `sha256:${createHash('sha256').update(id, 'utf8').digest('hex')}`
}

function build(prefix: string, part: string, limit: number, windowMs: number): RateKey {
  return {
    key: `${prefix}${part}`,
    limit: positiveInt('limit', limit),
    windowMs: positiveInt('windowMs', windowMs),
  }
}

/**
 * The `$connect` attempts key of a client IP (IPv6 counted per /64), for anonymous apps.
 * Defaults: `DEFAULTS.connectLimitPerIp` per `DEFAULTS.connectWindowMs`.
 *
 * @example
 * ```ts
 * await store.hit([connectIpKey('203.0.113.9')], now) // key 'connect:ip:203.0.113.9'
 * ```
 */
export function connectIpKey(ip: string, options: LimitOptions = {}): RateKey {
  return build(
    'connect:ip:',
    rateKeyForIp(ip),
    options.limit ?? DEFAULTS.connectLimitPerIp,
    options.windowMs ?? DEFAULTS.connectWindowMs,
  )
}

/**
 * The failed-token-attempts key of a client IP (IPv6 counted per /64): charged when a
 * `$connect`'s token is missing or refused, and checked with `charge: false` before a token
 * is used. Defaults: `DEFAULTS.connectFailureLimitPerIp` per `DEFAULTS.connectWindowMs`.
 *
 * @example
 * ```ts
 * await store.hit([connectFailureIpKey('203.0.113.9')], now) // key 'connect:fail:203.0.113.9'
 * ```
 */
export function connectFailureIpKey(ip: string, options: LimitOptions = {}): RateKey {
  return build(
    'connect:fail:',
    rateKeyForIp(ip),
    options.limit ?? DEFAULTS.connectFailureLimitPerIp,
    options.windowMs ?? DEFAULTS.connectWindowMs,
  )
}

/**
 * The `$connect` attempts key of a user.
 * Defaults: `DEFAULTS.connectLimitPerUser` per `DEFAULTS.connectWindowMs`.
 *
 * @example
 * ```ts
 * await store.hit([connectIpKey(ip), connectUserKey('alice', { limit: 5 })], now)
 * ```
 */
export function connectUserKey(userId: string, options: LimitOptions = {}): RateKey {
  return build(
    'connect:user:',
    encodeKeyPart(userId),
    options.limit ?? DEFAULTS.connectLimitPerUser,
    options.windowMs ?? DEFAULTS.connectWindowMs,
  )
}

/**
 * The token issue key of a user.
 * Defaults: `DEFAULTS.tokenIssueLimit` per `DEFAULTS.tokenIssueWindowMs`.
 *
 * @example
 * ```ts
 * const decision = await store.hit([tokenUserKey('alice')], now) // key 'token:user:alice'
 * ```
 */
export function tokenUserKey(userId: string, options: LimitOptions = {}): RateKey {
  return build(
    'token:user:',
    encodeKeyPart(userId),
    options.limit ?? DEFAULTS.tokenIssueLimit,
    options.windowMs ?? DEFAULTS.tokenIssueWindowMs,
  )
}
