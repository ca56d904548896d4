/**
 * Shared fixtures of the event codec tests: one base event per type, a Node request →
 * Fetch `Request` bridge, and a loopback server that records what reaches it.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import type { GatewayEvent } from '../../src/events/event.ts'

export const T0 = 1_705_751_700_453
export const SECRET = 'test-secret-0123456789abcdef'

export const CONNECT_RAW_HEADERS: readonly string[] = [
  'Host',
  'gw.example.test:8080',
  'Connection',
  'Upgrade',
  'Upgrade',
  'websocket',
  'Cookie',
  'sessionid=abc; csrftoken=def',
  'Origin',
  'https://app.example.test',
  'User-Agent',
  'Mozilla/5.0 Test',
  'Sec-WebSocket-Key',
  'dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version',
  '13',
  'Sec-WebSocket-Extensions',
  'permessage-deflate; client_max_window_bits',
  'Sec-WebSocket-Protocol',
  'gatehouse.v1',
  'X-Custom-Thing',
  'Custom Value',
]

/** A `$connect` event as the gateway builds it. */
export function connectEvent(overrides: Partial<GatewayEvent> = {}): GatewayEvent {
  return {
    eventType: 'CONNECT',
    routeKey: '$connect',
    connectionId: 'R1kmxc2VNjMCFIA=',
    headers: {
      host: 'gw.example.test:8080',
      cookie: 'sessionid=abc; csrftoken=def',
      origin: 'https://app.example.test',
      'user-agent': 'Mozilla/5.0 Test',
    },
    query: { ws_token: 'tok', channel: 'room1' },
    rawQuery: 'ws_token=tok&channel=room1',
    body: undefined,
    sourceIp: '203.0.113.7',
    userAgent: 'Mozilla/5.0 Test',
    apiId: 'abc123',
    stage: 'prod',
    domainName: 'gw.example.test',
    requestId: 'R1knPH17NjMFftw=',
    connectedAt: T0,
    requestTimeEpoch: T0,
    transport: { via: 'in-process' },
    ...overrides,
  }
}

/** A message event on route `$default`. */
export function messageEvent(overrides: Partial<GatewayEvent> = {}): GatewayEvent {
  return connectEvent({
    eventType: 'MESSAGE',
    routeKey: '$default',
    headers: {},
    query: {},
    rawQuery: '',
    body: '{"action":"ping","n":1}',
    requestId: 'R1knPc2ntjMCFIB=',
    messageId: 'R1knPc2ntjMCFIA=',
    requestTimeEpoch: T0 + 3000,
    ...overrides,
  })
}

/** A `$disconnect` event. */
export function disconnectEvent(overrides: Partial<GatewayEvent> = {}): GatewayEvent {
  return connectEvent({
    eventType: 'DISCONNECT',
    routeKey: '$disconnect',
    headers: {},
    query: {},
    rawQuery: '',
    requestId: 'R1koeHsUtjMFbRw=',
    requestTimeEpoch: T0 + 10_000,
    disconnectStatusCode: 1001,
    disconnectReason: 'going away',
    ...overrides,
  })
}

/** A Node request as a Fetch `Request` (what an adapter does), keeping every header. */
export function toFetchRequest(req: http.IncomingMessage): Request {
  const headers = new Headers()
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string)
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
  return new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, {
    method: req.method ?? 'GET',
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : null,
    duplex: 'half',
  } as RequestInit)
}

export interface Recorded {
  readonly method: string
  readonly url: string
  readonly rawHeaders: readonly string[]
  readonly body: string
}

/** A loopback server on port 0; `handler` answers, `received` records every request. */
export async function startServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void,
): Promise<{ url: string; port: number; received: Recorded[]; close(): Promise<void> }> {
  const received: Recorded[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        rawHeaders: [...req.rawHeaders],
        body,
      })
      handler(req, res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Header pairs from a flat raw list. */
export function pairs(raw: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] as string, raw[i + 1] as string])
  return out
}
