/**
 * A thrown error, through every path that logs one, reaches the log with its message and
 * stack (never `"err":{}`), and no token, cookie or CSRF value that travelled with the
 * request reaches any line. The real logger (pino + redaction) writes every line here.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import WebSocket from 'ws'
import { createApp } from '../src/app/create-app.ts'
import type { GatewayEvent } from '../src/events/event.ts'
import { createGateway } from '../src/gateway/gateway.ts'
import { createManagementServer } from '../src/gateway/management/server.ts'
import { createLogger } from '../src/logger.ts'
import { createMemoryConnections } from '../src/push/memory.ts'
import { createMemoryStore } from '../src/store/memory.ts'

const TOKEN = 'TOKENsecretTOKENsecretTOKENsecretTOKENsecre'
const SESSION = 'SESSIONsecretSESSIONsecret'
const CSRF = 'CSRFsecretCSRFsecretCSRFsecret'
const COOKIE = `sessionid=${SESSION}; csrftoken=${CSRF}`

function captured() {
  const lines: Record<string, unknown>[] = []
  const raw: string[] = []
  const logger = createLogger({
    level: 'debug',
    destination: {
      write: (line: string) => {
        raw.push(line)
        lines.push(JSON.parse(line) as Record<string, unknown>)
      },
    },
  })
  return { logger, lines, raw }
}

/** The line of `event` whose error carries `message`, with a stack naming this file. */
function assertErrorLogged(lines: Record<string, unknown>[], event: string, message: string): void {
  const line = lines.find((l) => l.event === event && JSON.stringify(l.err ?? {}).includes(message))
  assert.ok(
    line,
    `no ${event} line with "${message}": ${JSON.stringify(lines.map((l) => l.event))}`,
  )
  const err = line.err as { message?: string; stack?: string }
  assert.match(String(err.message), new RegExp(message))
  assert.match(String(err.stack), /logging-errors\.test\.ts/, `${event}: the stack is kept`)
}

function assertNoSecrets(raw: string[]): void {
  const text = raw.join('\n')
  for (const secret of [TOKEN, SESSION, CSRF]) assert.ok(!text.includes(secret), `${secret} logged`)
}

const baseEvent = (over: Partial<GatewayEvent>): GatewayEvent => ({
  eventType: 'CONNECT',
  routeKey: '$connect',
  connectionId: 'R1kmxc2VNjMCFIA=',
  headers: {
    host: '127.0.0.1',
    cookie: COOKIE,
    origin: 'http://127.0.0.1:3000',
    'x-csrftoken': CSRF,
  },
  query: { ws_token: TOKEN, channel: 'lobby' },
  rawQuery: `ws_token=${TOKEN}&channel=lobby`,
  body: undefined,
  sourceIp: '203.0.113.7',
  apiId: 'api',
  stage: 'production',
  domainName: '127.0.0.1',
  requestId: 'req-1',
  connectedAt: Date.now(),
  requestTimeEpoch: Date.now(),
  transport: { via: 'in-process' },
  ...over,
})

