/**
 * @module store/history
 * What every store shares about channel history ({@link Store.appendHistory},
 * {@link Store.readHistory}): argument checks, the epoch generator, and the one rule that
 * decides whether a read covers everything after an offset, so the implementations agree.
 */
import { randomBytes } from 'node:crypto'
import { GatehouseError } from '../errors.ts'
import type { HistoryEntry, HistoryLimits, HistoryRead } from './store.ts'

/** Largest history size a store accepts (messages per channel). */
export const MAX_HISTORY_SIZE = 10_000

/**
 * A fresh epoch: 12 random bytes, base64url (16 characters). A channel's history gets one
 * when it is first written and a new one whenever the store finds it lost.
 *
 * @example
 * ```ts
 * newEpoch() // 'pW3k9Zq0Lr2xYb7A'
 * ```
 */
export function newEpoch(): string {
  return randomBytes(12).toString('base64url')
}

/**
 * Throw `ERR_INVALID_OPTION` unless `limits` is a size (1 to {@link MAX_HISTORY_SIZE}) and a
 * positive age in milliseconds, and `now` epoch milliseconds.
 *
 * @example
 * ```ts
 * validateHistoryLimits({ size: 100, ttlMs: 300_000 }, Date.now()) // ok
 * ```
 */
export function validateHistoryLimits(limits: HistoryLimits, now: number): void {
  const { size, ttlMs } = limits ?? ({} as HistoryLimits)
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_HISTORY_SIZE) {
    throw new GatehouseError('ERR_INVALID_OPTION', `history: size must be 1-${MAX_HISTORY_SIZE}`)
  }
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'history: ttlMs must be a positive integer')
  }
  if (!Number.isSafeInteger(now)) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'history: now must be epoch ms')
  }
}

/**
 * Throw `ERR_INVALID_OPTION` unless `since` is an offset (a non-negative safe integer).
 *
 * @example
 * ```ts
 * validateSince(0) // ok: everything retained
 * ```
 */
export function validateSince(since: number): void {
  if (!Number.isSafeInteger(since) || since < 0) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'history: since must be an offset (>= 0)')
  }
}

/**
 * The {@link HistoryRead} of what a store retained. `retained` are the stored entries of the
 * channel, oldest first (any may be too old or beyond the size: they are dropped here, so a
 * store that trims lazily, like Redis's approximate `MAXLEN ~`, answers as the others do).
 * The read is complete when nothing after `since` is missing: offsets are consecutive, so
 * either `since` is the latest offset or the first entry kept is `since + 1`.
 *
 * @example
 * ```ts
 * readOf('e1', 3, [{ offset: 3, message: '{}', at: 0 }], 2, { size: 10, ttlMs: 1_000 }, 500)
 * // { epoch: 'e1', offset: 3, entries: [{ offset: 3, … }], complete: true }
 * ```
 */
export function readOf(
  epoch: string | null,
  latest: number,
  retained: readonly HistoryEntry[],
  since: number,
  limits: HistoryLimits,
  now: number,
): HistoryRead {
  if (epoch === null) return { epoch: null, offset: 0, entries: [], complete: since === 0 }
  const oldestKept = latest - limits.size
  const bornAfter = now - limits.ttlMs
  const entries = retained.filter(
    (e) => e.offset > since && e.offset > oldestKept && e.at > bornAfter,
  )
  const complete = since === latest || (since < latest && entries[0]?.offset === since + 1)
  return { epoch, offset: latest, entries, complete }
}
