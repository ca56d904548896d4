/**
 * @module adapters/lambda
 * The AWS Lambda entry point of an app: export it as the function handler of the WebSocket
 * API's `$connect`, `$disconnect` and `$default` routes.
 */
import type { App } from '../app/create-app.ts'
import type { LambdaResult, LambdaWebSocketEvent } from '../events/lambda.ts'

/**
 * A Lambda handler for an app.
 *
 * @example
 * ```ts
 * export const handler = toLambdaHandler(app)
 * ```
 */
export function toLambdaHandler(
  app: Pick<App, 'lambda'>,
): (event: LambdaWebSocketEvent) => Promise<LambdaResult> {
  return (event) => app.lambda(event)
}