describe('errors in the log: message and stack, no secrets', () => {
  it('app paths: $connect, handler, hooks, push, token endpoint', async () => {
    const { logger, lines, raw } = captured()
    const store = createMemoryStore()
    const connections = createMemoryConnections()
    let identifyThrows = true
    const app = createApp({
      store,
      connections: {
        ...connections,
        post: async () => {
          throw new Error('boom-push')
        },
      },
      logger,
      allowedOrigins: ['http://127.0.0.1:3000'],
      useToken: false,
      identify: () => {
        if (identifyThrows) throw new Error('boom-connect')
        return { sessionId: SESSION }
      },
      onConnect: () => {
        throw new Error('boom-onconnect')
      },
      onDisconnect: () => {
        throw new Error('boom-ondisconnect')
      },
      handlers: {
        fail: () => {
          throw new Error('boom-handler')
        },
        push: async (ctx) => {
          await ctx.send.toConnection(ctx.event.connectionId, 'x')
        },
      },
    })
    assert.equal((await app.handle(baseEvent({}))).status, 500)
    assertErrorLogged(lines, 'internal_error', 'boom-connect')
    identifyThrows = false
    assert.equal((await app.handle(baseEvent({}))).status, 200)
    assertErrorLogged(lines, 'hook_failed', 'boom-onconnect')
    const message = (body: string) =>
      baseEvent({ eventType: 'MESSAGE', routeKey: '$default', body, headers: { cookie: COOKIE } })
    await app.handle(message('{"action":"fail"}'))
    assertErrorLogged(lines, 'handler_failed', 'boom-handler')
    await app.handle(message('{"action":"push"}'))
    assertErrorLogged(lines, 'push_failed', 'boom-push')
    await app.handle(baseEvent({ eventType: 'DISCONNECT', routeKey: '$disconnect' }))
    assertErrorLogged(lines, 'hook_failed', 'boom-ondisconnect')

    const endpoint = app.tokenEndpoint({
      authenticate: async () => {
        throw new Error('boom-authenticate')
      },
    })
    const res = await endpoint(
      new Request('http://127.0.0.1:3000/api/ws-token/', {
        method: 'POST',
        headers: { cookie: COOKIE, 'x-csrftoken': CSRF },
      }),
    )
    assert.equal(res.status, 500)
    assertErrorLogged(lines, 'token_request_rejected', 'boom-authenticate')
    assertNoSecrets(raw)
  })

  it('gateway paths: $connect, message and $disconnect integrations, management API', async () => {
    const { logger, lines, raw } = captured()
    let connectThrows = true
    const gateway = createGateway({
      port: 0,
      logger,
      routes: {
        $connect: {
          type: 'in-process',
          handler: {
            handle: async () => {
              if (connectThrows) throw new Error('boom-gw-connect')
              return { status: 200 }
            },
          },
        },
        $default: {
          type: 'in-process',
          handler: {
            handle: async () => {
              throw new Error('boom-gw-message')
            },
          },
        },
        $disconnect: {
          type: 'in-process',
          handler: {
            handle: async () => {
              throw new Error('boom-gw-disconnect')
            },
          },
        },
      },
    })
    const { url } = await gateway.listen()
    const management = createManagementServer({
      connections: {
        ...gateway.connections,
        post: async () => {
          throw new Error('boom-management')
        },
      },
      stage: gateway.stage,
      allowUnauthenticated: true,
      logger,
    })
    const { url: mgmtUrl } = await management.listen()
    try {
      const target = `${url}?ws_token=${TOKEN}&channel=lobby`
      const refused = await new Promise<number>((resolve) => {
        const ws = new WebSocket(target, { headers: { cookie: COOKIE } })
        ws.once('unexpected-response', (_req, r) => resolve(r.statusCode ?? 0))
        ws.on('error', () => {})
      })
      assert.equal(refused, 502)
      assertErrorLogged(lines, 'integration_failed', 'boom-gw-connect')
      connectThrows = false
      const ws = new WebSocket(target, { headers: { cookie: COOKIE } })
      await new Promise((resolve) => ws.once('open', resolve))
      const reply = new Promise((resolve) => ws.once('message', resolve))
      ws.send('{"action":"x"}')
      await reply
      assertErrorLogged(lines, 'integration_failed', 'boom-gw-message')
      const r = await fetch(`${mgmtUrl}/@connections/R1kmxc2VNjMCFIA%3D`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '"x"',
      })
      assert.equal(r.status, 500)
      assertErrorLogged(lines, 'management_error', 'boom-management')
      ws.close()
      await new Promise((resolve) => ws.once('close', resolve))
      await gateway.close()
      assertErrorLogged(lines, 'integration_failed', 'boom-gw-disconnect')
    } finally {
      await gateway.close()
      await management.close()
    }
    assertNoSecrets(raw)
  })
})
