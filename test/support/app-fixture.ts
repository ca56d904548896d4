/**
 * Test fixture: an app on a real store (memory by default, or SQLite), an in-memory
 * connections port, a manual clock and a logger whose lines the test can read.
 * Users and sessions mirror the demo: alice and bob (chat.use), mod (chat.use, chat.moderate),
 * eve (none).
 */
import { randomBytes } from 'node:crypto'
import { createApp } from '../../src/app/create-app.ts'
import type { AppOptions, User } from '../../src/app/types.ts'
import { manualClock } from '../../src/clock.ts'
import type { GatewayEvent } from '../../src/events/event.ts'
import { parseCookies } from '../../src/http/cookies.ts'
import { createLogger } from '../../src/logger.ts'
import { createMemoryConnections } from '../../src/push/memory.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { Store } from '../../src/store/store.ts'
import { TEST_GATEWAY_SECRET, TRANSPORT, throughTransport } from './transports.ts'

export const ORIGIN = 'http://127.0.0.1:3000'

export const USERS: ReadonlyMap<string, User> = new Map([
  ['alice', { id: 'alice', permissions: ['chat.use'] }],
  ['bob', { id: 'bob', permissions: ['chat.use'] }],
  ['mod', { id: 'mod', permissions: ['chat.use', 'chat.moderate'] }],
  ['eve', { id: 'eve', permissions: [] }],
  ['gone', { id: 'gone', permissions: ['chat.use'], active: false }],
])

/** Session cookie value of each user's browser. */
export const SID = {
  alice: 'sid-alice-0000000000000000',
  alice2: 'sid-alice-second-tab-000000',
  bob: 'sid-bob-00000000000000000000',
  mod: 'sid-mod-00000000000000000000',
  eve: 'sid-eve-00000000000000000000',
  gone: 'sid-gone-0000000000000000000',
} as const satisfies Record<string, string>
const SESSION_USERS = new Map<string, string>([
  [SID.alice, 'alice'],
  [SID.alice2, 'alice'],
  [SID.bob, 'bob'],
  [SID.mod, 'mod'],
  [SID.eve, 'eve'],
  [SID.gone, 'gone'],
])

export interface ConnectInput {
  sid?: string | null
  token?: string | null
  origin?: string | null
  channel?: string | null
  ip?: string
  headers?: Record<string, string>
  rawQuery?: string
  connectionId?: string
  transport?: GatewayEvent['transport']
}

let seq = 0
export function newConnectionId(): string {
  return `${randomBytes(12).toString('base64url').slice(0, 15)}=`
}

export async function appFixture(
  overrides: Partial<AppOptions> = {},
  /** `portless`: no connections port (an HTTP integration that never pushes). */
  options: { store?: Store; portless?: boolean } = {},
) {
  const clock = manualClock()
  const store = options.store ?? createMemoryStore()
  const connections = createMemoryConnections()
  const logs: string[] = []
  const logger = createLogger({
    level: 'debug',
    destination: {
      write: (line: string) => {
        logs.push(line)
      },
    },
  })
  const loadUserCalls: string[] = []
  const signed =
    TRANSPORT === 'http' && overrides.gatewaySecret === undefined && !overrides.allowUnsignedGateway
      ? { gatewaySecret: TEST_GATEWAY_SECRET }
      : {}
  const inner = createApp({
    store,
    ...(options.portless ? {} : { connections }),
    clock,
    logger,
    allowedOrigins: [ORIGIN, 'http://localhost:3000'],
    identify: (event) => {
      const sid = parseCookies(event.headers.cookie).get('sessionid') ?? null
      return { sessionId: sid, userId: sid === null ? null : (SESSION_USERS.get(sid) ?? null) }
    },
    loadUser: (id) => {
      loadUserCalls.push(id)
      return USERS.get(id) ?? null
    },
    permissions: { anyOf: ['chat.use'] },
    ...signed,
    ...overrides,
  })
  // The same app, reached through the transport under test (see ./transports.ts).
  const app = { ...inner, handle: await throughTransport(inner, clock) }

  function connectEvent(input: ConnectInput = {}): GatewayEvent {
    const params = new URLSearchParams()
    if (input.token !== null && input.token !== undefined) params.set('ws_token', input.token)
    if (input.channel !== null) params.set('channel', input.channel ?? 'lobby')
    const rawQuery = input.rawQuery ?? params.toString()
    const headers: Record<string, string> = { host: '127.0.0.1:3001' }
    if (input.origin !== null) headers.origin = input.origin ?? ORIGIN
    if (input.sid !== null) headers.cookie = `sessionid=${input.sid ?? SID.alice}; csrftoken=abc`
    Object.assign(headers, input.headers)
    const now = clock.now()
    return {
      eventType: 'CONNECT',
      routeKey: '$connect',
      connectionId: input.connectionId ?? newConnectionId(),
      headers,
      query: Object.fromEntries(new URLSearchParams(rawQuery)),
      rawQuery,
      body: undefined,
      sourceIp: input.ip ?? '203.0.113.7',
      apiId: 'testapi',
      stage: 'production',
      domainName: '127.0.0.1',
      requestId: `req-${++seq}`,
      connectedAt: now,
      requestTimeEpoch: now,
      transport: input.transport ?? { via: 'in-process' },
    }
  }

  function messageEvent(
    connectionId: string,
    body: string,
    transport?: GatewayEvent['transport'],
  ): GatewayEvent {
    const now = clock.now()
    return {
      eventType: 'MESSAGE',
      routeKey: '$default',
      connectionId,
      headers: {},
      query: {},
      rawQuery: '',
      body,
      sourceIp: '203.0.113.7',
      apiId: 'testapi',
      stage: 'production',
      domainName: '127.0.0.1',
      requestId: `req-${++seq}`,
      messageId: `msg-${seq}`,
      connectedAt: now,
      requestTimeEpoch: now,
      transport: transport ?? { via: 'in-process' },
    }
  }

  function disconnectEvent(connectionId: string): GatewayEvent {
    return {
      ...messageEvent(connectionId, ''),
      eventType: 'DISCONNECT',
      routeKey: '$disconnect',
      body: undefined,
      disconnectStatusCode: 1001,
      disconnectReason: '',
    }
  }

  /** Issue a token for a user's browser session. */
  async function issue(user: keyof typeof SID = 'alice', sid: string = SID[user]): Promise<string> {
    const result = await app.tokens.issue(user, sid)
    if (!result.ok) throw new Error(`token issue refused: ${result.reason}`)
    return result.token
  }

  /** Issue a token and connect with it; returns the connection id (the socket is "open"). */
  async function connect(
    user: keyof typeof SID = 'alice',
    input: ConnectInput = {},
  ): Promise<string> {
    const sid = input.sid ?? SID[user]
    const token = await issue(user, sid)
    const event = connectEvent({ ...input, sid, token })
    const response = await app.handle(event)
    if (response.status !== 200)
      throw new Error(`connect refused: ${response.status} ${response.body}`)
    connections.open(event.connectionId)
    return event.connectionId
  }

  return {
    app,
    /** The app itself, not reached through the transport under test. */
    core: inner,
    store,
    connections,
    clock,
    logs,
    logger,
    loadUserCalls,
    connectEvent,
    messageEvent,
    disconnectEvent,
    issue,
    connect,
  }
}

/** A store wrapper that counts calls per method (to prove "no store query"). */
export function countingStore(inner: Store): Store & { calls: Map<string, number> } {
  const calls = new Map<string, number>()
  const wrapped = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1)
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
  return Object.assign(wrapped, { calls })
}
