/**
 * `GET /metrics` on the management listener: a plain scraper on loopback reads it without
 * SigV4; other peers need the bearer token; browsers' cross-site requests, other methods and
 * foreign Host headers are refused; the `@connections` rules are not loosened by it.
 */
import assert from 'node:assert/strict'
import { createServer, type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { isGatehouseError } from '../../../src/errors.ts'
import {
  createManagementHandler,
  createManagementServer,
  type MetricsSource,
} from '../../../src/gateway/management/server.ts'
import { recordingConnections, send } from './helpers.ts'

const STAGE = 'production'
const TOKEN = 'scrape-token-0123456789'
const source: MetricsSource = {
  contentType: 'text/plain; version=0.0.4; charset=utf-8',
  render: async () => '# HELP gatehouse_x test\ngatehouse_x 1\n',
}

async function mountAs(listener: RequestListener, peer: () => string) {
  const server = createServer((req, res) => {
    Object.defineProperty(req.socket, 'remoteAddress', { value: peer(), configurable: true })
    listener(req, res)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r())
        server.closeAllConnections()
      }),
  }
}

describe('GET /metrics on the management listener', () => {
  it('loopback scrapers read it unsigned, even when @connections needs SigV4', async () => {
    for (const auth of [
      { allowUnauthenticated: true as const },
      { credentials: [{ accessKeyId: 'AK', secretAccessKey: 'SK' }] },
    ]) {
      const server = createManagementServer({
        connections: recordingConnections(),
        stage: STAGE,
        metrics: source,
        ...auth,
      })
      const { port } = await server.listen()
      try {
        const r = await send(port, 'GET', '/metrics')
        assert.equal(r.status, 200)
        assert.equal(r.headers['content-type'], source.contentType)
        assert.equal(r.headers['cache-control'], 'no-store')
        assert.match(r.body, /^gatehouse_x 1$/m)
        const head = await send(port, 'HEAD', '/metrics')
        assert.equal(head.status, 200)
        assert.equal(head.body, '')
        // The rest of the API keeps its own rule.
        if ('credentials' in auth) {
          const push = await send(port, 'POST', `/${STAGE}/@connections/abc%3D`, {}, 'x')
          assert.equal(push.status, 403)
        }
      } finally {
        await server.close()
      }
    }
  })

  it('without a metrics source, /metrics is forbidden like any unknown path', async () => {
    const server = createManagementServer({
      connections: recordingConnections(),
      stage: STAGE,
      allowUnauthenticated: true,
    })
    const { port } = await server.listen()
    try {
      assert.equal((await send(port, 'GET', '/metrics')).status, 403)
    } finally {
      await server.close()
    }
  })

  it('refuses other methods, cross-site browser requests and foreign Host headers', async () => {
    const server = createManagementServer({
      connections: recordingConnections(),
      stage: STAGE,
      allowUnauthenticated: true,
      metrics: source,
    })
    const { port } = await server.listen()
    try {
      for (const method of ['POST', 'PUT', 'DELETE']) {
        assert.equal((await send(port, method, '/metrics', {}, 'x')).status, 403, method)
      }
      assert.equal(
        (await send(port, 'GET', '/metrics', { origin: 'http://evil.example' })).status,
        403,
      )
      for (const site of ['cross-site', 'same-site', 'same-origin']) {
        const r = await send(port, 'GET', '/metrics', { 'sec-fetch-site': site })
        assert.equal(r.status, 403, site)
      }
      // A browser typing the address itself sends `none`: allowed, as curl is.
      assert.equal((await send(port, 'GET', '/metrics', { 'sec-fetch-site': 'none' })).status, 200)
      assert.equal((await send(port, 'GET', '/metrics', { host: 'evil.example' })).status, 403)
    } finally {
      await server.close()
    }
  })

  it('other peers need the bearer token, compared exactly', async () => {
    let peer = '203.0.113.9'
    const { listener } = createManagementHandler({
      connections: recordingConnections(),
      stage: STAGE,
      credentials: [{ accessKeyId: 'AK', secretAccessKey: 'SK' }],
      metrics: source,
      metricsBearerToken: TOKEN,
      allowedHosts: ['127.0.0.1'],
    })
    const mounted = await mountAs(listener, () => peer)
    try {
      assert.equal((await send(mounted.port, 'GET', '/metrics')).status, 403)
      for (const bad of [
        `Bearer ${TOKEN}x`,
        `Bearer ${TOKEN.slice(1)}`,
        `Basic ${TOKEN}`,
        TOKEN,
        'Bearer ',
      ]) {
        const r = await send(mounted.port, 'GET', '/metrics', { authorization: bad })
        assert.equal(r.status, 403, bad)
      }
      const ok = await send(mounted.port, 'GET', '/metrics', { authorization: `Bearer ${TOKEN}` })
      assert.equal(ok.status, 200)
      peer = '::1'
      assert.equal((await send(mounted.port, 'GET', '/metrics')).status, 200)
    } finally {
      await mounted.close()
    }
  })

  it('without a bearer token, non-loopback peers never read it', async () => {
    const { listener } = createManagementHandler({
      connections: recordingConnections(),
      stage: STAGE,
      allowUnauthenticated: true,
      metrics: source,
    })
    const mounted = await mountAs(listener, () => '10.0.0.1')
    try {
      const r = await send(mounted.port, 'GET', '/metrics', { authorization: 'Bearer anything' })
      assert.equal(r.status, 403)
    } finally {
      await mounted.close()
    }
  })

  it('a short bearer token is refused at construction', () => {
    assert.throws(
      () =>
        createManagementHandler({
          connections: recordingConnections(),
          stage: STAGE,
          allowUnauthenticated: true,
          metrics: source,
          metricsBearerToken: 'short',
        }),
      (err) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
    )
  })
})
