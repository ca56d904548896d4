/**
 * @module gateway/integrations/lambda
 * A Lambda-style integration: the event becomes the Lambda proxy event AWS would pass (built
 * by the `events` codec), the function's `{ statusCode, headers, body }` becomes the response.
 * As on AWS, only `Sec-WebSocket-Protocol` survives among the returned headers.
 */
import type { Clock } from '../../clock.ts'
import type { GatewayEvent } from '../../events/event.ts'
import { fromLambdaResult, toLambdaEvent } from '../../events/lambda.ts'
import type { ConnectionFacts } from '../handshake.ts'
import type { Integration, IntegrationOutcome, LambdaContext } from '../integration.ts'
import { withTimeout } from './outcome.ts'

/**
 * What a Lambda call needs beyond the event.
 *
 * @example
 * ```ts
 * const ctx: LambdaCallContext = { clock, timeoutMs: 29_000 }
 * ```
 */
export interface LambdaCallContext {
  readonly clock: Clock
  readonly timeoutMs: number
}

/**
 * A context object for one invocation, with a working `getRemainingTimeInMillis`.
 *
 * @example
 * ```ts
 * const context = lambdaContext(event.requestId, 29_000, clock)
 * context.getRemainingTimeInMillis() // 29000
 * ```
 */
export function lambdaContext(requestId: string, timeoutMs: number, clock: Clock): LambdaContext {
  const deadline = clock.now() + timeoutMs
  return {
    awsRequestId: requestId,
    functionName: 'gatehouse-local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:gatehouse-local',
    memoryLimitInMB: '128',
    logGroupName: '/aws/lambda/gatehouse-local',
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - clock.now()),
  }
}

/**
 * Invoke the function with a deadline.
 *
 * @example
 * ```ts
 * const outcome = await invokeLambda({ type: 'lambda', handler: async () => ({ statusCode: 200 }) }, event, facts, ctx)
 * ```
 */
export function invokeLambda(
  integration: Extract<Integration, { type: 'lambda' }>,
  event: GatewayEvent,
  facts: ConnectionFacts,
  ctx: LambdaCallContext,
): Promise<IntegrationOutcome> {
  return withTimeout(async () => {
    const lambdaEvent = toLambdaEvent(event, {
      ...(event.eventType === 'CONNECT' ? { rawHeaders: facts.rawHeaders ?? [] } : {}),
      forwardedProto: 'http',
      forwardedPort: facts.localPort,
    })
    const result = await integration.handler(
      lambdaEvent,
      lambdaContext(event.requestId, ctx.timeoutMs, ctx.clock),
    )
    return fromLambdaResult(result)
  }, ctx.timeoutMs)
}
