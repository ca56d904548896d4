import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { after, afterEach, beforeEach, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { main } from '../../src/cli/main.ts'
import { FakeApiGateway } from '../support/fake-apigatewayv2.ts'

const run = promisify(execFile)
const SECRET = 'test-gateway-secret-0123456789abcdef'
const ENV = { GATEHOUSE_SECRET: SECRET, AWS_REGION: 'eu-west-1' }
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-aws-cli-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const CONFIG = join(dir, 'gatehouse.aws.json')
writeFileSync(
  CONFIG,
  JSON.stringify({
    name: 'chat',
    accountId: '123456789012',
    integration: { type: 'http', url: 'https://app.example.com/ws/' },
    stage: { name: 'production' },
  }),
)

function bufferIo(env: Record<string, string> = ENV, stdin?: PassThrough & { isTTY?: boolean }) {
  let stdout = ''
  let stderr = ''
  return {
    io: {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env,
      ...(stdin ? { stdin } : {}),
    },
    out: () => stdout,
    err: () => stderr,
  }
}

async function cli(
  argv: string[],
  env?: Record<string, string>,
  stdin?: PassThrough & { isTTY?: boolean },
) {
  const b = bufferIo(env, stdin)
  const code = await main(['aws', ...argv], b.io)
  return { code, out: b.out(), err: b.err() }
}

let fake: FakeApiGateway
let installed: { restore(): void }
beforeEach(() => {
  fake = new FakeApiGateway('eu-west-1')
  installed = fake.install()
})
afterEach(() => installed.restore())

describe('gatehouse aws (in process, SDK client routed to the fake)', () => {
  it('plan prints the changes and the least-privilege IAM policy, and changes nothing', async () => {
    const r = await cli(['plan', '--config', CONFIG])
    assert.equal(r.code, 0, r.err)
    assert.match(r.out, /Plan for WebSocket API chat in eu-west-1:/)
    assert.match(r.out, /\+ create api chat/)
    assert.match(r.out, /\+ create route \$connect/)
    assert.match(r.out, /\d+ to create, 0 to update, 0 to delete\./)
    assert.match(r.out, /"Action": "execute-api:ManageConnections"/)
    assert.match(
      r.out,
      /"arn:aws:execute-api:eu-west-1:123456789012:<api-id>\/production\/POST\/@connections\/\*"/,
    )
    assert.doesNotMatch(r.out + r.err, new RegExp(SECRET))
    assert.deepEqual(fake.mutations(), [])
  })

  it('apply reports progress on stderr as each resource is made; a second apply says nothing changed', async () => {
    const first = await cli(['apply', '--config', CONFIG])
    assert.equal(first.code, 0, first.err)
    const apiId = String(fake.state.apis[0]?.api.ApiId)
    assert.match(first.err, new RegExp(`^created api chat \\[${apiId}\\]$`, 'm'))
    assert.match(first.err, /^created route \$default \[/m)
    assert.match(first.err, /^created deployment production \[/m)
    assert.match(
      first.out,
      new RegExp(
        `websocket: +wss://${apiId}\\.execute-api\\.eu-west-1\\.amazonaws\\.com/production`,
      ),
    )
    assert.match(first.out, new RegExp(`${apiId}/production/DELETE/@connections/\\*`))
    const before = fake.mutations().length
    const second = await cli(['apply', '--config', CONFIG])
    assert.equal(second.code, 0)
    assert.match(second.out, /^No changes: chat in eu-west-1 is up to date\.$/m)
    assert.equal(second.err, '')
    assert.equal(fake.mutations().length, before)
  })

  it('--json prints one object for scripts: changes, URLs and the policy with the real API id', async () => {
    await cli(['apply', '--config', CONFIG])
    const r = await cli(['plan', '--config', CONFIG, '--json'])
    const out = JSON.parse(r.out) as {
      apiId: string
      changes: unknown[]
      connectionsEndpoint: string
      iamPolicy: { Statement: Array<{ Action: string; Resource: string[] }> }
    }
    assert.deepEqual(out.changes, [])
    assert.equal(
      out.connectionsEndpoint,
      `https://${out.apiId}.execute-api.eu-west-1.amazonaws.com/production`,
    )
    const [statement] = out.iamPolicy.Statement
    assert.equal(statement?.Action, 'execute-api:ManageConnections')
    assert.deepEqual(statement?.Resource, [
      `arn:aws:execute-api:eu-west-1:123456789012:${out.apiId}/production/POST/@connections/*`,
      `arn:aws:execute-api:eu-west-1:123456789012:${out.apiId}/production/GET/@connections/*`,
      `arn:aws:execute-api:eu-west-1:123456789012:${out.apiId}/production/DELETE/@connections/*`,
    ])
  })

  it('status: exit 1 before apply; after, the routes, the wss:// URL and the @connections endpoint', async () => {
    assert.equal((await cli(['status', '--config', CONFIG])).code, 1)
    await cli(['apply', '--config', CONFIG])
    const r = await cli(['status', '--config', CONFIG])
    assert.equal(r.code, 0)
    assert.match(r.out, /route \$connect +HTTP_PROXY https:\/\/app\.example\.com\/ws\/connect/)
    assert.match(
      r.out,
      /route \$default +HTTP_PROXY https:\/\/app\.example\.com\/ws\/default \[two-way\]/,
    )
    assert.match(
      r.out,
      /@connections: +https:\/\/\w+\.execute-api\.eu-west-1\.amazonaws\.com\/production/,
    )
    const json = JSON.parse((await cli(['status', '--config', CONFIG, '--json'])).out) as {
      exists: boolean
    }
    assert.equal(json.exists, true)
  })

  it('destroy refuses without --yes when stdin is not a terminal, and deletes nothing', async () => {
    await cli(['apply', '--config', CONFIG])
    const before = fake.mutations().length
    const notTty = Object.assign(new PassThrough(), { isTTY: false })
    notTty.end('chat\n') // even the right answer on a pipe is not a confirmation
    const r = await cli(['destroy', '--config', CONFIG], ENV, notTty)
    assert.equal(r.code, 1)
    assert.match(r.err, /refusing without --yes/)
    assert.match(r.err, /- delete api chat/)
    assert.equal((await cli(['destroy', '--config', CONFIG])).code, 1, 'no stdin at all: refused')
    assert.equal(fake.mutations().length, before)
  })

  it('destroy on a terminal asks for the API name; a wrong answer deletes nothing, the right one deletes', async () => {
    await cli(['apply', '--config', CONFIG])
    const before = fake.mutations().length
    const wrong = Object.assign(new PassThrough(), { isTTY: true })
    wrong.end('yes\n')
    const r1 = await cli(['destroy', '--config', CONFIG], ENV, wrong)
    assert.equal(r1.code, 1)
    assert.match(r1.err, /Type the API name \(chat\) to confirm/)
    assert.equal(fake.mutations().length, before)
    const right = Object.assign(new PassThrough(), { isTTY: true })
    right.end('chat\n')
    const r2 = await cli(['destroy', '--config', CONFIG], ENV, right)
    assert.equal(r2.code, 0, r2.err)
    assert.deepEqual(fake.mutations().slice(before), ['DeleteApi'])
  })

  it('destroy --yes deletes without asking; a second destroy has nothing to do', async () => {
    await cli(['apply', '--config', CONFIG])
    const r = await cli(['destroy', '--config', CONFIG, '--yes'])
    assert.equal(r.code, 0, r.err)
    assert.match(r.err, /^deleted api chat$/m)
    assert.match((await cli(['destroy', '--config', CONFIG, '--yes'])).out, /Nothing to destroy/)
    assert.equal(fake.state.apis.length, 0)
  })

  it('flags alone: --name and --integration, or --lambda; --stage and --region override', async () => {
    const r = await cli([
      'apply',
      '--name',
      'flags',
      '--integration',
      'https://app.example.com/ws/',
      '--stage',
      'dev',
    ])
    assert.equal(r.code, 0, r.err)
    assert.equal(fake.state.apis[0]?.stages[0]?.StageName, 'dev')
    const l = await cli([
      'plan',
      '--name',
      'fn',
      '--lambda',
      'arn:aws:lambda:eu-west-1:123456789012:function:chat',
      '--region',
      'us-east-1',
    ])
    assert.equal(l.code, 0, l.err)
    assert.match(l.out, /Plan for WebSocket API fn in us-east-1/)
    assert.match(l.out, /"Service": "apigateway.amazonaws.com"/)
    assert.match(
      l.out,
      /"AWS:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:<api-id>\/\*"/,
    )
  })

  it('reads a TS module config (default export)', async () => {
    const file = join(dir, 'gatehouse.aws.ts')
    writeFileSync(
      file,
      "export default { name: 'tsconf', integration: { type: 'http', url: 'https://app.example.com/ws/' } }\n",
    )
    const r = await cli(['plan', '--config', file])
    assert.equal(r.code, 0, r.err)
    assert.match(r.out, /Plan for WebSocket API tsconf/)
  })

  it('refuses an unknown config key naming it, a missing secret, and bad usage', async () => {
    const bad = join(dir, 'bad.json')
    writeFileSync(
      bad,
      JSON.stringify({
        name: 'chat',
        integration: { type: 'http', url: 'https://a.example/ws/' },
        stage: { throtling: 1 },
      }),
    )
    const r1 = await cli(['plan', '--config', bad])
    assert.equal(r1.code, 1)
    assert.match(r1.err, /unknown key `throtling`/)
    const r2 = await cli(['plan', '--config', CONFIG], { AWS_REGION: 'eu-west-1' })
    assert.equal(r2.code, 1)
    assert.match(r2.err, /GATEHOUSE_SECRET is not set/)
    assert.equal((await cli(['plan', '--confg', CONFIG])).code, 2)
    assert.equal((await cli(['deploy', '--config', CONFIG])).code, 2)
    assert.equal((await cli([])).code, 2)
    assert.equal(
      (
        await cli([
          'plan',
          '--name',
          'x',
          '--integration',
          'https://a.example/ws/',
          '--lambda',
          'arn:aws:lambda:eu-west-1:123456789012:function:x',
        ])
      ).code,
      2,
    )
    const help = await cli(['--help'])
    assert.equal(help.code, 0)
    assert.match(help.out, /Usage: gatehouse aws <plan\|apply\|status\|destroy>/)
    assert.deepEqual(fake.mutations(), [])
  })
})

describe('gatehouse aws as a process (node bin/gatehouse.ts, the fake preloaded)', () => {
  it('plan, apply, apply again, destroy --yes', async () => {
    const state = join(dir, 'fake-state.json')
    const env = { ...process.env, ...ENV, GATEHOUSE_TEST_AWS_STATE: state }
    const gatehouse = (...args: string[]) =>
      run(
        process.execPath,
        ['--import', './test/support/aws-fake-preload.ts', 'bin/gatehouse.ts', 'aws', ...args],
        { env },
      )
    const plan = await gatehouse('plan', '--config', CONFIG)
    assert.match(plan.stdout, /\+ create api chat/)
    const mutations = () =>
      (JSON.parse(readFileSync(state, 'utf8')) as { mutations: string[] }).mutations
    assert.deepEqual(mutations(), [])
    const applied = await gatehouse('apply', '--config', CONFIG)
    assert.match(applied.stderr, /^created api chat \[/m)
    const count = mutations().length
    assert.ok(count >= 10)
    const again = await gatehouse('apply', '--config', CONFIG)
    assert.match(again.stdout, /No changes/)
    assert.equal(mutations().length, count)
    const destroyed = await gatehouse('destroy', '--config', CONFIG, '--yes')
    assert.match(destroyed.stderr, /deleted api chat/)
    assert.equal(mutations().at(-1), 'DeleteApi')
  })
})
