/**
 * @module clock
 * Time is injected so TTL, window and idle tests need no waiting.
 */

/**
 * A source of the current time in epoch milliseconds.
 *
 * @example
 * ```ts
 * let t = 0
 * const clock: Clock = { now: () => t }
 * t += 61_000 // a token issued at 0 has now expired
 * ```
 */
export interface Clock {
  now(): number
}

/**
 * The wall clock.
 *
 * @example
 * ```ts
 * const app = createApp({ store, clock: systemClock })
 * ```
 */
export const systemClock: Clock = { now: () => Date.now() }

/**
 * A clock tests move by hand.
 *
 * @example
 * ```ts
 * const clock = manualClock(1_700_000_000_000)
 * clock.advance(60_001)
 * ```
 */
export function manualClock(start = 1_700_000_000_000): Clock & {
  advance(ms: number): void
  set(ms: number): void
} {
  let t = start
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms
    },
    set: (ms: number) => {
      t = ms
    },
  }
}
