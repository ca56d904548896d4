/**
 * The bearer-JWT recipe (docs/non-browser-clients.md, examples/bearer-jwt/) end to end: a
 * node:http connect-token endpoint, the bundled gateway and an app on 127.0.0.1 port 0,
 * JWTs signed with a fresh ES256 key by `jose`.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose'
import { WebSocket } from 'ws'
import { apiClient } from '../../examples/bearer-jwt/client.ts'
import { bearerIdentify, bearerTokenEndpoint } from '../../examples/bearer-jwt/server.ts'
import { toNodeListener } from '../../src/adapters/node.ts'
import { createApp } from '../../src/app/create-app.ts'
import type { AppOptions } from '../../src/app/types.ts'
import type { GatewayEvent } from '../../src/events/event.ts'
import { createGateway, type Gateway } from '../../src/gateway/index.ts'
import { createMemoryStore } from '../../src/store/memory.ts'

const ISSUER = 'https://auth.example'
const AUDIENCE = 'chat-api'
const keys = await generateKeyPair('ES256')
const opts = { key: keys.publicKey, issuer: ISSUER, audience: AUDIENCE }

async function jwt(
  claims: { sub?: string; sid?: string },
  o: { key?: CryptoKey; exp?: string; iss?: string } = {},
) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(o.iss ?? ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(o.exp ?? '5m')
    .sign(o.key ?? keys.privateKey)
}

interface Stack {
  gateway: Gateway
  server: Server
  wsUrl: string
  tokenUrl: string
}

async function stack(extra: Partial<AppOptions> = {}): Promise<Stack> {
  const app = createApp({
    store: createMemoryStore(),
    identify: bearerIdentify(opts),
    loadUser: (id) =>
      id === 'banned' ? { id, permissions: [], active: false } : { id, permissions: ['chat.use'] },
    permissions: { anyOf: ['chat.use'] },
    handlers: { whoami: (ctx) => ({ user: ctx.user?.id }) },
    ...extra,
  })
  const toApp = { handle: (event: GatewayEvent) => app.handle(event) }
  const gateway = createGateway({
    port: 0,
    routes: {
      $connect: { type: 'in-process', handler: toApp },
      $disconnect: { type: 'in-process', handler: toApp },
      $default: { type: 'in-process', handler: toApp, twoWay: true },
    },
  })
  const { port } = await gateway.listen()
  const server = createServer(toNodeListener(bearerTokenEndpoint(app, opts)))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const tokenPort = (server.address() as AddressInfo).port
  return {
    gateway,
    server,
    wsUrl: `ws://127.0.0.1:${port}/`,
    tokenUrl: `http://127.0.0.1:${tokenPort}/`,
  }
}

/** The upgrade's outcome for a raw `ws` client: 101, or the refusal status. */
function upgrade(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers })
    ws.on('open', () => {
      ws.close()
      resolve(101)
    })
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0)
      ws.terminate()
    })
    ws.on('error', () => {})
  })
}

async function connectToken(s: Stack, bearer: string): Promise<Response> {
  return fetch(s.tokenUrl, { method: 'POST', headers: { authorization: `Bearer ${bearer}` } })
}

