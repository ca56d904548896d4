/**
 * @module events/direct-call
 * A Fetch handler that also answers an {@link IntegrationCall} directly. The app's `fetch`
 * carries this form, so `toNodeListener(app.fetch)` answers integration calls without a
 * WHATWG `Request`, `Headers`, body stream and `Response` per call (the bulk of the app's CPU
 * per message over the HTTP integration). The Fetch handler stays the public API; this is
 * how the bundled node adapter reaches the same code with less copying.
 */
import type { HttpResponseParts, IntegrationCall } from './http.ts'

/** The app's answer to one integration call, as plain parts. */
export type DirectCallHandler = (call: IntegrationCall) => Promise<HttpResponseParts>

const DIRECT_CALL = Symbol('gatehouse.directCall')

/**
 * Give a Fetch handler its direct form (the same function, with a hidden property).
 *
 * @example
 * ```ts
 * const fetch = withDirectCall(async (request: Request) => answer(request), (call) => answerCall(call))
 * ```
 */
export function withDirectCall<F extends (request: Request) => Promise<Response>>(
  fetch: F,
  direct: DirectCallHandler,
): F {
  Object.defineProperty(fetch, DIRECT_CALL, { value: direct })
  return fetch
}

/**
 * The direct form of a Fetch handler, when it has one.
 *
 * @example
 * ```ts
 * const direct = directCallOf(app.fetch) // a function for the app's own fetch, else undefined
 * ```
 */
export function directCallOf(handler: unknown): DirectCallHandler | undefined {
  if (typeof handler !== 'function') return undefined
  const direct = (handler as { [DIRECT_CALL]?: unknown })[DIRECT_CALL]
  return typeof direct === 'function' ? (direct as DirectCallHandler) : undefined
}
