/**
 * @module client/wake
 * The page's "come back now" signals: the browser went `online`, or a hidden tab became
 * visible. A client waiting out a backoff after a disconnect reconnects at once on either,
 * instead of sleeping through the rest of a delay that may have grown to 20 s while the
 * network was down or the laptop asleep.
 */

/**
 * The part of `window` and `document` the client listens to (injectable for tests).
 *
 * @example
 * ```ts
 * const env: WakeEnvironment = { window, document }
 * ```
 */
export interface WakeEnvironment {
  readonly window?: WakeTarget | undefined
  readonly document?: (WakeTarget & { readonly visibilityState?: string }) | undefined
}

/**
 * An event target as far as the client uses it.
 *
 * @example
 * ```ts
 * const t: WakeTarget = new EventTarget()
 * ```
 */
export interface WakeTarget {
  addEventListener(type: string, listener: () => void): void
  removeEventListener(type: string, listener: () => void): void
}

/**
 * The browser's `window` and `document`, when there are any (none on Node).
 *
 * @example
 * ```ts
 * const env = browserEnvironment() // {} outside a browser
 * ```
 */
export function browserEnvironment(): WakeEnvironment {
  const g = globalThis as { window?: WakeTarget; document?: WakeTarget }
  const env: { window?: WakeTarget; document?: WakeTarget } = {}
  if (typeof g.window?.addEventListener === 'function') env.window = g.window
  if (typeof g.document?.addEventListener === 'function') env.document = g.document
  return env
}

/**
 * Calls `onWake` on `online`, and on `visibilitychange` to visible; returns the function that
 * removes both listeners.
 *
 * @example
 * ```ts
 * const stop = watchWake(browserEnvironment(), () => client.reconnectNow())
 * stop()
 * ```
 */
export function watchWake(env: WakeEnvironment, onWake: () => void): () => void {
  const { window: win, document: doc } = env
  const online = () => onWake()
  const visibility = () => {
    if (doc?.visibilityState === 'visible') onWake()
  }
  win?.addEventListener('online', online)
  doc?.addEventListener('visibilitychange', visibility)
  return () => {
    win?.removeEventListener('online', online)
    doc?.removeEventListener('visibilitychange', visibility)
  }
}
