/**
 * @module gateway/integrations/http
 * An HTTP (HTTP_PROXY) integration: the event becomes the request API Gateway would send
 * (built and sent by the `events` codecs), the backend's answer becomes the response.
 */

import type { Clock } from '../../clock.ts'
import { isGatehouseError } from '../../errors.ts'
import type { GatewayEvent } from '../../events/event.ts'
import {
  type IntegrationRequest,
  signIntegrationRequest,
  toIntegrationRequest,
} from '../../events/integration-request.ts'
import { sendIntegrationRequest } from '../../events/integration-send.ts'
import type { ConnectionFacts } from '../handshake.ts'
import type { Integration, IntegrationOutcome } from '../integration.ts'
import { checkResponse, withDeadline } from './outcome.ts'
import { mapperFor } from './request-parameters.ts'

/**
 * What an HTTP call needs beyond the event.
 *
 * @example
 * ```ts
 * const ctx: HttpCallContext = { apiId, clock, timeoutMs: 29_000, maxResponseBytes: 131_072 }
 * ```
 */
export interface HttpCallContext {
  readonly apiId: string
  readonly clock: Clock
  readonly timeoutMs: number
  readonly maxResponseBytes: number
}

/**
 * Send the AWS-shaped integration request for `event` and read the answer. On `$connect` the
 * client's handshake headers travel in their original casing (`facts.rawHeaders`).
 *
 * A `$connect` past its deadline is answered `timeout` at once (the client gets 504) but
 * the call is kept for one more `timeoutMs`: the app may still accept it, and the gateway
 * must then release that session (`late`). Other routes are cut off at the deadline.
 *
 * @example
 * ```ts
 * const outcome = await invokeHttp({ type: 'http', url: 'http://127.0.0.1:8000/ws/default' }, event, facts, ctx)
 * ```
 */
export function invokeHttp(
  integration: Extract<Integration, { type: 'http' }>,
  event: GatewayEvent,
  facts: ConnectionFacts,
  ctx: HttpCallContext,
): Promise<IntegrationOutcome> {
  let request: IntegrationRequest
  try {
    const built = toIntegrationRequest(
      event,
      {
        url: integration.url,
        apiId: ctx.apiId,
        clock: ctx.clock,
        // The bundled gateway speaks plain ws://; tell the backend what the client really used.
        forwardedProto: 'http',
        forwardedPort: facts.localPort,
        ...(integration.method === undefined ? {} : { method: integration.method }),
        ...(integration.realIpHeader === undefined
          ? {}
          : { realIpHeader: integration.realIpHeader }),
      },
      event.eventType === 'CONNECT' ? facts.rawHeaders : undefined,
    )
    const mapped = mapperFor(integration, `routes.${event.routeKey}`)(built, event, facts)
    // Signed last, so the signature covers what the request parameters added too.
    request =
      integration.secret === undefined
        ? mapped
        : signIntegrationRequest(mapped, event, integration.secret, ctx.clock.now())
  } catch (error) {
    return Promise.resolve({ kind: 'error', error })
  }
  if (event.eventType !== 'CONNECT') return send(request, ctx.timeoutMs, ctx.maxResponseBytes)
  return withDeadline(send(request, ctx.timeoutMs * 2, ctx.maxResponseBytes), ctx.timeoutMs)
}

/** One call as an outcome; never rejects. */
async function send(
  request: IntegrationRequest,
  timeoutMs: number,
  maxResponseBytes: number,
): Promise<IntegrationOutcome> {
  try {
    const answer = await sendIntegrationRequest(request, { timeoutMs, maxResponseBytes })
    return checkResponse({ status: answer.status, headers: answer.headers, body: answer.body })
  } catch (error) {
    if (isGatehouseError(error, 'ERR_INTEGRATION_TIMEOUT')) return { kind: 'timeout' }
    return { kind: 'error', error }
  }
}
