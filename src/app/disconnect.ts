/**
 * @module app/disconnect
 * `$disconnect`: mark the session disconnected. Best effort, as on AWS (the event may never
 * come); cleanup reconciles what it misses.
 */
import type { GatewayEvent, GatewayResponse } from '../events/event.ts'
import { toResponse } from '../http/refusal.ts'
import type { Store } from '../store/store.ts'
import type { Authenticity } from './authenticity.ts'
import type { AppConfig } from './config.ts'
import { guard } from './guard.ts'
import { firePresence } from './presence.ts'
import type { Roster } from './roster.ts'
import type { Sender } from './send.ts'

/**
 * Build the `$disconnect` handler of an app.
 *
 * @example
 * ```ts
 * const onDisconnect = createDisconnectPipeline({ config, store, authenticity, send, roster })
 * await onDisconnect(event) // { status: 200 }
 * ```
 */
export function createDisconnectPipeline(deps: {
  readonly config: AppConfig
  readonly store: Store
  readonly authenticity: Authenticity
  /** Handed to the `onDisconnect` hook. */
  readonly send: Sender
  readonly roster: Roster
}): (event: GatewayEvent) => Promise<GatewayResponse> {
  const { config, store, authenticity, send, roster } = deps
  const hook = config.onDisconnect
  const onPresence = config.onPresence
  return (event) =>
    guard(config.logger, 'disconnect', event, async () => {
      const untrusted = authenticity.check(event) ?? (await authenticity.claimShared(event))
      if (untrusted) {
        config.logger.warn(
          {
            event: 'disconnect_rejected',
            reason: untrusted.reason,
            connectionId: event.connectionId,
          },
          'disconnect rejected',
        )
        return toResponse(untrusted)
      }
      // Before the store call: the socket is gone whether or not the store answers.
      roster.remove(event.connectionId)
      await store.markDisconnected([event.connectionId], config.clock.now())
      config.logger.info(
        {
          event: 'disconnected',
          connectionId: event.connectionId,
          code: event.disconnectStatusCode,
        },
        'disconnected',
      )
      // One read serves both hooks; without hooks, a disconnect is one store call.
      const session = hook || onPresence ? await store.getSession(event.connectionId) : null
      if (session?.channel != null) {
        await firePresence(onPresence, { logger: config.logger, send, store }, [
          {
            type: 'leave',
            channel: session.channel,
            userId: session.userId,
            connectionId: event.connectionId,
            cause: 'disconnect',
          },
        ])
      }
      if (hook) {
        try {
          await hook({ event, session, send })
        } catch (err) {
          config.logger.error(
            { event: 'hook_failed', hook: 'onDisconnect', err },
            'onDisconnect hook threw',
          )
        }
      }
      return { status: 200 }
    })
}
