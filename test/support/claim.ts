/**
 * What a test presents to `Store.consumeToken` / `Store.openSession`: a token claim for the
 * default app unless told otherwise, with no user named unless given.
 */
import { DEFAULTS } from '../../src/defaults.ts'
import type { TokenClaim } from '../../src/store/store.ts'

export function claim(
  hash: string,
  sessionHash: string,
  appId: string = DEFAULTS.appId,
  userId: string | null = null,
): TokenClaim {
  return { hash, sessionHash, appId, userId }
}
