import assert from 'node:assert/strict'
import nodeCrypto from 'node:crypto'
import { syncBuiltinESMExports } from 'node:module'
import { after, before, describe, it } from 'node:test'
import { isGatehouseError } from '../../src/errors.ts'
import { createManagementServer } from '../../src/gateway/management/server.ts'
import { createManagementApiConnections } from '../../src/push/management-api.ts'
import { createMemoryConnections, type MemoryConnections } from '../../src/push/memory.ts'

const CREDS = { accessKeyId: 'AKLOCAL', secretAccessKey: 'local-secret' }

describe('createManagementApiConnections against the bundled management API', () => {
  let memory: MemoryConnections
  let server: ReturnType<typeof createManagementServer>
  let url: string
  const requests: string[] = []
  before(async () => {
    memory = createMemoryConnections()
    server = createManagementServer({
      connections: memory,
      stage: 'production',
      credentials: [CREDS],
    })
    server.server.on('request', (req) => requests.push(`${req.method} ${req.url}`))
    url = (await server.listen()).url
  })
  after(() => server.close())

  it('post, get and delete a live connection; gone afterwards', async () => {
    const c = createManagementApiConnections({ endpoint: url, credentials: CREDS })
    memory.open('live=', { sourceIp: '192.0.2.1', userAgent: 'UA' })
    assert.equal(await c.post('live=', '{"x":1}'), true)
    assert.equal(await c.post('live=', new TextEncoder().encode('bytes')), true)
    assert.deepEqual(memory.received('live='), ['{"x":1}', 'bytes'])
    const info = await c.get('live=')
    assert.ok(info)
    assert.equal(info.sourceIp, '192.0.2.1')
    assert.equal(info.userAgent, 'UA')
    assert.equal(typeof info.connectedAt, 'number')
    assert.ok(info.lastActiveAt >= info.connectedAt)
    assert.equal(await c.delete('live='), true)
    assert.equal(await c.post('live=', 'x'), false)
    assert.equal(await c.get('live='), null)
    assert.equal(await c.delete('live='), false)
    assert.ok(requests.includes('POST /production/@connections/live%3D'))
  })

  it('an endpoint with a trailing slash works the same', async () => {
    const c = createManagementApiConnections({ endpoint: `${url}/`, credentials: CREDS })
    memory.open('slash=')
    assert.equal(await c.post('slash=', 'x'), true)
  })

  it('wrong credentials surface as ERR_INTEGRATION_FAILED (403), never as gone', async () => {
    const c = createManagementApiConnections({
      endpoint: url,
      credentials: { accessKeyId: 'AKLOCAL', secretAccessKey: 'nope' },
    })
    memory.open('w=')
    await assert.rejects(c.post('w=', 'x'), (err) => {
      assert.ok(isGatehouseError(err, 'ERR_INTEGRATION_FAILED'))
      assert.match(err.message, /403 ForbiddenException/)
      return true
    })
    const unsigned = createManagementApiConnections({ endpoint: url })
    await assert.rejects(unsigned.get('w='), (err) =>
      isGatehouseError(err, 'ERR_INTEGRATION_FAILED'),
    )
    assert.deepEqual(memory.received('w='), [])
  })

  it('413 surfaces as ERR_MESSAGE_TOO_LARGE', async () => {
    const c = createManagementApiConnections({ endpoint: url, credentials: CREDS })
    memory.open('big=')
    await assert.rejects(c.post('big=', 'x'.repeat(131_073)), (err) =>
      isGatehouseError(err, 'ERR_MESSAGE_TOO_LARGE'),
    )
  })

  it('postMany with useFanout makes one call per batch and reports gone ids', async () => {
    const ids = ['f1=', 'f2=', 'f3=', 'f4=', 'f5=']
    for (const id of ids.slice(0, 4)) memory.open(id)
    const c = createManagementApiConnections({
      endpoint: url,
      credentials: CREDS,
      useFanout: true,
      fanoutBatchSize: 2,
    })
    const before = requests.length
    const result = await c.postMany(ids, 'fan')
    assert.equal(result.sent, 4)
    assert.deepEqual(result.gone, ['f5='])
    const made = requests.slice(before)
    assert.deepEqual(made, Array(3).fill('POST /production/@connections'))
    for (const id of ids.slice(0, 4)) assert.deepEqual(memory.received(id), ['fan'])
  })

  it('postMany without fan-out posts to each id and reports gone ids', async () => {
    const ids = ['i1=', 'i2=', 'i3=']
    memory.open('i1=')
    memory.open('i3=')
    const c = createManagementApiConnections({ endpoint: url, credentials: CREDS })
    const before = requests.length
    const result = await c.postMany(ids, 'one')
    assert.equal(result.sent, 2)
    assert.deepEqual(result.gone, ['i2='])
    assert.equal(requests.length - before, 3)
    assert.deepEqual(await c.postMany([], 'x'), { sent: 0, gone: [] })
  })

  it('an unreachable endpoint is ERR_INTEGRATION_FAILED', async () => {
    const c = createManagementApiConnections({ endpoint: 'http://127.0.0.1:1/production' })
    await assert.rejects(c.post('a=', 'x'), (err) =>
      isGatehouseError(err, 'ERR_INTEGRATION_FAILED'),
    )
  })
})

