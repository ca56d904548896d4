/**
 * @module gateway/integrations/outcome
 * Helpers every integration shares: a deadline around a call, and the check that what came
 * back is a well-formed response. A call that throws, times out or returns junk becomes a
 * value, so the gateway answers 502, 504 or an error frame and never throws at a client.
 */
import type { GatewayResponse } from '../../events/event.ts'
import { afterDeadline } from '../../util/deadlines.ts'
import type { IntegrationOutcome } from '../integration.ts'

/**
 * Run `call` with a deadline. The call itself cannot be cancelled (an in-process handler
 * keeps running): past the deadline the outcome is a `timeout` whose `late` promise gives
 * what the call finally returned.
 *
 * @example
 * ```ts
 * const outcome = await withTimeout(() => app.handle(event), 29_000)
 * if (outcome.kind === 'timeout') answer(504)
 * ```
 */
export function withTimeout(
  call: () => Promise<GatewayResponse>,
  timeoutMs: number,
): Promise<IntegrationOutcome> {
  let pending: Promise<GatewayResponse>
  try {
    pending = Promise.resolve(call())
  } catch (error) {
    pending = Promise.reject(error)
  }
  return withDeadline(
    pending.then(checkResponse, (error: unknown) => ({ kind: 'error', error })),
    timeoutMs,
  )
}

/**
 * Wait for `outcome` at most `timeoutMs`. Past the deadline the answer is a `timeout` that
 * carries the still-running outcome as `late`. `outcome` must never reject.
 *
 * @example
 * ```ts
 * const outcome = await withDeadline(sendAndCheck(request), 29_000)
 * if (outcome.kind === 'timeout') outcome.late?.then(release)
 * ```
 */
export function withDeadline(
  outcome: Promise<IntegrationOutcome>,
  timeoutMs: number,
): Promise<IntegrationOutcome> {
  return new Promise<IntegrationOutcome>((resolve) => {
    // No timer of its own: the shared deadline queue of this timeout value serves it.
    const done = afterDeadline(timeoutMs, () => resolve({ kind: 'timeout', late: outcome }))
    void outcome.then((value) => {
      done()
      resolve(value)
    })
  })
}

/**
 * An outcome for whatever an integration returned: a `response` when it is a
 * {@link GatewayResponse} (integer status 100–599, string body or none, string headers),
 * else an `error`.
 *
 * @example
 * ```ts
 * checkResponse({ status: 200 }).kind // 'response'
 * checkResponse({ status: '200' }).kind // 'error'
 * ```
 */
export function checkResponse(value: unknown): IntegrationOutcome {
  if (typeof value !== 'object' || value === null) {
    return { kind: 'error', error: new TypeError('The integration returned no response object') }
  }
  const r = value as { status?: unknown; body?: unknown; headers?: unknown }
  if (
    typeof r.status !== 'number' ||
    !Number.isInteger(r.status) ||
    r.status < 100 ||
    r.status > 599
  ) {
    return { kind: 'error', error: new TypeError('The integration returned an invalid status') }
  }
  if (r.body !== undefined && typeof r.body !== 'string') {
    return { kind: 'error', error: new TypeError('The integration returned a non-string body') }
  }
  let headers: Record<string, string> | undefined
  if (r.headers !== undefined) {
    if (typeof r.headers !== 'object' || r.headers === null) {
      return { kind: 'error', error: new TypeError('The integration returned invalid headers') }
    }
    const map = new Map<string, string>()
    for (const [name, v] of Object.entries(r.headers)) {
      if (typeof v === 'string') map.set(name.toLowerCase(), v)
    }
    headers = Object.fromEntries(map)
  }
  return {
    kind: 'response',
    response: {
      status: r.status,
      ...(r.body === undefined ? {} : { body: r.body }),
      ...(headers === undefined ? {} : { headers }),
    },
  }
}