describe('bearer JWT clients, connect token required (the default)', () => {
  let s: Stack
  before(async () => {
    s = await stack()
  })
  after(async () => {
    await s.gateway.close()
    await new Promise((r) => s.server.close(r))
  })

  it('the example client connects and its requests run as the JWT’s user', async () => {
    const token = await jwt({ sub: 'alice', sid: 'device-1' })
    const client = apiClient(s.wsUrl, s.tokenUrl, () => token)
    client.connect()
    await new Promise<void>((r) => client.on('open', () => r()))
    assert.deepEqual(await client.request('whoami', {}), { user: 'alice' })
    client.close()
  })

  it('a valid JWT alone does not open a socket: the connect token is still required', async () => {
    const bearer = await jwt({ sub: 'alice', sid: 'device-1' })
    assert.equal(await upgrade(s.wsUrl, { authorization: `Bearer ${bearer}` }), 401)
  })

  it('a connect token works once, and only with the JWT of its session', async () => {
    const bearer = await jwt({ sub: 'alice', sid: 'device-1' })
    const { token } = (await (await connectToken(s, bearer)).json()) as { token: string }
    const url = `${s.wsUrl}?ws_token=${token}`
    const otherDevice = await jwt({ sub: 'alice', sid: 'device-2' })
    assert.equal(await upgrade(url, {}), 401, 'no JWT')
    assert.equal(
      await upgrade(url, { authorization: `Bearer ${otherDevice}` }),
      401,
      'other session',
    )
    assert.equal(await upgrade(url, { authorization: `Bearer ${bearer}` }), 101)
    assert.equal(await upgrade(url, { authorization: `Bearer ${bearer}` }), 401, 'single use')
  })

  it('the token endpoint refuses forged, expired, foreign and malformed JWTs', async () => {
    const other = await generateKeyPair('ES256')
    const forged = await jwt({ sub: 'alice', sid: 'x' }, { key: other.privateKey })
    const expired = await jwt({ sub: 'alice', sid: 'x' }, { exp: '-1m' })
    const foreign = await jwt({ sub: 'alice', sid: 'x' }, { iss: 'https://evil.example' })
    const noSid = await jwt({ sub: 'alice' })
    // alg "none" and an HMAC token keyed with the public key must not pass either.
    const pub = await exportJWK(keys.publicKey)
    const hsKey = await importJWK(
      { kty: 'oct', k: Buffer.from(JSON.stringify(pub)).toString('base64url') },
      'HS256',
    )
    const hs = await new SignJWT({ sub: 'alice', sid: 'x' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(hsKey)
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'alice', sid: 'x', iss: ISSUER, aud: AUDIENCE, exp: 9e9 })).toString('base64url')}.`
    for (const bad of [forged, expired, foreign, noSid, hs, none, 'garbage']) {
      assert.equal((await connectToken(s, bad)).status, 401, bad.slice(0, 20))
    }
    assert.equal((await connectToken(s, await jwt({ sub: 'alice', sid: 'x' }))).status, 200)
  })
})

describe('bearer JWT clients, with the per-app opt-out identifyAuthenticates', () => {
  let s: Stack
  before(async () => {
    s = await stack({ identifyAuthenticates: true })
  })
  after(async () => {
    await s.gateway.close()
    await new Promise((r) => s.server.close(r))
  })

  it('the JWT alone opens a socket; no JWT, a bad one or an inactive user do not', async () => {
    const good = await jwt({ sub: 'alice', sid: 'device-1' })
    assert.equal(await upgrade(s.wsUrl, { authorization: `Bearer ${good}` }), 101)
    assert.equal(await upgrade(s.wsUrl, {}), 401)
    const expired = await jwt({ sub: 'alice', sid: 'device-1' }, { exp: '-1m' })
    assert.equal(await upgrade(s.wsUrl, { authorization: `Bearer ${expired}` }), 401)
    const banned = await jwt({ sub: 'banned', sid: 'd' })
    assert.equal(await upgrade(s.wsUrl, { authorization: `Bearer ${banned}` }), 403)
  })
})

describe('docs/non-browser-clients.md', () => {
  it('shows the example files byte for byte, as a package user imports them', async () => {
    const { readFile } = await import('node:fs/promises')
    const read = (p: string) => readFile(new URL(`../../${p}`, import.meta.url), 'utf8')
    const doc = await read('docs/non-browser-clients.md')
    const published = (src: string) =>
      src
        .replaceAll("'../../src/client/index.ts'", "'gatehouse/client'")
        .replaceAll("'../../src/index.ts'", "'gatehouse'")
    for (const file of ['examples/bearer-jwt/server.ts', 'examples/bearer-jwt/client.ts']) {
      assert.ok(doc.includes(`\`\`\`ts\n${published(await read(file))}\`\`\``), file)
    }
    assert.ok(doc.includes('identifyAuthenticates: true'))
  })
})
