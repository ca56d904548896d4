import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi'
import { mockClient } from 'aws-sdk-client-mock'
import { toLambdaHandler } from '../../src/adapters/lambda.ts'
import { isGatehouseError } from '../../src/errors.ts'
import type { LambdaWebSocketEvent } from '../../src/events/lambda.ts'
import { createAwsConnections } from '../../src/push/aws.ts'
import { freshEvent } from '../fixtures/aws/fixtures.ts'

const CREDS = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'dummy-secret' }
const mock = mockClient(ApiGatewayManagementApiClient)
afterEach(() => mock.reset())

/** Where the SDK client the port built would send, and how many attempts it allows. */
function recordTarget() {
  const seen: Array<{ host: string; path: string; maxAttempts: unknown; data: string }> = []
  mock.on(PostToConnectionCommand).callsFake(async (input, getClient) => {
    const client = getClient() as ApiGatewayManagementApiClient
    const endpoint = await (
      client.config.endpoint as () => Promise<{ hostname: string; path: string }>
    )()
    const maxAttempts = await (client.config.maxAttempts as () => Promise<number>)()
    seen.push({
      host: endpoint.hostname,
      path: endpoint.path,
      maxAttempts,
      data: new TextDecoder().decode(input.Data as Uint8Array),
    })
    return {}
  })
  return seen
}

/** A stand-in app that pushes to the caller on every message, as a chat handler would. */
function pushingApp(connections: ReturnType<typeof createAwsConnections>) {
  return {
    lambda: async (event: LambdaWebSocketEvent) => {
      if (event.requestContext.eventType === 'MESSAGE') {
        await connections.post(event.requestContext.connectionId, 'pushed')
      }
      return { statusCode: 200 }
    },
  }
}

describe('toLambdaHandler with createAwsConnections (endpoint from the event)', () => {
  it("derives https://{domainName}/{stage} from AWS's sample event; the client never retries", async () => {
    const seen = recordTarget()
    const connections = createAwsConnections({ region: 'ap-northeast-1', credentials: CREDS })
    const handler = toLambdaHandler(pushingApp(connections), { connections })
    assert.deepEqual(await handler(freshEvent('MESSAGE')), { statusCode: 200 })
    assert.deepEqual(seen, [
      {
        host: 'dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com',
        path: '/prod',
        maxAttempts: 1,
        data: 'pushed',
      },
    ])
  })

  it("behind a custom domain, pushes to the API's own execute-api host (the base path need not be the stage)", async () => {
    const seen = recordTarget()
    const connections = createAwsConnections({ region: 'ap-northeast-1', credentials: CREDS })
    const handler = toLambdaHandler(pushingApp(connections), { connections })
    const event = freshEvent('MESSAGE')
    event.requestContext.domainName = 'ws.example.com'
    await handler(event)
    assert.equal(seen[0]?.host, 'dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com')
    assert.equal(seen[0]?.path, '/prod')
  })

  it('a configured endpoint wins over the event', async () => {
    const seen = recordTarget()
    const connections = createAwsConnections({
      endpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com/production',
      region: 'eu-west-1',
      credentials: CREDS,
    })
    await toLambdaHandler(pushingApp(connections), { connections })(freshEvent('MESSAGE'))
    assert.equal(seen[0]?.host, 'abc123.execute-api.eu-west-1.amazonaws.com')
    assert.equal(seen[0]?.path, '/production')
  })

  it('without an endpoint and before any event, a push fails clearly instead of guessing', async () => {
    const connections = createAwsConnections({ region: 'eu-west-1', credentials: CREDS })
    await assert.rejects(
      connections.post('abc=', 'x'),
      (err) => isGatehouseError(err, 'ERR_INVALID_OPTION') && /no endpoint yet/.test(err.message),
    )
  })

  it('a malformed event is not learned from (the app refuses it), and does not throw in the adapter', async () => {
    const connections = createAwsConnections({ region: 'eu-west-1', credentials: CREDS })
    const event = freshEvent('MESSAGE')
    event.requestContext.domainName = 'evil.example/x?'
    const handler = toLambdaHandler({ lambda: async () => ({ statusCode: 400 }) }, { connections })
    assert.deepEqual(await handler(event), { statusCode: 400 })
    await assert.rejects(connections.post('abc=', 'x'), /no endpoint yet/)
  })
})
