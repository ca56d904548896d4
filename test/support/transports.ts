/**
 * Runs the core app's tests through each way the gateway reaches an app. The transport is
 * chosen by `GATEHOUSE_TEST_TRANSPORT`:
 * - `direct` (default): `app.handle(event)`;
 * - `in-process`: the gateway's own `invoke()` with an in-process integration;
 * - `http`: the gateway's `invoke()` with an HTTP integration, signed with HMAC, over a real
 *   node:http server running `app.fetch` (the app decodes the AWS-shaped request);
 * - `lambda`: the gateway's `invoke()` with a Lambda integration calling `app.lambda`;
 * - `aws-lambda`: no gateway at all: each event is built from AWS's own sample Lambda events
 *   (`test/fixtures/aws/`) and passed to `toLambdaHandler(app)`, as AWS would call it.
 * The response is what the gateway would pass on: status, body, and only the
 * `Sec-WebSocket-Protocol` and `Retry-After` headers.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { toLambdaHandler } from '../../src/adapters/lambda.ts'
import { toNodeListener } from '../../src/adapters/node.ts'
import type { App } from '../../src/app/create-app.ts'
import type { Clock } from '../../src/clock.ts'
import { clfTime } from '../../src/events/clf-time.ts'
import type { GatewayEvent, GatewayResponse } from '../../src/events/event.ts'
import { integrationUrlFor } from '../../src/events/integration-request.ts'
import { fromLambdaResult } from '../../src/events/lambda.ts'
import type { Handshake } from '../../src/gateway/handshake.ts'
import type { Integration } from '../../src/gateway/integration.ts'
import { invoke } from '../../src/gateway/integrations/invoke.ts'
import { type AwsWebSocketEvent, freshEvent } from '../fixtures/aws/fixtures.ts'

export type TestTransport = 'direct' | 'in-process' | 'http' | 'lambda' | 'aws-lambda'

const TRANSPORTS: readonly TestTransport[] = [
  'direct',
  'in-process',
  'http',
  'lambda',
  'aws-lambda',
]

export const TRANSPORT: TestTransport = ((): TestTransport => {
  const value = process.env.GATEHOUSE_TEST_TRANSPORT ?? 'direct'
  const found = TRANSPORTS.find((t) => t === value)
  if (found) return found
  throw new Error(`GATEHOUSE_TEST_TRANSPORT must be one of ${TRANSPORTS.join(', ')}; got ${value}`)
})()

/** The secret the HTTP transport signs with (the app is given the same). */
export const TEST_GATEWAY_SECRET = 'test-gateway-secret-0123456789abcdef'

let server: Server | undefined
let baseUrl: Promise<string> | undefined
const apps = new Map<string, App>()
let nextAppId = 0

/** One shared, unref'd server routes `/<appId>/ws/<route>` to the app registered under that id. */
function httpBase(): Promise<string> {
  baseUrl ??= new Promise((resolve) => {
    server = createServer((req, res) => {
      const appId = (req.url ?? '').split('/')[1] ?? ''
      const app = apps.get(appId)
      if (!app) {
        res.writeHead(404).end()
        return
      }
      toNodeListener((request) => app.fetch(request))(req, res)
    })
    server.listen(0, '127.0.0.1', () => {
      server!.unref()
      resolve(`http://127.0.0.1:${(server!.address() as AddressInfo).port}`)
    })
  })
  return baseUrl
}

/** The Host an HTTP integration call carries (the integration's, as on AWS). */
export async function integrationHost(): Promise<string> {
  return new URL(await httpBase()).host
}

function handshakeOf(event: GatewayEvent): Handshake {
  return {
    connectionId: event.connectionId,
    connectedAt: event.connectedAt,
    headers: event.headers,
    rawHeaders: Object.entries(event.headers).flat(),
    query: event.query,
    rawQuery: event.rawQuery,
    sourceIp: event.sourceIp,
    userAgent: event.headers['user-agent'],
    domainName: event.domainName,
    localPort: 3001,
  }
}

function passedOn(response: GatewayResponse): GatewayResponse {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    const lower = name.toLowerCase()
    if (lower === 'sec-websocket-protocol' || lower === 'retry-after') headers[lower] = value
  }
  const body = response.body === '' ? undefined : response.body
  return {
    status: response.status,
    ...(body === undefined ? {} : { body }),
    ...(Object.keys(headers).length === 0 ? {} : { headers }),
  }
}

/**
 * Wrap `app` so `handle(event)` goes through the selected transport. Events that already name
 * a transport (tests of the authenticity check itself) go straight to the app.
 */
