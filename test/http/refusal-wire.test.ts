/**
 * Every refusal on the wire has the one body shape: raw TCP sockets (node:net) send hand-written
 * HTTP upgrade requests to the bundled gateway in front of a real app, and hand-written
 * requests to the token endpoint, and read the bytes that come back. Whatever refuses (the
 * app through the gateway, the gateway itself, the token endpoint) and whatever the status
 * (400, 401, 403, 405, 414, 426, 429, 502, 503, 504), the body is exactly
 * `{"message": <status text>}` with `Content-Type: application/json`, and the reason stays in
 * the log.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { toNodeListener } from '../../src/adapters/node.ts'
import { type App, createApp } from '../../src/app/create-app.ts'
import type { AppOptions } from '../../src/app/types.ts'
import { GatehouseError } from '../../src/errors.ts'
import type { GatewayEvent } from '../../src/events/event.ts'
import { createGateway, type Gateway } from '../../src/gateway/gateway.ts'
import type { GatewayOptions } from '../../src/gateway/options.ts'
import { refusalBody, STATUS_TEXT } from '../../src/http/refusal.ts'
import { createLogger } from '../../src/logger.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { Store } from '../../src/store/store.ts'

const ORIGIN = 'http://127.0.0.1:3000'
const SESSION = 'session-alice'
const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='

interface RawAnswer {
  readonly status: number
  /** Lower-case names. */
  readonly headers: Record<string, string>
  readonly body: string
}

/** Decode a chunked body (RFC 9112 §7.1), as a client would. */
function unchunk(body: Buffer): Buffer {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const eol = body.indexOf('\r\n', at)
    if (eol === -1) throw new Error('truncated chunked body')
    const size = Number.parseInt(body.subarray(at, eol).toString('latin1'), 16)
    if (size === 0) return Buffer.concat(parts)
    parts.push(body.subarray(eol + 2, eol + 2 + size))
    at = eol + 2 + size + 2
  }
}

/**
 * Send `request` as written on a fresh TCP connection and read one answer: its head, then its
 * body by `Content-Length`, or to the end of the connection when chunked; a `101` resolves at
 * its head (the socket stays open until `close()`).
 */
function raw(port: number, request: string): Promise<RawAnswer & { close(): void }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = Buffer.alloc(0)
    let done = false
    const finish = (ended: boolean): void => {
      const end = data.indexOf('\r\n\r\n')
      if (end === -1 || done) return
      const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const i = line.indexOf(':')
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
      }
      const status = Number(statusLine.split(' ')[1])
      let body: Buffer = data.subarray(end + 4)
      if (status !== 101) {
        const length = headers['content-length']
        if (length !== undefined && body.length < Number(length)) return
        if (length === undefined && !ended) return
        if (headers['transfer-encoding'] === 'chunked') body = unchunk(body)
      }
      done = true
      resolve({ status, headers, body: body.toString('utf8'), close: () => socket.destroy() })
      if (status !== 101) socket.destroy()
    }
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk])
      finish(false)
    })
    socket.on('end', () => {
      finish(true)
      if (!done) reject(new Error(`no HTTP answer: ${JSON.stringify(data.toString('latin1'))}`))
      socket.destroy()
    })
    socket.on('error', reject)
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer in time')))
    socket.write(request)
  })
}

