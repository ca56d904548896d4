/**
 * @module limits/sliding-window
 * The arithmetic of the sliding-window rate limit every Store shares. A counter keeps two
 * buckets of `windowMs` each (the current one and the one before it); an attempt at `now`
 * is judged on `prev * (1 - elapsed / windowMs) + current`, where `elapsed` is how far `now`
 * is into the current bucket. O(1) state and work per key, whatever the attempt rate.
 *
 * Stores only persist {@link WindowCounts} atomically (an SQL upsert, a Lua script, a Map);
 * the decision is computed here, so every backend answers to the millisecond alike.
 */
import { GatehouseError } from '../errors.ts'
import type { RateDecision, RateKey } from './rate.ts'

/** A counter's buckets after the attempt was counted. */
export interface WindowCounts {
  /** Start (epoch ms) of the current bucket, a multiple of `windowMs`. */
  readonly windowStart: number
  /** Attempts in the current bucket, this one included. */
  readonly count: number
  /** Attempts in the bucket just before the current one. */
  readonly prevCount: number
}

/**
 * The start of the bucket `now` falls in.
 *
 * @example
 * ```ts
 * bucketStart(1_500, 1_000) // 1_000
 * ```
 */
export function bucketStart(now: number, windowMs: number): number {
  return Math.floor(now / windowMs) * windowMs
}

/**
 * Count one attempt at `now` on top of a stored counter (or none). The SQL and Lua
 * implementations perform exactly this step inside their atomic statement.
 *
 * A stored bucket later than `now` (a clock that stepped back, or another node's clock
 * ahead of ours) is kept and counted into, so a skewed clock can never reset a counter.
 *
 * @example
 * ```ts
 * let c = advanceCounts(undefined, 1_000, 10) // { windowStart: 1_000, count: 1, prevCount: 0 }
 * c = advanceCounts({ ...c, windowMs: 1_000 }, 2_100, 1_000) // { windowStart: 2_000, count: 1, prevCount: 1 }
 * ```
 */
export function advanceCounts(
  stored: (WindowCounts & { readonly windowMs: number }) | undefined,
  now: number,
  windowMs: number,
): WindowCounts {
  const start = bucketStart(now, windowMs)
  if (stored === undefined || stored.windowMs !== windowMs) {
    return { windowStart: start, count: 1, prevCount: 0 }
  }
  if (stored.windowStart >= start) {
    return { windowStart: stored.windowStart, count: stored.count + 1, prevCount: stored.prevCount }
  }
  if (stored.windowStart === start - windowMs) {
    return { windowStart: start, count: 1, prevCount: stored.count }
  }
  return { windowStart: start, count: 1, prevCount: 0 }
}

/**
 * Judge one counter (its attempt already counted): allowed when the weighted estimate stays
 * within `limit`; otherwise how many milliseconds until one more attempt would pass.
 *
 * @example
 * ```ts
 * judge({ key: 'k', limit: 3, windowMs: 1_000 }, { windowStart: 0, count: 4, prevCount: 0 }, 10)
 * // { allowed: false, msBeforeNext: 1_490 }
 * ```
 */
export function judge(
  rate: RateKey,
  counts: WindowCounts,
  now: number,
): { allowed: boolean; msBeforeNext: number } {
  const w = rate.windowMs
  const elapsed = clamp(now - counts.windowStart, 0, w)
  // estimate <= limit, multiplied through by w: exact in integers, no rounding at the edge.
  if (counts.prevCount * (w - elapsed) + counts.count * w <= rate.limit * w) {
    return { allowed: true, msBeforeNext: 0 }
  }

  // The next attempt adds 1 to the current bucket. If the previous bucket's fading weight
  // alone is in the way, wait within this bucket until
  // prev * (w - e) <= room * w, i.e. e >= w - room * w / prev ...
  const room = rate.limit - counts.count - 1
  if (room >= 0 && counts.prevCount > 0) {
    const at = counts.windowStart + w - Math.floor((room * w) / counts.prevCount)
    return { allowed: false, msBeforeNext: Math.max(1, Math.ceil(at - now)) }
  }
  // ...otherwise the current bucket must become the previous one and fade in turn:
  // count * (w - e) + w <= limit * w, i.e. e >= w - (limit - 1) * w / count.
  const fade = clamp(w - Math.floor(((rate.limit - 1) * w) / counts.count), 0, w)
  const at = counts.windowStart + w + fade
  return { allowed: false, msBeforeNext: Math.max(1, Math.ceil(at - now)) }
}

