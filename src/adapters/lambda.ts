/**
 * @module adapters/lambda
 * The AWS Lambda entry point of an app: one function for every route of the WebSocket API
 * (`$connect`, `$disconnect`, `$default` and any extra route), as `gatehouse aws` provisions
 * it (`--lambda <function-arn>`).
 */
import type { App } from '../app/create-app.ts'
import type { LambdaResult, LambdaWebSocketEvent } from '../events/lambda.ts'
import { learnAwsEndpoint } from '../push/aws.ts'
import type { Connections } from '../push/connections.ts'

/** Options of {@link toLambdaHandler}. */
export interface LambdaHandlerOptions {
  /**
   * The app's `createAwsConnections` port when it was created without `endpoint`: the first
   * event tells it the Management API endpoint of the API and stage that invoked the function.
   */
  readonly connections?: Connections
}

/**
 * A Lambda handler for an app.
 *
 * @example
 * ```ts
 * import { createAwsConnections } from 'gatehouse/aws'
 * import { toLambdaHandler } from 'gatehouse/lambda'
 *
 * const connections = createAwsConnections({ region: process.env.AWS_REGION! }) // endpoint from the event
 * const app = createApp({ store, connections, handlers })
 * export const handler = toLambdaHandler(app, { connections })
 * ```
 */
export function toLambdaHandler(
  app: Pick<App, 'lambda'>,
  options: LambdaHandlerOptions = {},
): (event: LambdaWebSocketEvent) => Promise<LambdaResult> {
  const { connections } = options
  return (event) => {
    // Before the app runs, so a handler pushing during this very event already can.
    if (connections) {
      try {
        learnAwsEndpoint(connections, event)
      } catch {
        // A malformed event is the app's to refuse (ERR_INVALID_EVENT → 400); not learned.
      }
    }
    return app.lambda(event)
  }
}
