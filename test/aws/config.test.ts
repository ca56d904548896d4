import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  DEFAULT_ACCESS_LOG_FORMAT,
  parseAwsConfig,
  readIntegrationSecret,
} from '../../src/aws/config.ts'
import { DEFAULTS } from '../../src/defaults.ts'
import { isGatehouseError } from '../../src/errors.ts'

const HTTP = { type: 'http', url: 'https://app.example.com/ws/' }

function refuses(raw: unknown, pattern: RegExp, code = 'ERR_INVALID_OPTION' as const) {
  assert.throws(
    () => parseAwsConfig(raw, 'gatehouse.aws.json'),
    (err) => isGatehouseError(err, code) && pattern.test(err.message),
    String(pattern),
  )
}

describe('parseAwsConfig', () => {
  it('fills defaults from DEFAULTS and freezes the result', () => {
    const c = parseAwsConfig({ name: 'chat', integration: HTTP })
    assert.equal(c.routeSelectionExpression, '$request.body.action')
    assert.equal(c.stage.name, DEFAULTS.stage)
    assert.equal(c.stage.throttlingBurstLimit, DEFAULTS.awsThrottlingBurstLimit)
    assert.equal(c.stage.throttlingRateLimitPerSecond, DEFAULTS.awsThrottlingRateLimitPerSecond)
    assert.deepEqual(c.routes, [{ key: '$default', twoWay: true }])
    assert.equal(c.integration.type === 'http' && c.integration.secretEnv, 'GATEHOUSE_SECRET')
    assert.equal(c.integration.timeoutMs, DEFAULTS.integrationTimeoutMs)
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.stage) && Object.isFrozen(c.routes[0]))
  })

  it('refuses unknown keys at every level, naming the key', () => {
    refuses({ name: 'chat', integration: HTTP, stagee: {} }, /unknown key `stagee`/)
    refuses(
      { name: 'chat', integration: HTTP, stage: { throttlingBurstLimt: 5 } },
      /stage: unknown key `throttlingBurstLimt`/,
    )
    refuses(
      { name: 'chat', integration: { ...HTTP, secret: 'x' } },
      /integration: unknown key `secret`/,
    )
    refuses(
      { name: 'chat', integration: HTTP, routes: [{ key: 'a', oneWay: true }] },
      /routes\[0\]: unknown key `oneWay`/,
    )
    refuses(
      {
        name: 'chat',
        integration: HTTP,
        domain: { name: 'ws.example.com', certificateArn: 'x', path: '' },
      },
      /domain: unknown key `path`/,
    )
  })

  it('refuses malformed values with the key in the message', () => {
    refuses({ integration: HTTP }, /name must be/)
    refuses({ name: 'chat' }, /integration is required/)
    refuses(
      { name: 'chat', integration: { type: 'http', url: 'http://app.example.com/ws/' } },
      /https URL/,
    )
    refuses(
      { name: 'chat', integration: { type: 'http', url: 'https://app.example.com/ws' } },
      /end with "\/"/,
    )
    refuses(
      { name: 'chat', integration: { type: 'http', url: 'https://u:p@app.example.com/ws/' } },
      /credentials/,
    )
    refuses(
      { name: 'chat', integration: { type: 'lambda', functionArn: 'chat' } },
      /functionArn must be/,
    )
    refuses({ name: 'chat', integration: { ...HTTP, timeoutMs: 30_000 } }, /timeoutMs/)
    refuses(
      { name: 'chat', integration: HTTP, routeSelectionExpression: 'action' },
      /routeSelectionExpression/,
    )
    refuses(
      { name: 'chat', integration: HTTP, stage: { throttlingBurstLimit: 0 } },
      /throttlingBurstLimit/,
    )
    refuses({ name: 'chat', integration: HTTP, routes: ['$connect'] }, /routes\[0\]\.key/)
    refuses(
      { name: 'chat', integration: HTTP, routes: ['a', { key: 'a' }] },
      /listed twice/,
      'ERR_OPTION_CONFLICT' as 'ERR_INVALID_OPTION',
    )
    refuses({ name: 'chat', integration: HTTP, tags: { [`gatehouse:api`]: 'other' } }, /tags/)
    refuses({ name: 'chat', integration: HTTP, region: 'Europe' }, /region/)
    refuses(
      {
        name: 'chat',
        integration: HTTP,
        domain: { name: 'ws.example.com', certificateArn: 'arn:aws:iam::1:x' },
      },
      /certificateArn/,
    )
  })

  it('reads routes, a Lambda integration, access logs and a domain', () => {
    const c = parseAwsConfig({
      name: 'chat',
      integration: {
        type: 'lambda',
        functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:chat',
      },
      routes: ['send_message', { key: 'ping', twoWay: false }],
      defaultRoute: { twoWay: false },
      stage: {
        name: 'prod',
        accessLog: { destinationArn: 'arn:aws:logs:eu-west-1:123456789012:log-group:ws' },
      },
      domain: {
        name: 'ws.example.com',
        certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc-123',
      },
    })
    assert.deepEqual(c.routes, [
      { key: '$default', twoWay: false },
      { key: 'send_message', twoWay: true },
      { key: 'ping', twoWay: false },
    ])
    assert.equal(c.stage.accessLog?.format, DEFAULT_ACCESS_LOG_FORMAT)
    assert.doesNotMatch(DEFAULT_ACCESS_LOG_FORMAT, /querystring|ws_token|cookie/i)
    assert.equal(c.domain?.basePath, '')
  })
})

describe('readIntegrationSecret', () => {
  const integration = parseAwsConfig({ name: 'chat', integration: HTTP }).integration
  if (integration.type !== 'http') throw new Error('unreachable')
  it('reads the variable the config names; refuses unset, short or quoted values', () => {
    const secret = 'a'.repeat(32)
    assert.equal(readIntegrationSecret(integration, { GATEHOUSE_SECRET: secret }), secret)
    for (const value of [undefined, '', 'short', `${'a'.repeat(20)}'x`, `${'a'.repeat(20)} x`]) {
      assert.throws(
        () => readIntegrationSecret(integration, { GATEHOUSE_SECRET: value }),
        (err) =>
          isGatehouseError(err, 'ERR_INVALID_OPTION') && /GATEHOUSE_SECRET/.test(err.message),
      )
    }
  })
})
