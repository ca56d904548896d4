import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { test } from 'node:test'
import { lambdaGateway } from '../../examples/adapters/lambda.ts'
import { authenticate } from '../../examples/adapters/my-auth.ts'
import { toLambdaHandler } from '../../src/adapters/lambda.ts'
import { toNodeListener } from '../../src/adapters/node.ts'
import { toLambdaEvent } from '../../src/events/lambda.ts'
import { appFixture } from '../support/app-fixture.ts'
import { adapterSuite } from './suite.ts'
import { listen } from './support.ts'

// The bundled gateway's Lambda integration invokes toLambdaHandler(app) as AWS would; the
// token endpoint, which on AWS is some HTTP API of the host, runs on node:http.
adapterSuite(
  'Lambda (examples/adapters/lambda.ts)',
  async (app) => {
    const tokens = toNodeListener(app.tokenEndpoint({ authenticate }))
    const web = await listen(createServer(tokens))
    return { ...web, gateway: lambdaGateway(app, 0) }
  },
  { http: false },
)

test('toLambdaHandler answers a Lambda proxy event with a Lambda result', async () => {
  const f = await appFixture()
  const handler = toLambdaHandler(f.app)
  const token = await f.issue('alice')
  const ok = await handler(toLambdaEvent(f.connectEvent({ token })))
  assert.equal(ok.statusCode, 200)
  const refused = await handler(toLambdaEvent(f.connectEvent({ token })))
  assert.equal(refused.statusCode, 401)
})
