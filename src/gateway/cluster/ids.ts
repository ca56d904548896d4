/**
 * @module gateway/cluster/ids
 * Connection ids that name their node. A cluster node holds one of 64 slots, and every id it
 * issues starts with its slot as one URL-safe base64 character, followed by 15 random ones:
 * 16 characters of `[A-Za-z0-9_-]` as before, 90 random bits (an AWS-shaped id ending in `=`
 * has 88), so any node finds the owner of an id without a lookup. Hence a cluster has at most
 * 64 nodes.
 *
 * Ids of a gateway without a cluster keep AWS's shape (`…=`), so the two never mix up.
 */
import { DEFAULTS } from '../../defaults.ts'
import { randomUrlSafe } from '../../events/ids.ts'

/** The slot characters, in slot order: URL-safe base64's alphabet. */
export const SLOT_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** Slots of one cluster (`DEFAULTS.clusterMaxNodes`, one per slot character). */
export const MAX_SLOTS: number = DEFAULTS.clusterMaxNodes

/**
 * The shape of a cluster connection id: 16 URL-safe characters, no `=`.
 *
 * @example
 * ```ts
 * CLUSTER_ID_PATTERN.test('DbX2Lq0v9mTz_a8K') // true
 * CLUSTER_ID_PATTERN.test('R1kmxc2VNjMCFIA=') // false: a single gateway's (AWS-shaped) id
 * ```
 */
export const CLUSTER_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/

const SLOT_OF = new Map<string, number>([...SLOT_ALPHABET].map((c, i) => [c, i]))

/**
 * A fresh id of the node holding `slot`.
 *
 * @example
 * ```ts
 * const id = clusterConnectionId(3) // 'D' + 15 random characters
 * slotOf(id) // 3
 * ```
 */
export function clusterConnectionId(slot: number): string {
  const prefix = SLOT_ALPHABET[slot]
  if (prefix === undefined) throw new RangeError(`slot ${slot} is not within 0..${MAX_SLOTS - 1}`)
  // 12 bytes are 16 characters of 6 uniform bits each; the first 15 carry 90 bits.
  return prefix + randomUrlSafe(12).slice(0, 15)
}

/**
 * The slot that owns a cluster id, or -1 for any other string (an AWS-shaped id, junk).
 *
 * @example
 * ```ts
 * slotOf('BAAAAAAAAAAAAAAA') // 1
 * slotOf('R1kmxc2VNjMCFIA=') // -1
 * ```
 */
export function slotOf(connectionId: string): number {
  if (!CLUSTER_ID_PATTERN.test(connectionId)) return -1
  return SLOT_OF.get(connectionId[0] as string) ?? -1
}