/** The decision when every key passed. */
export const ALLOWED: RateDecision = Object.freeze({ allowed: true, msBeforeNext: 0 })

/**
 * Whether `rate` spends the attempt: `charge: false` asks "would one more attempt pass?"
 * without counting it.
 *
 * @example
 * ```ts
 * charges({ key: 'k', limit: 1, windowMs: 1_000, charge: false }) // false
 * ```
 */
export function charges(rate: RateKey): boolean {
  return rate.charge !== false
}

/**
 * Walk `keys` in order, as every Store's `hit` does: `step` counts the attempt on a key
 * (persisting it when the key charges) and returns the counts after it; the first key that
 * refuses ends the walk, so keys after it are neither counted nor judged. That is what lets
 * a caller put the key it trusts (the client IP) before one the client chooses (a user name
 * sent to a login form): a refused attempt never creates a row for the chosen key.
 *
 * @example
 * ```ts
 * const decision = hitInOrder(keys, now, (k) => countAndStore(k, now))
 * ```
 */
export function hitInOrder(
  keys: readonly RateKey[],
  now: number,
  step: (rate: RateKey) => WindowCounts,
): RateDecision {
  for (const k of keys) {
    const refused = refusal(k, step(k), now)
    if (refused !== undefined) return refused
  }
  return ALLOWED
}

/**
 * The decision of one key whose counts are known: `undefined` when it passes, else the
 * refusal naming it. For stores that count keys one round trip at a time.
 *
 * @example
 * ```ts
 * const refused = refusal(k, counts, now)
 * if (refused) return refused
 * ```
 */
export function refusal(
  rate: RateKey,
  counts: WindowCounts,
  now: number,
): RateDecision | undefined {
  const verdict = judge(rate, counts, now)
  return verdict.allowed
    ? undefined
    : { allowed: false, key: rate.key, msBeforeNext: verdict.msBeforeNext }
}

/**
 * Reject malformed rate keys before any backend work: a bad limit or window is a
 * programmer error, and silently allowing would fail open.
 *
 * @example
 * ```ts
 * validateRateKeys([{ key: 'connect:ip:127.0.0.1', limit: 20, windowMs: 60_000 }])
 * ```
 */
export function validateRateKeys(keys: readonly RateKey[]): void {
  if (!Array.isArray(keys)) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'hit(): keys must be an array of RateKey')
  }
  const seen = new Set<string>()
  for (const k of keys) {
    if (typeof k?.key !== 'string' || k.key.length === 0 || k.key.length > 512) {
      throw new GatehouseError('ERR_INVALID_OPTION', 'hit(): key must be a string of 1-512 chars')
    }
    if (!Number.isSafeInteger(k.limit) || k.limit < 0) {
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        `hit(): limit of ${k.key} must be an integer >= 0`,
      )
    }
    if (!Number.isSafeInteger(k.windowMs) || k.windowMs < 1) {
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        `hit(): windowMs of ${k.key} must be an integer >= 1`,
      )
    }
    // One attempt counts once per key; a repeated key is a caller bug (and would make a
    // single SQL upsert touch one row twice).
    if (seen.has(k.key)) {
      throw new GatehouseError('ERR_INVALID_OPTION', `hit(): key ${k.key} appears twice`)
    }
    if (k.charge !== undefined && typeof k.charge !== 'boolean') {
      throw new GatehouseError('ERR_INVALID_OPTION', `hit(): charge of ${k.key} must be a boolean`)
    }
    seen.add(k.key)
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, x))
}
