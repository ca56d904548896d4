/**
 * @module store/audience
 * Reads an {@link Audience} into one tagged form, so every Store switches on a closed set of
 * kinds and a malformed audience fails loudly instead of matching nobody (or everybody).
 */
import { GatehouseError } from '../errors.ts'
import type { Audience } from './store.ts'

/** An audience with its kind spelled out. */
export type AudienceTarget =
  | { readonly kind: 'connectionId'; readonly value: string }
  | { readonly kind: 'userId'; readonly value: string }
  | { readonly kind: 'sessionHash'; readonly value: string }
  | { readonly kind: 'channel'; readonly value: string }
  | { readonly kind: 'all' }

const KINDS = ['connectionId', 'userId', 'sessionHash', 'channel'] as const

/**
 * Classify an audience. Exactly one selector must be present (own property, string value),
 * or `all: true`; anything else throws `ERR_INVALID_OPTION`.
 *
 * @example
 * ```ts
 * audienceTarget({ channel: 'lobby' }) // { kind: 'channel', value: 'lobby' }
 * audienceTarget({ all: true }) // { kind: 'all' }
 * ```
 */
export function audienceTarget(audience: Audience): AudienceTarget {
  if (typeof audience !== 'object' || audience === null) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'audience must be an object')
  }
  const present = Object.keys(audience)
  if (present.length === 1) {
    const [name] = present
    if (name === 'all' && (audience as { all?: unknown }).all === true) return { kind: 'all' }
    for (const kind of KINDS) {
      if (name !== kind) continue
      const value = (audience as Record<string, unknown>)[kind]
      if (typeof value === 'string') return { kind, value }
    }
  }
  throw new GatehouseError(
    'ERR_INVALID_OPTION',
    'audience must be exactly one of { connectionId }, { userId }, { sessionHash }, { channel }, { all: true }',
  )
}