describe('createManagementApiConnections concurrency and options', () => {
  it('keeps at most `concurrency` POSTs in flight', async () => {
    let inFlight = 0
    let peak = 0
    let calls = 0
    const fakeFetch = (async () => {
      calls++
      inFlight++
      peak = Math.max(peak, inFlight)
      await new Promise((r) => setImmediate(r))
      inFlight--
      return new Response(null, { status: calls % 5 === 0 ? 410 : 200 })
    }) as unknown as typeof fetch
    const c = createManagementApiConnections({
      endpoint: 'http://127.0.0.1:9/production',
      concurrency: 3,
      fetch: fakeFetch,
    })
    const ids = Array.from({ length: 20 }, (_, i) => `c${i}=`)
    const result = await c.postMany(ids, 'x')
    assert.equal(calls, 20)
    assert.equal(peak, 3)
    assert.equal(result.sent + result.gone.length, 20)
  })

  it('one failing recipient does not stop the others; the batch then throws', async () => {
    let calls = 0
    const fakeFetch = (async (url: URL) => {
      calls++
      return new Response(null, { status: String(url).endsWith('bad%3D') ? 500 : 200 })
    }) as unknown as typeof fetch
    const c = createManagementApiConnections({ endpoint: 'http://127.0.0.1:9/p', fetch: fakeFetch })
    await assert.rejects(c.postMany(['a=', 'bad=', 'b='], 'x'), (err) =>
      isGatehouseError(err, 'ERR_INTEGRATION_FAILED'),
    )
    assert.equal(calls, 3)
  })

  it('signed postMany hashes the message once, not once per recipient', async () => {
    const SIZE = 4099 // a length no header or canonical request has
    let bodyHashes = 0
    const original = nodeCrypto.createHash
    nodeCrypto.createHash = ((...args: Parameters<typeof original>) => {
      const hash = original(...args)
      const update = hash.update.bind(hash) as (data: unknown, enc?: unknown) => unknown
      hash.update = ((data: string | Uint8Array, enc?: BufferEncoding) => {
        if (typeof data !== 'string' && data.byteLength === SIZE) bodyHashes++
        return update(data, enc)
      }) as typeof hash.update
      return hash
    }) as typeof original
    // Named ESM imports of node:crypto see the wrapper only after this.
    syncBuiltinESMExports()
    try {
      const fakeFetch = (async () => new Response(null, { status: 200 })) as unknown as typeof fetch
      const c = createManagementApiConnections({
        endpoint: 'http://127.0.0.1:9/production',
        credentials: CREDS,
        fetch: fakeFetch,
      })
      const ids = Array.from({ length: 6 }, (_, i) => `h${i}=`)
      assert.deepEqual(await c.postMany(ids, new Uint8Array(SIZE)), { sent: 6, gone: [] })
      assert.equal(bodyHashes, 1)
    } finally {
      nodeCrypto.createHash = original
      syncBuiltinESMExports()
    }
  })

  it('rejects a bad endpoint or concurrency', () => {
    for (const options of [
      { endpoint: 'not a url' },
      { endpoint: 'ftp://127.0.0.1/p' },
      { endpoint: 'http://127.0.0.1/p?x=1' },
      { endpoint: 'http://127.0.0.1/p', concurrency: 0 },
    ]) {
      assert.throws(
        () => createManagementApiConnections(options),
        (err) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
      )
    }
  })
})

describe('fan-out through a real gateway', () => {
  it('one HTTP call reaches every live socket; closed ones come back gone', async () => {
    const { createGateway } = await import('../../src/gateway/gateway.ts')
    const { default: WebSocket } = await import('ws')
    const ids: string[] = []
    const gateway = createGateway({
      routes: {
        $connect: {
          type: 'in-process',
          handler: {
            handle: async (e) => {
              ids.push(e.connectionId)
              return { status: 200 }
            },
          },
        },
      },
    })
    const management = createManagementServer({
      connections: gateway.connections,
      stage: gateway.stage,
      allowUnauthenticated: true,
    })
    const { url: wsUrl } = await gateway.listen()
    const { url } = await management.listen()
    const calls: string[] = []
    management.server.on('request', (req) => calls.push(`${req.method} ${req.url}`))
    try {
      const clients = await Promise.all(
        [0, 1, 2].map(
          () =>
            new Promise<{ ws: InstanceType<typeof WebSocket>; got: Promise<string> }>((resolve) => {
              const ws = new WebSocket(wsUrl)
              const got = new Promise<string>((r) => ws.once('message', (d) => r(String(d))))
              ws.once('open', () => resolve({ ws, got }))
            }),
        ),
      )
      const c = createManagementApiConnections({ endpoint: url, useFanout: true })
      const result = await c.postMany([...ids, 'closedXXXXXXXXX='], '{"fan":"out"}')
      assert.equal(result.sent, 3)
      assert.deepEqual(result.gone, ['closedXXXXXXXXX='])
      assert.deepEqual(calls, ['POST /production/@connections'])
      for (const { ws, got } of clients) {
        assert.equal(await got, '{"fan":"out"}')
        ws.close()
      }
    } finally {
      await gateway.close({ drainMs: 1_000 })
      await management.close()
    }
  })
})
