import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { parseAwsConfig } from '../../src/aws/config.ts'
import { converge } from '../../src/aws/converge.ts'
import { desiredState } from '../../src/aws/desired.ts'
import { destroy } from '../../src/aws/destroy.ts'
import type { AwsContext } from '../../src/aws/find.ts'
import { loadApiGatewayV2 } from '../../src/aws/sdk.ts'
import { awsStatus } from '../../src/aws/status.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { staticSecretValue } from '../../src/events/signing.ts'
import { FakeApiGateway } from '../support/fake-apigatewayv2.ts'

const REGION = 'eu-west-1'
const SECRET = 'test-gateway-secret-0123456789abcdef'
const CERT = 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1234'
const LOGS = 'arn:aws:logs:eu-west-1:123456789012:log-group:/gatehouse/chat'
const FUNCTION = 'arn:aws:lambda:eu-west-1:123456789012:function:chat'

const RAW = {
  name: 'chat',
  integration: { type: 'http', url: 'https://app.example.com/ws/' },
  routes: ['send_message'],
  stage: {
    throttlingBurstLimit: 200,
    throttlingRateLimitPerSecond: 100,
    accessLog: { destinationArn: LOGS },
  },
  domain: { name: 'ws.example.com', certificateArn: CERT },
}
const httpConfig = parseAwsConfig(RAW)

let fake: FakeApiGateway
let installed: { restore(): void }
let ctx: AwsContext

before(async () => {
  const sdk = await loadApiGatewayV2()
  // A real ApiGatewayV2Client: only its send() is routed to the in-memory fake.
  ctx = { sdk, client: sdk.createClient({ region: REGION }) }
})
beforeEach(() => {
  installed?.restore()
  fake = new FakeApiGateway(REGION)
  installed = fake.install()
})
after(() => installed?.restore())

const apply = (config = httpConfig) =>
  converge(ctx, desiredState(config, { region: REGION, secret: SECRET }), { apply: true })

