/**
 * `gatehouse gateway --cluster …`: the flags, the fail-closed secret, and a node started by
 * the command on the shared Redis (a unique key prefix) that prints its slot once registered.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { runGatewayCli } from '../../src/cli/gateway.ts'
import { deriveClusterSecret, parseGatewayArgs } from '../../src/cli/gateway-args.ts'
import { dropPrefix } from '../gateway/cluster/support.ts'
import { REDIS_URL } from '../support/backends.ts'

const BASE = ['--integration', 'http://127.0.0.1:8000/ws/']
const CLUSTER = ['--cluster', 'redis://127.0.0.1:6379', '--node-id', 'n1']

function parse(argv: string[], env: Record<string, string> = {}) {
  return parseGatewayArgs([...BASE, ...argv], env)
}

describe('gatehouse gateway --cluster', () => {
  it('maps the flags onto the cluster option; the secret is derived from --secret by default', () => {
    const secret = 's'.repeat(32)
    const parsed = parse([
      ...CLUSTER,
      '--secret',
      secret,
      '--cluster-key-prefix',
      'app1:',
      '--cluster-heartbeat-ms',
      '500',
      '--cluster-dead-after-ms',
      '3000',
    ])
    assert.equal(parsed.kind, 'run')
    if (parsed.kind !== 'run') return
    assert.deepEqual(parsed.config.cluster, {
      url: 'redis://127.0.0.1:6379',
      nodeId: 'n1',
      secret: deriveClusterSecret(secret),
      keyPrefix: 'app1:',
      heartbeatIntervalMs: 500,
      deadAfterMs: 3000,
    })
    // A label of its own: the integration secret never travels as the cluster's.
    assert.notEqual(deriveClusterSecret(secret), secret)
    assert.equal(deriveClusterSecret(secret).length, 64)
  })

  it('--cluster-secret (or GATEHOUSE_CLUSTER_SECRET) wins over the derived one', () => {
    const explicit = parse([
      ...CLUSTER,
      '--secret',
      'a'.repeat(16),
      '--cluster-secret',
      'c'.repeat(16),
    ])
    assert.equal(explicit.kind === 'run' && explicit.config.cluster?.secret, 'c'.repeat(16))
    const fromEnv = parse(CLUSTER, { GATEHOUSE_CLUSTER_SECRET: 'e'.repeat(16) })
    assert.equal(fromEnv.kind === 'run' && fromEnv.config.cluster?.secret, 'e'.repeat(16))
    const none = parse([])
    assert.equal(none.kind === 'run' && none.config.cluster, undefined)
  })

  it('refuses a cluster without any secret, a node id without --cluster, and bad numbers', () => {
    const cases: Array<[string[], RegExp]> = [
      [CLUSTER, /cluster-secret/],
      [['--cluster', 'redis://127.0.0.1:6379', '--secret', 'x'.repeat(16)], /--node-id/],
      [['--node-id', 'n1'], /needs --cluster/],
      [['--cluster-key-prefix', 'p:'], /needs --cluster/],
      [[...CLUSTER, '--cluster-secret', 'c'.repeat(16), '--cluster-heartbeat-ms', '0'], /positive/],
      [
        [...CLUSTER, '--cluster-secret', 'c'.repeat(16), '--cluster-dead-after-ms', 'soon'],
        /positive/,
      ],
    ]
    for (const [argv, message] of cases) {
      const parsed = parse(argv)
      assert.equal(parsed.kind, 'error', argv.join(' '))
      assert.match((parsed as { message: string }).message, message)
    }
  })

  it('exits 2 when the cluster option is invalid (a bad node id, a short secret)', async () => {
    for (const extra of [
      ['--cluster', REDIS_URL, '--node-id', 'bad id', '--cluster-secret', 'c'.repeat(16)],
      ['--cluster', REDIS_URL, '--node-id', 'n1', '--cluster-secret', 'short'],
    ]) {
      let err = ''
      const code = await runGatewayCli(
        [...BASE, '--port', '0', '--management-port', '0', ...extra],
        {
          stdout: { write: () => true },
          stderr: {
            write: (t: string) => {
              err += t
              return true
            },
          },
          env: {},
        },
      )
      assert.equal(code, 2, err)
    }
  })

  it('prints "cluster: node <id> slot <n>" once registered, and stops cleanly', {
    timeout: 20_000,
  }, async () => {
    const prefix = `gatehouse:test:cli:${randomBytes(6).toString('hex')}:`
    const stop = new AbortController()
    let out = ''
    let err = ''
    const run = runGatewayCli(
      [
        ...BASE,
        '--port',
        '0',
        '--management-port',
        '0',
        '--cluster',
        REDIS_URL,
        '--node-id',
        'cli-node',
        '--cluster-key-prefix',
        prefix,
        '--secret',
        'integration-secret-0123456789',
      ],
      {
        stdout: {
          write: (t: string) => {
            out += t
            return true
          },
        },
        stderr: {
          write: (t: string) => {
            err += t
            return true
          },
        },
        env: { GATEHOUSE_LOG_LEVEL: 'warn' },
        stop: stop.signal,
      },
    )
    try {
      for (let i = 0; i < 500 && !/^cluster: /m.test(out); i++) {
        await new Promise((r) => setTimeout(r, 20))
      }
      assert.match(out, /^cluster: node cli-node slot \d+$/m, err)
      assert.match(out, /^management: /m)
    } finally {
      stop.abort()
      assert.equal(await run, 0)
      await dropPrefix(prefix)
    }
  })
})
