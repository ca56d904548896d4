import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi'
import { isGatehouseError } from '../../src/errors.ts'
import { createManagementServer } from '../../src/gateway/management/server.ts'
import { awsEndpointFromEvent, createAwsConnections } from '../../src/push/aws.ts'
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

  it('credentials are copied at construction: changing the caller’s object later has no effect', async () => {
    const creds = { ...CREDS }
    const c = createAwsConnections({ endpoint: url, region: 'eu-west-1', credentials: creds })
    creds.secretAccessKey = 'changed-after-construction'
    memory.open('cc=')
    assert.equal(await c.post('cc=', 'x'), true)
    assert.deepEqual(memory.received('cc='), ['x'])
  })

  it('malformed credentials are refused at construction', () => {
    for (const credentials of [
      'AKID:secret',
      null,
      [],
      { accessKeyId: 'AKID' },
      { accessKeyId: '', secretAccessKey: 's' },
      { accessKeyId: 'AKID', secretAccessKey: 's', sessionToken: 7 },
    ]) {
      assert.throws(
        () =>
          createAwsConnections({
            endpoint: url,
            region: 'eu-west-1',
            credentials: credentials as never,
          }),
        (err) => isGatehouseError(err, 'ERR_INVALID_OPTION') && /credentials/.test(err.message),
        JSON.stringify(credentials),
      )
    }
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

/** A local HTTP server answering every request with one fixed reply; counts requests. */
async function fixedReplyServer(status: number, errorType?: string) {
  const requests: string[] = []
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`)
    req.resume()
    req.on('end', () => {
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (errorType) headers['x-amzn-ErrorType'] = errorType
      res.writeHead(status, headers).end(JSON.stringify({ message: errorType ?? 'boom' }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`
  return { url, requests, close: () => new Promise((r) => server.close(r)) }
}

describe('createAwsConnections never retries a push (client it builds itself)', () => {
  it('a 500 from the Management API is sent once and reported to the caller', async () => {
    const s = await fixedReplyServer(500, 'InternalServerErrorException')
    try {
      const c = createAwsConnections({ endpoint: s.url, region: 'eu-west-1', credentials: CREDS })
      await assert.rejects(c.post('abc=', 'hello'), (err) => {
        assert.ok(isGatehouseError(err, 'ERR_INTEGRATION_FAILED'))
        assert.match(err.message, /not retried/)
        return true
      })
      // The SDK's default (maxAttempts 3) would have sent this three times.
      assert.deepEqual(s.requests, ['POST /prod/@connections/abc%3D'])
    } finally {
      await s.close()
    }
  })

  it('a 500 in a fan-out is one request per recipient, and the failure reaches the caller', async () => {
    const s = await fixedReplyServer(502)
    try {
      const c = createAwsConnections({ endpoint: s.url, region: 'eu-west-1', credentials: CREDS })
      await assert.rejects(c.postMany(['a1=', 'a2=', 'a3='], 'x'), (err) =>
        isGatehouseError(err, 'ERR_INTEGRATION_FAILED'),
      )
      assert.equal(s.requests.length, 3)
    } finally {
      await s.close()
    }
  })

  it('a 429 LimitExceededException is sent once, reported, and later pushes back off', async () => {
    const s = await fixedReplyServer(429, 'LimitExceededException')
    try {
      const c = createAwsConnections({
        endpoint: s.url,
        region: 'eu-west-1',
        credentials: CREDS,
        throttleBackoffMs: 150,
      })
      await assert.rejects(c.post('t1=', 'x'), (err) => {
        assert.ok(isGatehouseError(err, 'ERR_INTEGRATION_FAILED'))
        assert.match(err.message, /throttled \(LimitExceededException\).*wait 150 ms/)
        return true
      })
      assert.equal(s.requests.length, 1)
      const started = performance.now()
      await assert.rejects(c.post('t2=', 'x'), /wait 300 ms/)
      assert.ok(performance.now() - started >= 140, 'the second push waited for the back-off')
      assert.equal(s.requests.length, 2)
    } finally {
      await s.close()
    }
  })

  it('a 413 is ERR_MESSAGE_TOO_LARGE, sent once', async () => {
    const s = await fixedReplyServer(413, 'PayloadTooLargeException')
    try {
      const c = createAwsConnections({ endpoint: s.url, region: 'eu-west-1', credentials: CREDS })
      await assert.rejects(c.post('big=', 'x'), (err) =>
        isGatehouseError(err, 'ERR_MESSAGE_TOO_LARGE'),
      )
      assert.equal(s.requests.length, 1)
    } finally {
      await s.close()
    }
  })

  it('refuses unknown options and bad endpoints/regions', () => {
    assert.throws(
      () =>
        createAwsConnections({
          endpoint: 'https://x/y',
          region: 'us-east-1',
          maxAttempts: 3,
        } as unknown as Parameters<typeof createAwsConnections>[0]),
      (err) => isGatehouseError(err, 'ERR_INVALID_OPTION') && /maxAttempts/.test(err.message),
    )
    assert.throws(
      () => createAwsConnections({ endpoint: 'ftp://x', region: 'us-east-1' }),
      (err) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
    )
  })
})

describe('awsEndpointFromEvent', () => {
  it('is https://{domainName}/{stage}; refuses a domain that could redirect the push', () => {
    assert.equal(
      awsEndpointFromEvent({
        requestContext: { domainName: 'abc123.execute-api.eu-west-1.amazonaws.com', stage: 'prod' },
      }),
      'https://abc123.execute-api.eu-west-1.amazonaws.com/prod',
    )
    for (const domainName of ['evil.com/x', 'a@b', '']) {
      assert.throws(
        () => awsEndpointFromEvent({ requestContext: { domainName, stage: 'prod' } }),
        (err) => isGatehouseError(err, 'ERR_INVALID_EVENT'),
      )
    }
  })
})