/** A WebSocket upgrade request, byte for byte; `headers` replace or add to the defaults. */
function upgradeRequest(
  path: string,
  headers: Record<string, string | null> = {},
  method = 'GET',
): string {
  const all: Record<string, string | null> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': KEY,
    'Sec-WebSocket-Version': '13',
    Origin: ORIGIN,
    Cookie: `sessionid=${SESSION}`,
    ...headers,
  }
  const lines = Object.entries(all)
    .filter((e): e is [string, string] => e[1] !== null)
    .map(([k, v]) => `${k}: ${v}`)
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`
}

/** The one refusal shape, checked on the bytes. */
function assertRefusal(answer: RawAnswer, status: number, what: string): void {
  assert.equal(answer.status, status, what)
  assert.equal(answer.headers['content-type'], 'application/json', `${what}: content-type`)
  if (answer.headers['transfer-encoding'] !== 'chunked') {
    assert.equal(
      answer.headers['content-length'],
      String(Buffer.byteLength(answer.body)),
      `${what}: content-length`,
    )
  }
  assert.equal(answer.body, refusalBody(status), `${what}: body`)
  assert.deepEqual(JSON.parse(answer.body), { message: STATUS_TEXT[status] }, what)
}

interface Stack {
  readonly app: App
  readonly gateway: Gateway
  readonly port: number
  readonly logs: Array<Record<string, unknown>>
}

const stacks: Stack[] = []
const servers: Server[] = []

function captureLogger(logs: Array<Record<string, unknown>>) {
  return createLogger({
    level: 'debug',
    destination: {
      write: (line: string) => {
        logs.push(JSON.parse(line) as Record<string, unknown>)
      },
    },
  })
}

/** A real app behind a real bundled gateway (in-process integration), both logging to `logs`. */
async function stack(
  appOptions: Partial<AppOptions> = {},
  gatewayOptions: GatewayOptions = {},
): Promise<Stack> {
  const logs: Array<Record<string, unknown>> = []
  const logger = captureLogger(logs)
  let app: App | undefined
  const handler = { handle: (event: GatewayEvent) => (app as App).handle(event) }
  const gateway = createGateway({
    host: '127.0.0.1',
    port: 0,
    logger,
    routes: {
      $connect: { type: 'in-process', handler },
      $disconnect: { type: 'in-process', handler },
    },
    ...gatewayOptions,
  })
  app = createApp({
    store: createMemoryStore(),
    connections: gateway.connections,
    logger,
    allowedOrigins: [ORIGIN],
    identify: (event) => {
      const sid = /sessionid=([^;]+)/.exec(event.headers.cookie ?? '')?.[1] ?? null
      return { sessionId: sid, userId: sid === SESSION ? 'alice' : null }
    },
    loadUser: (id) => (id === 'alice' ? { id, permissions: ['chat.use'] } : null),
    permissions: { anyOf: ['chat.use'] },
    ...appOptions,
  })
  const { port } = await gateway.listen()
  const s = { app, gateway, port, logs }
  stacks.push(s)
  return s
}

async function token(app: App): Promise<string> {
  const issued = await app.tokens.issue('alice', SESSION)
  assert.ok(issued.ok)
  return issued.token
}

function reasonsLogged(logs: ReadonlyArray<Record<string, unknown>>): unknown[] {
  return logs.filter((l) => typeof l.reason === 'string').map((l) => l.reason)
}

/** A store whose every call fails as unavailable. */
function downStore(): Store {
  const inner = createMemoryStore()
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function' || prop === 'close') return value
      return () => Promise.reject(new GatehouseError('ERR_STORE_UNAVAILABLE', 'down'))
    },
  })
}

after(async () => {
  for (const s of stacks) await s.gateway.close({ drainMs: 100 })
  for (const s of servers) await new Promise((r) => s.close(r))
})

describe('refusals on the wire: the app through the bundled gateway', () => {
  let s: Stack
  before(async () => {
    s = await stack()
  })

  it('400: an invalid channel name', async () => {
    const t = await token(s.app)
    assertRefusal(
      await raw(s.port, upgradeRequest(`/?ws_token=${t}&channel=..%2Fx`)),
      400,
      'channel',
    )
    assert.ok(reasonsLogged(s.logs).includes('channel_invalid'))
  })

  it('401: no token', async () => {
    assertRefusal(await raw(s.port, upgradeRequest('/?channel=lobby')), 401, 'no token')
    assertRefusal(
      await raw(s.port, upgradeRequest('/?ws_token=forged&channel=lobby')),
      401,
      'forged token',
    )
    assert.ok(reasonsLogged(s.logs).includes('token_missing'))
  })

  it('403: a foreign Origin', async () => {
    const t = await token(s.app)
    const answer = await raw(
      s.port,
      upgradeRequest(`/?ws_token=${t}&channel=lobby`, { Origin: 'https://evil.test' }),
    )
    assertRefusal(answer, 403, 'origin')
    assert.doesNotMatch(answer.body, /origin/i, 'the reason stays in the log')
    assert.ok(reasonsLogged(s.logs).includes('origin_forbidden'))
  })

  it('the gateway relays the status and writes the body itself (connect_refused)', () => {
    assert.ok(reasonsLogged(s.logs).includes('connect_refused'))
  })

  it('101: a valid upgrade still opens (the refusals above are not the only answer)', async () => {
    const answer = await raw(
      s.port,
      upgradeRequest(`/?ws_token=${await token(s.app)}&channel=lobby`),
    )
    assert.equal(answer.status, 101)
    answer.close()
  })
})

describe('refusals on the wire: the app over its limits and outages', () => {
  it('429: the connect rate, with Retry-After', async () => {
    // The IP's budget counts failed token attempts: one spends it.
    const s = await stack({ connectFailureLimitPerIp: 1 })
    const first = await raw(s.port, upgradeRequest(`/?ws_token=${'A'.repeat(43)}&channel=a`))
    assert.equal(first.status, 401)
    first.close()
    const second = await raw(s.port, upgradeRequest(`/?ws_token=${await token(s.app)}&channel=a`))
    assertRefusal(second, 429, 'connect rate')
    assert.match(second.headers['retry-after'] ?? '', /^\d+$/)
    assert.ok(reasonsLogged(s.logs).includes('rate_limited'))
  })

  it('503: the store is down', async () => {
    const s = await stack({ store: downStore() })
    assertRefusal(await raw(s.port, upgradeRequest('/?ws_token=x&channel=a')), 503, 'store down')
    assert.ok(reasonsLogged(s.logs).includes('store_unavailable'))
  })
})

describe('refusals on the wire: the gateway itself', () => {
  let s: Stack
  before(async () => {
    s = await stack({}, { maxUrlLength: 200, maxConnectionsPerIp: 1, retryAfterSeconds: 3 })
  })

  it('400: a malformed handshake', async () => {
    assertRefusal(
      await raw(s.port, upgradeRequest('/', { 'Sec-WebSocket-Key': 'short' })),
      400,
      'key',
    )
    assertRefusal(
      await raw(s.port, upgradeRequest('/', { 'Sec-WebSocket-Version': '12' })),
      400,
      'version',
    )
    assert.ok(reasonsLogged(s.logs).includes('handshake_invalid'))
  })

  it('403: a path other than / or /{stage}', async () => {
    assertRefusal(await raw(s.port, upgradeRequest('/nope')), 403, 'path')
    assert.ok(reasonsLogged(s.logs).includes('path_forbidden'))
  })

  it('405: not GET', async () => {
    const answer = await raw(s.port, upgradeRequest('/', {}, 'POST'))
    assertRefusal(answer, 405, 'method')
    assert.equal(answer.headers.allow, 'GET')
  })

  it('414: a URL over maxUrlLength', async () => {
    assertRefusal(await raw(s.port, upgradeRequest(`/?${'x'.repeat(300)}`)), 414, 'url')
  })

  it('426: a plain HTTP request', async () => {
    const answer = await raw(
      s.port,
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    )
    assertRefusal(answer, 426, 'plain request')
  })

  it('429: over maxConnectionsPerIp, with Retry-After', async () => {
    const open = await raw(s.port, upgradeRequest(`/?ws_token=${await token(s.app)}&channel=a`))
    assert.equal(open.status, 101)
    const refused = await raw(s.port, upgradeRequest(`/?ws_token=${await token(s.app)}&channel=a`))
    open.close()
    assertRefusal(refused, 429, 'per-address cap')
    assert.equal(refused.headers['retry-after'], '3')
    assert.ok(reasonsLogged(s.logs).includes('max_connections_per_ip'))
  })

  it('502: $connect failed', async () => {
    const logs: Array<Record<string, unknown>> = []
    const failing = { handle: () => Promise.reject(new Error('backend down')) }
    const gateway = createGateway({
      host: '127.0.0.1',
      port: 0,
      logger: captureLogger(logs),
      routes: { $connect: { type: 'in-process', handler: failing } },
    })
    const { port } = await gateway.listen()
    stacks.push({ app: s.app, gateway, port, logs })
    const answer = await raw(port, upgradeRequest('/'))
    assertRefusal(answer, 502, 'integration failed')
    assert.doesNotMatch(answer.body, /backend down/)
    assert.ok(reasonsLogged(logs).includes('integration_failed'))
  })

  it('504: $connect took longer than integrationTimeoutMs', async () => {
    const slow = await stack(
      { connectChecks: [() => new Promise<boolean>((r) => setTimeout(() => r(true), 400))] },
      { integrationTimeoutMs: 50 },
    )
    const t = await token(slow.app)
    assertRefusal(await raw(slow.port, upgradeRequest(`/?ws_token=${t}&channel=a`)), 504, 'timeout')
    assert.ok(reasonsLogged(slow.logs).includes('integration_timeout'))
  })

  it('503: the gateway closes while $connect runs', async () => {
    const closing = await stack({
      connectChecks: [() => new Promise<boolean>((r) => setTimeout(() => r(true), 300))],
    })
    const t = await token(closing.app)
    const answer = raw(closing.port, upgradeRequest(`/?ws_token=${t}&channel=a`))
    await new Promise((r) => setTimeout(r, 50))
    const closed = closing.gateway.close({ drainMs: 50 })
    assertRefusal(await answer, 503, 'closing')
    await closed
    assert.ok(reasonsLogged(closing.logs).includes('gateway_closing'))
  })
})

describe('refusals on the wire: the token endpoint', () => {
  async function mount(app: App): Promise<number> {
    const endpoint = app.tokenEndpoint({
      authenticate: async (req) =>
        /sessionid=session-alice/.test(req.headers.get('cookie') ?? '')
          ? { userId: 'alice', sessionId: SESSION }
          : null,
    })
    const server = createServer(toNodeListener(endpoint))
    servers.push(server)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    return (server.address() as AddressInfo).port
  }

  function post(headers: Record<string, string>, method = 'POST'): string {
    const all = { Host: '127.0.0.1', Connection: 'close', 'Content-Length': '0', ...headers }
    const lines = Object.entries(all).map(([k, v]) => `${k}: ${v}`)
    return `${method} /api/ws-token/ HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`
  }

  const csrf = { Cookie: 'sessionid=session-alice; csrftoken=abc', 'X-CSRFToken': 'abc' }

  it('403, 405 and 503 have the one shape; 200 is the token', async () => {
    const s = await stack()
    const port = await mount(s.app)
    assertRefusal(await raw(port, post({ Cookie: 'sessionid=session-alice' })), 403, 'no csrf')
    assertRefusal(
      await raw(port, post({ ...csrf, 'Sec-Fetch-Site': 'cross-site' })),
      403,
      'cross-site',
    )
    const wrongMethod = await raw(port, post(csrf, 'PUT'))
    assertRefusal(wrongMethod, 405, 'method')
    assert.equal(wrongMethod.headers.allow, 'POST')
    const ok = await raw(port, post(csrf))
    assert.equal(ok.status, 200)
    assert.deepEqual(Object.keys(JSON.parse(ok.body)).sort(), ['expires_in', 'token'])

    const down = await stack({ store: downStore() })
    assertRefusal(await raw(await mount(down.app), post(csrf)), 503, 'store down')
  })
})