export async function throughTransport(
  app: App,
  clock: Clock,
): Promise<(event: GatewayEvent) => Promise<GatewayResponse>> {
  if (TRANSPORT === 'direct') return (event) => app.handle(event)
  if (TRANSPORT === 'aws-lambda') {
    const handler = toLambdaHandler(app)
    return async (event) => {
      if (event.transport.via !== 'in-process') return app.handle(event)
      return passedOn(fromLambdaResult(await handler(awsLambdaEvent(event))))
    }
  }
  let integration: Integration
  if (TRANSPORT === 'in-process') integration = { type: 'in-process', handler: app, twoWay: true }
  else if (TRANSPORT === 'lambda') {
    integration = {
      type: 'lambda',
      handler: (event) => app.lambda(event as Parameters<App['lambda']>[0]),
      twoWay: true,
    }
  } else {
    const appId = `app${nextAppId++}`
    apps.set(appId, app)
    const base = `${await httpBase()}/${appId}/ws/`
    integration = { type: 'http', url: base, secret: TEST_GATEWAY_SECRET, twoWay: true }
  }
  const ctx = { apiId: 'testapi', clock, timeoutMs: 10_000, maxResponseBytes: 1_048_576 }
  return async (event) => {
    if (event.transport.via !== 'in-process') return app.handle(event)
    const target: Integration =
      integration.type === 'http'
        ? { ...integration, url: integrationUrlFor(integration.url, event.routeKey) }
        : integration
    const outcome = await invoke(target, event, handshakeOf(event), ctx)
    if (outcome.kind === 'response') return passedOn(outcome.response)
    throw new Error(
      `integration ${outcome.kind}: ${String((outcome as { error?: unknown }).error)}`,
    )
  }
}

/**
 * The event AWS would pass to the function for `event`: AWS's sample of the same event type,
 * with the fields of this connection and message written over the sample's values. CONNECT
 * keeps the sample's AWS-added headers (`X-Amzn-Trace-Id`, `X-Forwarded-*`) and carries the
 * client's handshake headers and query; DISCONNECT keeps AWS's fixed header stub.
 */
export function awsLambdaEvent(event: GatewayEvent): AwsWebSocketEvent {
  const aws = freshEvent(event.eventType)
  const ctx = aws.requestContext
  ctx.routeKey = event.routeKey
  ctx.connectionId = event.connectionId
  ctx.connectedAt = event.connectedAt
  ctx.requestId = event.requestId
  ctx.extendedRequestId = event.requestId
  ctx.requestTimeEpoch = event.requestTimeEpoch
  ctx.requestTime = clfTime(event.requestTimeEpoch)
  if (event.stage !== '') ctx.stage = event.stage
  if (event.domainName !== '') ctx.domainName = event.domainName
  if (event.apiId !== '') ctx.apiId = event.apiId
  ctx.identity = {
    sourceIp: event.sourceIp,
    ...(event.userAgent !== undefined ? { userAgent: event.userAgent } : {}),
  }
  if (event.eventType === 'MESSAGE') {
    aws.body = event.body ?? ''
    if (event.messageId !== undefined) ctx.messageId = event.messageId
  }
  if (event.eventType === 'DISCONNECT') {
    if (event.disconnectStatusCode !== undefined)
      ctx.disconnectStatusCode = event.disconnectStatusCode
    if (event.disconnectReason !== undefined) ctx.disconnectReason = event.disconnectReason
  }
  if (event.eventType === 'CONNECT') {
    // AWS's own headers stay; the sample client's headers give way to this client's.
    const own = [
      'host',
      'x-amzn-trace-id',
      'x-forwarded-for',
      'x-forwarded-port',
      'x-forwarded-proto',
    ]
    const headers: Record<string, string> = {}
    const multi: Record<string, string[]> = {}
    for (const [name, value] of Object.entries(aws.headers ?? {})) {
      if (!own.includes(name.toLowerCase())) continue
      headers[name] = value
      multi[name] = [value]
    }
    headers['X-Forwarded-For'] = event.sourceIp
    multi['X-Forwarded-For'] = [event.sourceIp]
    for (const [name, value] of Object.entries(event.headers)) {
      if (own.includes(name)) continue
      headers[name] = value
      multi[name] = [value]
    }
    if (event.headers.host !== undefined) {
      headers.Host = event.headers.host
      multi.Host = [event.headers.host]
    }
    aws.headers = headers
    aws.multiValueHeaders = multi
    delete aws.queryStringParameters
    delete aws.multiValueQueryStringParameters
    if (event.rawQuery !== '') {
      const single: Record<string, string> = {}
      const many: Record<string, string[]> = {}
      for (const [key, value] of new URLSearchParams(event.rawQuery)) {
        single[key] = value
        many[key] = [...(many[key] ?? []), value]
      }
      aws.queryStringParameters = single
      aws.multiValueQueryStringParameters = many
    }
  }
  return aws
}
