/**
 * @module gateway/integrations/invoke
 * Call whatever integration a route points at, with its deadline.
 */
import type { Clock } from '../../clock.ts'
import type { GatewayEvent } from '../../events/event.ts'
import type { ConnectionFacts } from '../handshake.ts'
import type { Integration, IntegrationOutcome } from '../integration.ts'
import { invokeHttp } from './http.ts'
import { invokeInProcess } from './in-process.ts'
import { invokeLambda } from './lambda.ts'

/**
 * What every call needs beyond the event.
 *
 * @example
 * ```ts
 * const ctx: InvokeContext = { apiId, clock, timeoutMs: 29_000, maxResponseBytes: 131_072 }
 * ```
 */
export interface InvokeContext {
  readonly apiId: string
  readonly clock: Clock
  /** The gateway's `integrationTimeoutMs`; a route's own `timeoutMs` wins. */
  readonly timeoutMs: number
  /** Largest HTTP integration response read (a two-way reply is an outbound message). */
  readonly maxResponseBytes: number
}

/**
 * Call `integration` for `event`. Never throws: a failure is an outcome.
 *
 * @example
 * ```ts
 * const outcome = await invoke(routes.get('$connect')!, event, facts, ctx)
 * if (outcome.kind === 'response' && outcome.response.status < 300) accept()
 * ```
 */
export async function invoke(
  integration: Integration,
  event: GatewayEvent,
  facts: ConnectionFacts,
  ctx: InvokeContext,
): Promise<IntegrationOutcome> {
  const timeoutMs = integration.timeoutMs ?? ctx.timeoutMs
  try {
    switch (integration.type) {
      case 'in-process':
        return await invokeInProcess(integration.handler, event, timeoutMs)
      case 'lambda':
        return await invokeLambda(integration, { ...event, transport: { via: 'lambda' } }, facts, {
          clock: ctx.clock,
          timeoutMs,
        })
      case 'http':
        return await invokeHttp(integration, event, facts, {
          apiId: ctx.apiId,
          clock: ctx.clock,
          timeoutMs,
          maxResponseBytes: ctx.maxResponseBytes,
        })
    }
  } catch (error) {
    return { kind: 'error', error }
  }
}
