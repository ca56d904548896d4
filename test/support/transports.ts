/**
 * Runs the core app's tests through each way the gateway reaches an app. The transport is
 * chosen by `GATEHOUSE_TEST_TRANSPORT`:
 * - `direct` (default): `app.handle(event)`;
 * - `in-process`: the gateway's own `invoke()` with an in-process integration;
 * - `http`: the gateway's `invoke()` with an HTTP integration, signed with HMAC, over a real
 *   node:http server running `app.fetch` (the app decodes the AWS-shaped request);
 * - `lambda`: the gateway's `invoke()` with a Lambda integration calling `app.lambda`.
 * The response is what the gateway would pass on: status, body, and only the
 * `Sec-WebSocket-Protocol` and `Retry-After` headers.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { toNodeListener } from '../../src/adapters/node.ts'
import type { App } from '../../src/app/create-app.ts'
import type { Clock } from '../../src/clock.ts'
import type { GatewayEvent, GatewayResponse } from '../../src/events/event.ts'
import { integrationUrlFor } from '../../src/events/integration-request.ts'
import type { Handshake } from '../../src/gateway/handshake.ts'
import type { Integration } from '../../src/gateway/integration.ts'
import { invoke } from '../../src/gateway/integrations/invoke.ts'

export type TestTransport = 'direct' | 'in-process' | 'http' | 'lambda'

export const TRANSPORT: TestTransport = ((): TestTransport => {
  const value = process.env.GATEHOUSE_TEST_TRANSPORT ?? 'direct'
  if (value === 'direct' || value === 'in-process' || value === 'http' || value === 'lambda')
    return value
  throw new Error(
    `GATEHOUSE_TEST_TRANSPORT must be direct, in-process, http or lambda; got ${value}`,
  )
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
