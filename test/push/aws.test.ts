import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi'
import { isGatehouseError } from '../../src/errors.ts'
import { createManagementServer } from '../../src/gateway/management/server.ts'
import { createAwsConnections } from '../../src/push/aws.ts'
import { createMemoryConnections, type MemoryConnections } from '../../src/push/memory.ts'

const CREDS = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'dummy-secret' }

describe('createAwsConnections with the real SDK client', () => {
  let memory: MemoryConnections
  let server: ReturnType<typeof createManagementServer>
  let url: string
  before(async () => {
    memory = createMemoryConnections()
    server = createManagementServer({
      connections: memory,
      stage: 'dev',
      credentials: [CREDS],
      region: 'eu-west-1',
    })
    url = (await server.listen()).url
  })
  after(() => server.close())

  function port() {
    const client = new ApiGatewayManagementApiClient({
      endpoint: url,
      region: 'eu-west-1',
      credentials: CREDS,
    })
    return createAwsConnections({ endpoint: url, region: 'eu-west-1', client })
  }

  it('posts, describes and deletes; GoneException becomes false / null', async () => {
    const c = port()
    memory.open('sdk=', { sourceIp: '198.51.100.7', userAgent: 'Browser' })
    assert.equal(await c.post('sdk=', 'hello'), true)
    assert.deepEqual(memory.received('sdk='), ['hello'])
    const info = await c.get('sdk=')
    assert.equal(info?.sourceIp, '198.51.100.7')
    assert.equal(info?.userAgent, 'Browser')
    assert.equal(await c.delete('sdk='), true)
    assert.equal(await c.post('sdk=', 'x'), false)
    assert.equal(await c.get('sdk='), null)
    assert.equal(await c.delete('sdk='), false)
  })

  it('postMany posts to each id and reports gone ones', async () => {
    const c = port()
    memory.open('m1=')
    memory.open('m2=')
    const result = await c.postMany(['m1=', 'gone=', 'm2='], '{"t":1}')
    assert.deepEqual(result, { sent: 2, gone: ['gone='] })
    assert.deepEqual(memory.received('m2='), ['{"t":1}'])
  })

  it('a forbidden call (bad key) is ERR_INTEGRATION_FAILED, not gone', async () => {
    const client = new ApiGatewayManagementApiClient({
      endpoint: url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'wrong' },
    })
    const c = createAwsConnections({ endpoint: url, region: 'eu-west-1', client })
    memory.open('f=')
    await assert.rejects(c.post('f=', 'x'), (err) => {
      assert.ok(isGatehouseError(err, 'ERR_INTEGRATION_FAILED'))
      assert.equal((err.cause as Error).name, 'ForbiddenException')
      return true
    })
  })

  it('PayloadTooLargeException is ERR_MESSAGE_TOO_LARGE', async () => {
    memory.open('big=')
    await assert.rejects(port().post('big=', 'x'.repeat(131_073)), (err) =>
      isGatehouseError(err, 'ERR_MESSAGE_TOO_LARGE'),
    )
  })
})

describe('createAwsConnections with a client double', () => {
  it('bounds concurrency and maps GoneException by name', async () => {
    let inFlight = 0
    let peak = 0
    const client = {
      async send(command: unknown) {
        inFlight++
        peak = Math.max(peak, inFlight)
        await new Promise((r) => setImmediate(r))
        inFlight--
        const id = (command as { input: { ConnectionId: string } }).input.ConnectionId
        if (id.startsWith('g')) throw Object.assign(new Error('gone'), { name: 'GoneException' })
        return {}
      },
    }
    const c = createAwsConnections({
      endpoint: 'https://x/y',
      region: 'us-east-1',
      client,
      concurrency: 4,
    })
    const ids = [...Array.from({ length: 10 }, (_, i) => `a${i}=`), 'g1=', 'g2=']
    const result = await c.postMany(ids, 'x')
    assert.equal(result.sent, 10)
    assert.deepEqual(result.gone, ['g1=', 'g2='])
    assert.equal(peak, 4)
  })

  it('rejects a bad concurrency with the shared option check', () => {
    // 2 ** 53 is an integer but not a safe one: only the shared positiveInt() refuses it.
    for (const concurrency of [0, 1.5, 2 ** 53, Number.NaN]) {
      assert.throws(
        () => createAwsConnections({ endpoint: 'https://x/y', region: 'us-east-1', concurrency }),
        (err) =>
          isGatehouseError(err, 'ERR_INVALID_OPTION') && err.message.startsWith('`concurrency`'),
        String(concurrency),
      )
    }
  })
})
