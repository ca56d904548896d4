/**
 * @module app/guard
 * Turns exceptions inside a pipeline into generic responses: a store outage is a 503
 * (fail closed, never "allow"), anything else a 500 whose details stay in the log.
 */
import { isGatehouseError } from '../errors.ts'
import type { GatewayEvent, GatewayResponse } from '../events/event.ts'
import { reject, toResponse } from '../http/refusal.ts'
import type { Logger } from '../logger.ts'
import { publish, telemetry } from '../telemetry.ts'

/**
 * Run `body`, mapping thrown errors to generic responses.
 *
 * @example
 * ```ts
 * return guard(logger, 'connect', event, () => pipeline(event))
 * ```
 */
export async function guard(
  logger: Logger,
  stage: string,
  event: GatewayEvent,
  body: () => Promise<GatewayResponse>,
  replies?: { unavailable: string; internal: string },
): Promise<GatewayResponse> {
  try {
    return await body()
  } catch (err) {
    if (isGatehouseError(err, 'ERR_STORE_UNAVAILABLE')) {
      logger.error(
        {
          event: 'store_unavailable',
          reason: 'store_unavailable',
          stage,
          connectionId: event.connectionId,
          err,
        },
        'store unavailable',
      )
      if (stage === 'connect' && telemetry.hasSubscribers) {
        publish({
          type: 'app_connect',
          outcome: 'refused',
          status: 503,
          reason: 'store_unavailable',
        })
      }
      const response = toResponse(reject(503, 'store_unavailable'))
      return replies ? { status: 503, body: replies.unavailable } : response
    }
    logger.error(
      {
        event: 'internal_error',
        reason: 'internal_error',
        stage,
        connectionId: event.connectionId,
        err,
      },
      'unexpected error',
    )
    if (stage === 'connect' && telemetry.hasSubscribers) {
      publish({ type: 'app_connect', outcome: 'refused', status: 500, reason: 'internal_error' })
    }
    return replies
      ? { status: 500, body: replies.internal }
      : toResponse(reject(500, 'internal_error'))
  }
}
