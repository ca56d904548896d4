/**
 * @module gateway/integration
 * What a route points at. The three kinds mirror API Gateway's: the bundled app called in
 * process, an HTTP (HTTP_PROXY) backend, or a Lambda-style function.
 */
import type { EventHandler, GatewayResponse } from '../events/event.ts'
import type { LambdaWebSocketEvent } from '../events/lambda.ts'

/**
 * The subset of a Lambda context object a local invocation can honestly provide.
 *
 * @example
 * ```ts
 * const handler: LambdaHandler = async (event, context) => {
 *   if (context.getRemainingTimeInMillis() < 100) return { statusCode: 503 }
 *   return { statusCode: 200 }
 * }
 * ```
 */
export interface LambdaContext {
  readonly awsRequestId: string
  readonly functionName: string
  readonly functionVersion: string
  readonly invokedFunctionArn: string
  readonly memoryLimitInMB: string
  readonly logGroupName: string
  readonly logStreamName: string
  callbackWaitsForEmptyEventLoop: boolean
  /** Milliseconds left before the integration timeout. */
  getRemainingTimeInMillis(): number
}

/**
 * A Lambda-style handler: a WebSocket proxy event in, a proxy result
 * (`{ statusCode, headers?, body? }`) out. `app.lambda` fits as it is.
 *
 * @example
 * ```ts
 * const handler: LambdaHandler = (event) => app.lambda(event)
 * ```
 */
export type LambdaHandler = (
  event: LambdaWebSocketEvent,
  context: LambdaContext,
) => Promise<unknown>

/**
 * One route's integration.
 * - `in-process`: call an {@link EventHandler} (the app) directly; no trust boundary is crossed.
 * - `http`: send an AWS-shaped HTTP_PROXY request to `url` (HMAC-signed when `secret` is set).
 * - `lambda`: call a function with an AWS-shaped Lambda proxy event.
 *
 * `twoWay` (default false, as on AWS) sends the integration's response body back to the
 * client on message routes, verbatim whatever the status. It has no meaning on `$connect`
 * and `$disconnect`. `timeoutMs` overrides the gateway's `integrationTimeoutMs` for this route.
 *
 * @example
 * ```ts
 * const routes: Record<string, Integration> = {
 *   $connect: { type: 'in-process', handler: app },
 *   $default: { type: 'in-process', handler: app, twoWay: true },
 *   report: { type: 'http', url: 'http://127.0.0.1:8000/ws/report', secret: process.env.GATEWAY_SECRET },
 * }
 * ```
 */
export type Integration =
  | {
      readonly type: 'in-process'
      readonly handler: EventHandler
      readonly twoWay?: boolean
      readonly timeoutMs?: number
    }
  | {
      readonly type: 'http'
      readonly url: string
      /** HTTP method of the integration request (default `POST`, as upstream provisions it). */
      readonly method?: string
      /** Shared secret: each request is signed (HMAC) so the app can tell it came from this gateway. */
      readonly secret?: string
      /** Also send `X-Real-Ip` (upstream's Django view requires it outside AWS). Default false. */
      readonly realIpHeader?: boolean
      /**
       * AWS `RequestParameters`: `integration.request.header.<name>` or
       * `integration.request.querystring.<name>` → `context.<var>`,
       * `route.request.header|querystring|multivalueheader|multivaluequerystring.<name>`
       * (`$connect`), `route.request.body.<path>` (messages) or `'static'`.
       */
      readonly requestParameters?: Readonly<Record<string, string>>
      readonly twoWay?: boolean
      readonly timeoutMs?: number
    }
  | {
      readonly type: 'lambda'
      readonly handler: LambdaHandler
      readonly twoWay?: boolean
      readonly timeoutMs?: number
    }

/**
 * The outcome of one integration call, as a value: a response, a timeout, or a failure
 * (thrown handler, unreachable backend, malformed result).
 *
 * @example
 * ```ts
 * if (outcome.kind === 'timeout') answer(504)
 * else if (outcome.kind === 'error') answer(502)
 * else accept(outcome.response)
 * ```
 */
export type IntegrationOutcome =
  | { readonly kind: 'response'; readonly response: GatewayResponse }
  | {
      readonly kind: 'timeout'
      /**
       * The call the gateway stopped waiting for, when it is still running: what it
       * finally gave. An in-process or Lambda handler cannot be cancelled; an HTTP `$connect`
       * is awaited for one more timeout. The gateway uses it to release a `$connect` the app
       * accepted after the client was already told 504.
       */
      readonly late?: Promise<IntegrationOutcome>
    }
  | { readonly kind: 'error'; readonly error: unknown }