describe('gatehouse aws apply (HTTP integration)', () => {
  it('creates the API with the inputs AWS requires for a WebSocket API', async () => {
    const result = await apply()
    const [createApi] = fake.inputs('CreateApi')
    assert.equal(createApi?.ProtocolType, 'WEBSOCKET')
    assert.equal(createApi?.RouteSelectionExpression, '$request.body.action')
    assert.equal(createApi?.Name, 'chat')
    assert.deepEqual(createApi?.Tags, { 'gatehouse:api': 'chat' })
    assert.ok(result.apiId)
    assert.equal(result.apiEndpoint, `wss://${result.apiId}.execute-api.${REGION}.amazonaws.com`)
  })

  it('creates one HTTP_PROXY integration per route with the connectionId and secret mappings', async () => {
    await apply()
    const integrations = fake.inputs('CreateIntegration')
    assert.deepEqual(
      integrations.map((i) => i.IntegrationUri),
      [
        'https://app.example.com/ws/connect',
        'https://app.example.com/ws/disconnect',
        'https://app.example.com/ws/default',
        'https://app.example.com/ws/send_message',
      ],
    )
    for (const i of integrations) {
      assert.equal(i.IntegrationType, 'HTTP_PROXY')
      assert.equal(i.IntegrationMethod, 'POST')
      assert.equal(i.PayloadFormatVersion, '1.0')
      assert.equal(i.TimeoutInMillis, 29_000)
      const params = i.RequestParameters as Record<string, string>
      assert.equal(params['integration.request.header.connectionId'], 'context.connectionId')
      // The header the app's authenticity check reads behind AWS (STATIC_SECRET_HEADER).
      // A value derived from the secret, never the secret (readable with apigateway:GET).
      assert.equal(
        params['integration.request.header.x-gatehouse-secret'],
        `'${staticSecretValue(SECRET)}'`,
      )
      assert.ok(!JSON.stringify(params).includes(SECRET), 'the secret itself is not stored')
      assert.equal(params['integration.request.header.x-gatehouse-request-id'], 'context.requestId')
    }
    const [connect, , dflt] = integrations.map((i) => i.RequestParameters as Record<string, string>)
    assert.equal(connect?.['integration.request.header.x-gatehouse-message-id'], undefined)
    assert.equal(dflt?.['integration.request.header.x-gatehouse-message-id'], 'context.messageId')
  })

  it('creates routes targeting integrations/<id>, and $default route responses on two-way routes', async () => {
    await apply()
    const api = fake.state.apis[0]!
    const routes = fake.inputs('CreateRoute')
    assert.deepEqual(
      routes.map((r) => r.RouteKey),
      ['$connect', '$disconnect', '$default', 'send_message'],
    )
    for (const r of routes) {
      const integration = api.integrations.find(
        (i) => `integrations/${i.IntegrationId}` === r.Target,
      )
      assert.ok(integration, `route ${r.RouteKey} targets an existing integration`)
      assert.match(
        String(integration.IntegrationUri),
        new RegExp(`${String(r.RouteKey).replace('$', '')}$`),
      )
    }
    const twoWay = routes.filter((r) => r.RouteResponseSelectionExpression === '$default')
    assert.deepEqual(
      twoWay.map((r) => r.RouteKey),
      ['$default', 'send_message'],
    )
    const responses = fake.inputs('CreateRouteResponse')
    assert.equal(responses.length, 2)
    for (const rr of responses) assert.equal(rr.RouteResponseKey, '$default')
  })

  it('creates the stage with throttling and access logging, deploys it, and maps the custom domain', async () => {
    const result = await apply()
    const [stage] = fake.inputs('CreateStage')
    assert.equal(stage?.StageName, 'production')
    assert.deepEqual(stage?.DefaultRouteSettings, {
      ThrottlingRateLimit: 100,
      ThrottlingBurstLimit: 200,
      DetailedMetricsEnabled: false,
    })
    assert.equal(
      (stage?.AccessLogSettings as { DestinationArn?: string } | undefined)?.DestinationArn,
      LOGS,
    )
    const [deployment] = fake.inputs('CreateDeployment')
    assert.deepEqual(
      { ApiId: deployment?.ApiId, StageName: deployment?.StageName },
      { ApiId: result.apiId, StageName: 'production' },
    )
    assert.ok(fake.state.apis[0]!.stages[0]!.DeploymentId, 'the stage points at the deployment')
    const [domain] = fake.inputs('CreateDomainName')
    assert.deepEqual(domain?.DomainNameConfigurations, [
      { CertificateArn: CERT, EndpointType: 'REGIONAL', SecurityPolicy: 'TLS_1_2' },
    ])
    const [mapping] = fake.inputs('CreateApiMapping')
    assert.deepEqual(mapping, {
      DomainName: 'ws.example.com',
      ApiId: result.apiId,
      Stage: 'production',
    })
    assert.match(String(result.domainTarget), /^d-.*\.execute-api\.eu-west-1\.amazonaws\.com$/)
  })

  it('a second apply issues no Create*/Update*/Delete* call and reports no change', async () => {
    await apply()
    const before = fake.mutations().length
    const again = await apply()
    assert.deepEqual(again.changes, [])
    assert.deepEqual(fake.mutations().slice(before), [])
  })

  it('plan issues only Get* calls, before and after apply', async () => {
    const planned = await converge(
      ctx,
      desiredState(httpConfig, { region: REGION, secret: SECRET }),
      {
        apply: false,
      },
    )
    assert.deepEqual(fake.mutations(), [])
    assert.equal(planned.apiId, undefined)
    const kinds = planned.changes.map((c) => `${c.action} ${c.resource}`)
    assert.equal(kinds.filter((k) => k === 'create route').length, 4)
    assert.ok(kinds.includes('create deployment') && kinds.includes('create api-mapping'))
    const applied = await apply()
    assert.deepEqual(
      applied.changes.map((c) => `${c.action} ${c.resource} ${c.name}`),
      planned.changes.map((c) => `${c.action} ${c.resource} ${c.name}`),
      'apply did what plan said',
    )
  })

  it('updates drifted resources, and redeploys when an integration changed', async () => {
    await apply()
    const api = fake.state.apis[0]!
    api.integrations[2]!.IntegrationUri = 'https://attacker.example/ws/default'
    api.stages[0]!.DefaultRouteSettings = {
      ThrottlingRateLimit: 100_000,
      ThrottlingBurstLimit: 5000,
    }
    const calls = fake.calls.length
    const result = await apply()
    assert.deepEqual(
      result.changes.map(
        (c) => `${c.action} ${c.resource} ${c.name} ${(c.fields ?? []).join(',')}`,
      ),
      [
        'update integration $default IntegrationUri',
        'update stage production DefaultRouteSettings.ThrottlingRateLimit,DefaultRouteSettings.ThrottlingBurstLimit,DefaultRouteSettings.DetailedMetricsEnabled',
        'create deployment production ',
      ],
    )
    assert.equal(api.integrations[2]!.IntegrationUri, 'https://app.example.com/ws/default')
    assert.deepEqual(
      fake.calls
        .slice(calls)
        .filter((c) => !c.name.startsWith('Get'))
        .map((c) => c.name),
      ['UpdateIntegration', 'UpdateStage', 'CreateDeployment'],
    )
  })

  it('a changed secret is drift: the integrations are updated (the plan never prints it)', async () => {
    await apply()
    const result = await converge(
      ctx,
      desiredState(httpConfig, { region: REGION, secret: `${SECRET}-rotated` }),
      {
        apply: false,
      },
    )
    assert.equal(result.changes.filter((c) => c.fields?.includes('RequestParameters')).length, 4)
    assert.doesNotMatch(JSON.stringify(result.changes), /test-gateway-secret/)
  })

  it('removes a route dropped from the config, with its integration and its route response', async () => {
    await apply()
    const fewer = parseAwsConfig({ ...RAW, routes: [] })
    const result = await apply(fewer)
    assert.deepEqual(
      result.changes.map((c) => `${c.action} ${c.resource} ${c.name}`),
      [
        'delete route send_message',
        'delete integration send_message',
        'create deployment production',
      ],
    )
    const api = fake.state.apis[0]!
    assert.deepEqual(api.routes.map((r) => r.RouteKey).sort(), [
      '$connect',
      '$default',
      '$disconnect',
    ])
    assert.equal(api.integrations.length, 3)
  })

  it('turning a route one-way deletes its route response', async () => {
    await apply()
    const oneWay = parseAwsConfig({ ...RAW, defaultRoute: { twoWay: false } })
    const result = await apply(oneWay)
    assert.ok(result.changes.some((c) => c.action === 'delete' && c.resource === 'route-response'))
  })

  it('refuses an API of the same name that gatehouse did not create', async () => {
    await fake.handle('CreateApi', {
      Name: 'chat',
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: '$request.body.x',
    })
    await assert.rejects(
      apply(),
      (err) =>
        isGatehouseError(err, 'ERR_OPTION_CONFLICT') &&
        /not created by gatehouse/.test(err.message),
    )
    assert.deepEqual(fake.mutations(), ['CreateApi'], 'nothing else was touched')
  })

  it('refuses to take over a mapping key used by another API', async () => {
    await apply()
    fake.state.domains[0]!.mappings[0]!.ApiId = 'otherapi'
    const before = fake.mutations().length
    await assert.rejects(
      apply(),
      (err) => isGatehouseError(err, 'ERR_OPTION_CONFLICT') && /another API/.test(err.message),
    )
    assert.deepEqual(fake.mutations().slice(before), [])
  })

  it('refuses a custom domain it did not create', async () => {
    await fake.handle('CreateDomainName', {
      DomainName: 'ws.example.com',
      DomainNameConfigurations: [{ CertificateArn: CERT }],
    })
    await assert.rejects(
      apply(),
      (err) => isGatehouseError(err, 'ERR_OPTION_CONFLICT') && /ws\.example\.com/.test(err.message),
    )
  })

  it('reuses an integration left without a route by an interrupted run', async () => {
    const desired = desiredState(httpConfig, { region: REGION, secret: SECRET })
    const { ApiId } = await fake.handle('CreateApi', { ...desired.api })
    await fake.handle('CreateIntegration', { ApiId, ...desired.routes[0]!.integration })
    await apply()
    assert.equal(fake.state.apis[0]!.integrations.length, 4, 'no duplicate integration')
  })
})

