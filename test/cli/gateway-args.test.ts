import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseGatewayArgs } from '../../src/cli/gateway-args.ts'

const BASE = ['--integration', 'http://127.0.0.1:8000/ws/']

function run(argv: string[], env: Record<string, string> = {}) {
  const parsed = parseGatewayArgs(argv, env)
  assert.equal(parsed.kind, 'run', JSON.stringify(parsed))
  return (parsed as Extract<typeof parsed, { kind: 'run' }>).config
}

describe('parseGatewayArgs', () => {
  it('maps the integration base to connect, disconnect and default, one-way, with defaults', () => {
    const config = run(BASE)
    assert.deepEqual(config.routes, {
      $connect: { type: 'http', url: 'http://127.0.0.1:8000/ws/connect' },
      $disconnect: { type: 'http', url: 'http://127.0.0.1:8000/ws/disconnect' },
      $default: { type: 'http', url: 'http://127.0.0.1:8000/ws/default' },
    })
    assert.equal(config.port, 3001)
    assert.equal(config.managementPort, 3002)
    assert.equal(config.host, '127.0.0.1')
    assert.equal(config.stage, 'production')
    assert.equal(config.apiId, undefined)
    assert.equal(config.credentials, undefined)
    assert.deepEqual(config.allowedHosts, ['localhost', '127.0.0.1', '::1'])
  })

  it('--allow-host adds Host names to the loopback ones', () => {
    const config = run([...BASE, '--allow-host', 'a.example', '--allow-host', 'b.example'])
    assert.deepEqual(config.allowedHosts, [
      'localhost',
      '127.0.0.1',
      '::1',
      'a.example',
      'b.example',
    ])
  })

  it('--trusted-proxy and --trusted-hops: none and 1 by default, repeatable, checked', () => {
    const plain = run(BASE)
    assert.deepEqual(plain.trustedProxies, [])
    assert.equal(plain.trustedHops, 1)
    const behind = run([
      ...BASE,
      '--trusted-proxy',
      '10.0.0.0/8',
      '--trusted-proxy',
      '192.0.2.7',
      '--trusted-hops',
      '2',
    ])
    assert.deepEqual(behind.trustedProxies, ['10.0.0.0/8', '192.0.2.7'])
    assert.equal(behind.trustedHops, 2)
    for (const hops of ['0', '-1', 'x', '1.5', '100']) {
      const parsed = parseGatewayArgs(
        [...BASE, '--trusted-proxy', '10.0.0.1', '--trusted-hops', hops],
        {},
      )
      assert.equal(parsed.kind, 'error', hops)
    }
    // Hops without a proxy would be silently ignored: refused instead.
    assert.equal(parseGatewayArgs([...BASE, '--trusted-hops', '2'], {}).kind, 'error')
  })

  it('a base without a trailing slash means the same folder', () => {
    const config = run(['--integration', 'https://app.example/ws'])
    assert.equal((config.routes.$default as { url: string }).url, 'https://app.example/ws/default')
  })

  it('--two-way applies to message routes only; --secret to every route', () => {
    const config = run([
      ...BASE,
      '--two-way',
      '--secret',
      's'.repeat(32),
      '--route',
      'chat=http://h/c',
    ])
    assert.deepEqual(config.routes.$default, {
      type: 'http',
      url: 'http://127.0.0.1:8000/ws/default',
      secret: 's'.repeat(32),
      twoWay: true,
    })
    assert.deepEqual(config.routes.chat, {
      type: 'http',
      url: 'http://h/c',
      secret: 's'.repeat(32),
      twoWay: true,
    })
    assert.equal((config.routes.$connect as { twoWay?: boolean }).twoWay, undefined)
    assert.equal((config.routes.$disconnect as { secret?: string }).secret, 's'.repeat(32))
  })

  it('reads the secret and SigV4 keys from the environment when not given as flags', () => {
    const config = run(BASE, {
      GATEHOUSE_SECRET: 'e'.repeat(20),
      GATEHOUSE_AWS_ACCESS_KEY_ID: 'AKENV',
      GATEHOUSE_AWS_SECRET_ACCESS_KEY: 'env-secret',
    })
    assert.equal((config.routes.$default as { secret?: string }).secret, 'e'.repeat(20))
    assert.deepEqual(config.credentials, [{ accessKeyId: 'AKENV', secretAccessKey: 'env-secret' }])
  })

  it('takes every documented flag', () => {
    const config = run([
      ...BASE,
      '--port=0',
      '--management-port',
      '0',
      '--host',
      '::1',
      '--stage',
      'dev',
      '--api-id',
      'abc123',
      '--aws-access-key-id',
      'AK',
      '--aws-secret-access-key',
      'SK',
    ])
    assert.equal(config.port, 0)
    assert.equal(config.managementPort, 0)
    assert.equal(config.host, '::1')
    assert.equal(config.stage, 'dev')
    assert.equal(config.apiId, 'abc123')
    assert.deepEqual(config.credentials, [{ accessKeyId: 'AK', secretAccessKey: 'SK' }])
  })

  it('help and errors', () => {
    assert.equal(parseGatewayArgs(['-h'], {}).kind, 'help')
    assert.equal(
      parseGatewayArgs([...BASE, '--port', '3001', '--management-port', '3001'], {}).kind,
      'error',
    )
    assert.equal(parseGatewayArgs([...BASE, '--two-way=yes'], {}).kind, 'error')
    assert.equal(parseGatewayArgs([...BASE, '--integration-url', 'x'], {}).kind, 'error')
  })
})
