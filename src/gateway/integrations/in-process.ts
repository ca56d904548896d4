/**
 * @module gateway/integrations/in-process
 * The bundled app called directly: the event goes in as it is, the app's response comes back.
 */
import type { EventHandler, GatewayEvent } from '../../events/event.ts'
import type { IntegrationOutcome } from '../integration.ts'
import { withTimeout } from './outcome.ts'

/**
 * Call an {@link EventHandler} with a deadline.
 *
 * @example
 * ```ts
 * const outcome = await invokeInProcess(app, event, 29_000)
 * ```
 */
export function invokeInProcess(
  handler: EventHandler,
  event: GatewayEvent,
  timeoutMs: number,
): Promise<IntegrationOutcome> {
  return withTimeout(() => handler.handle(event), timeoutMs)
}
