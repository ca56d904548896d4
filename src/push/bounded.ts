/**
 * @module push/bounded
 * Run one async call per item with at most `limit` in flight: enough parallelism to hide
 * round-trip latency, never an unbounded burst of sockets.
 */
import { GatehouseError, isGatehouseError } from '../errors.ts'
import type { PostManyResult } from './connections.ts'

/**
 * Call `fn` for every item with at most `limit` calls pending; resolves with the results in
 * item order, each either `{ ok: true, value }` or `{ ok: false, error }` (one failure never
 * stops the others).
 *
 * @example
 * ```ts
 * const results = await mapBounded(ids, 16, (id) => post(id))
 * ```
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<Array<{ ok: true; value: R } | { ok: false; error: unknown }>> {
  const results: Array<{ ok: true; value: R } | { ok: false; error: unknown }> = new Array(
    items.length,
  )
  let next = 0
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++
      try {
        results[i] = { ok: true, value: await fn(items[i] as T) }
      } catch (error) {
        results[i] = { ok: false, error }
      }
    }
  }
  const workers = Math.max(1, Math.min(Math.floor(limit), items.length))
  await Promise.all(Array.from({ length: workers }, worker))
  return results
}

/**
 * Push one message to many connections through a single-recipient `post`, at most `limit`
 * at a time. Recipients whose `post` resolves `false` are gone; if any call throws, the others
 * still run and one `ERR_INTEGRATION_FAILED` (cause: an `AggregateError`) is thrown at the end,
 * but `ERR_MESSAGE_TOO_LARGE` as such when the message reached nobody for its size.
 *
 * @example
 * ```ts
 * const { sent, gone } = await postEachBounded(ids, 16, (id) => connections.post(id, bytes))
 * ```
 */
export async function postEachBounded(
  ids: readonly string[],
  limit: number,
  post: (id: string) => Promise<boolean>,
): Promise<PostManyResult> {
  const results = await mapBounded(ids, limit, post)
  let sent = 0
  const gone: string[] = []
  const errors: unknown[] = []
  results.forEach((r, i) => {
    if (!r.ok) errors.push(r.error)
    else if (r.value) sent++
    else gone.push(ids[i] as string)
  })
  // One payload for all: too large for one is too large for every one, and says so, as
  // every other port's postMany does.
  const tooLarge = errors.find((e) => isGatehouseError(e, 'ERR_MESSAGE_TOO_LARGE'))
  if (tooLarge !== undefined && sent === 0) throw tooLarge
  if (errors.length > 0) {
    // The ids found gone travel with the failure, so the caller can still end their sessions.
    const cause = Object.assign(new AggregateError(errors), { sent, gone })
    throw new GatehouseError(
      'ERR_INTEGRATION_FAILED',
      `${errors.length} of ${ids.length} pushes failed (${sent} sent, ${gone.length} gone).`,
      { cause },
    )
  }
  return { sent, gone }
}

/**
 * The connection ids a failed {@link postEachBounded} found gone before it threw (empty for
 * any other error), so a partly failed fan-out still marks those sessions disconnected.
 *
 * @example
 * ```ts
 * try { await connections.postMany(ids, data) } catch (err) { await markGone(goneOf(err)) }
 * ```
 */
export function goneOf(err: unknown): readonly string[] {
  const cause = (err as { cause?: { gone?: unknown } } | null)?.cause
  const gone = cause?.gone
  return Array.isArray(gone) && gone.every((g) => typeof g === 'string') ? gone : []
}