describe('gatehouse aws apply (Lambda integration)', () => {
  const lambdaConfig = parseAwsConfig({
    name: 'chat-fn',
    integration: { type: 'lambda', functionArn: FUNCTION },
  })
  it('creates AWS_PROXY integrations to the function for every route, without request parameters', async () => {
    await apply(lambdaConfig)
    const integrations = fake.inputs('CreateIntegration')
    assert.equal(integrations.length, 3)
    for (const i of integrations) {
      assert.equal(i.IntegrationType, 'AWS_PROXY')
      assert.equal(
        i.IntegrationUri,
        `arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/${FUNCTION}/invocations`,
      )
      assert.equal(i.RequestParameters, undefined)
    }
    assert.deepEqual((await apply(lambdaConfig)).changes, [])
  })
})

describe('gatehouse aws status and destroy', () => {
  it('status reports the routes, the wss:// URL and the @connections endpoint', async () => {
    const { apiId } = await apply()
    const status = await awsStatus(ctx, httpConfig, REGION)
    assert.equal(status.exists, true)
    assert.equal(
      status.websocketUrl,
      `wss://${apiId}.execute-api.eu-west-1.amazonaws.com/production`,
    )
    assert.equal(
      status.connectionsEndpoint,
      `https://${apiId}.execute-api.eu-west-1.amazonaws.com/production`,
    )
    assert.deepEqual(
      status.routes.map((r) => `${r.key} ${r.integrationType} ${r.twoWay}`),
      [
        '$connect HTTP_PROXY false',
        '$disconnect HTTP_PROXY false',
        '$default HTTP_PROXY true',
        'send_message HTTP_PROXY true',
      ],
    )
    assert.equal(status.domain?.mapped, true)
    assert.doesNotMatch(JSON.stringify(status), /test-gateway-secret/)
  })

  it('destroy deletes the mapping, the domain it created and the API; then nothing is left', async () => {
    await apply()
    const target = { name: 'chat', domainName: 'ws.example.com' }
    const listed = await destroy(ctx, target, { apply: false })
    assert.deepEqual(
      listed.map((c) => `${c.action} ${c.resource}`),
      ['delete api-mapping', 'delete domain', 'delete api'],
    )
    const before = fake.mutations().length
    await destroy(ctx, target, { apply: true })
    assert.deepEqual(fake.mutations().slice(before), [
      'DeleteApiMapping',
      'DeleteDomainName',
      'DeleteApi',
    ])
    assert.deepEqual(fake.state, { ...fake.state, apis: [], domains: [] })
    assert.deepEqual(await destroy(ctx, target, { apply: false }), [])
    assert.equal((await awsStatus(ctx, httpConfig, REGION)).exists, false)
  })

  it('destroy leaves a domain it did not create (only its own mapping goes)', async () => {
    const noDomain = parseAwsConfig({ ...RAW, domain: undefined })
    const { apiId } = await apply(noDomain)
    await fake.handle('CreateDomainName', {
      DomainName: 'ws.example.com',
      DomainNameConfigurations: [{ CertificateArn: CERT }],
    })
    await fake.handle('CreateApiMapping', {
      DomainName: 'ws.example.com',
      ApiId: apiId,
      Stage: 'production',
    })
    await destroy(ctx, { name: 'chat', domainName: 'ws.example.com' }, { apply: true })
    assert.equal(fake.state.domains.length, 1)
    assert.equal(fake.state.domains[0]!.mappings.length, 0)
  })
})
