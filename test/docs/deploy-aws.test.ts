// docs/deploy-aws.md is exercised here: every `gatehouse …` line of its sh blocks is run, in
// order, against the in-memory API Gateway, in a directory holding the config files the page
// shows; the IAM policy it shows is the one the code prints; and every name its TypeScript
// snippets import exists where the package exports it.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { pushPolicy } from '../../src/aws/iam.ts'
import { main } from '../../src/cli/main.ts'
import { FakeApiGateway } from '../support/fake-apigatewayv2.ts'

const root = new URL('../../', import.meta.url)
const doc = readFileSync(new URL('docs/deploy-aws.md', root), 'utf8')

/** Fenced blocks with their language and the HTML comment right above them, if any. */
function blocks(): Array<{ lang: string; body: string; note: string | undefined }> {
  const out: Array<{ lang: string; body: string; note: string | undefined }> = []
  const re = /(?:<!-- (.*?) -->\n)?^( *)```(\w*)\n([\s\S]*?)^\2```$/gm
  for (const m of doc.matchAll(re)) {
    const indent = m[2] ?? ''
    const body = (m[4] ?? '')
      .split('\n')
      .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
      .join('\n')
    out.push({ lang: m[3] ?? '', body, note: m[1] })
  }
  return out
}

const commands = blocks()
  .filter((b) => b.lang === 'sh')
  .flatMap((b) => b.body.split('\n'))
  .map((l) => l.trim().replace(/^npx /, ''))
  .filter((l) => l.startsWith('gatehouse '))

describe('docs/deploy-aws.md', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-deploy-aws-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('shows plan, apply, status and destroy', () => {
    for (const sub of ['plan', 'apply', 'status', 'destroy']) {
      assert.ok(
        commands.some((c) => c.startsWith(`gatehouse aws ${sub} `)),
        sub,
      )
    }
  })

  it('every gatehouse command in its sh blocks succeeds, in order, against the fake API Gateway', async () => {
    for (const b of blocks()) {
      const file = b.note?.match(/^file: (\S+)$/)?.[1]
      if (file) writeFileSync(join(dir, file), b.body)
    }
    const fake = new FakeApiGateway('eu-west-1')
    const installed = fake.install()
    const cwd = process.cwd()
    process.chdir(dir)
    try {
      for (const command of commands) {
        assert.doesNotMatch(command, /[|&;<>`$]/, 'plain arguments only')
        let out = ''
        const io = {
          stdout: { write: (s: string) => (out += s) },
          stderr: { write: (s: string) => (out += s) },
          env: { GATEHOUSE_SECRET: 'docs-example-secret-0123456789abcdef' },
        }
        const code = await main(command.split(/\s+/).slice(1), io)
        assert.equal(code, 0, `${command}\n${out}`)
      }
      assert.equal(fake.state.apis.length, 0, 'the page ends by destroying what it made')
      assert.ok(fake.mutations().includes('CreateDomainName'))
    } finally {
      process.chdir(cwd)
      installed.restore()
    }
  })

  it('the second apply of the page prints No changes, as the page says', async () => {
    const fake = new FakeApiGateway('eu-west-1')
    const installed = fake.install()
    const cwd = process.cwd()
    process.chdir(dir)
    try {
      const io = () => {
        let out = ''
        return {
          io: {
            stdout: { write: (s: string) => (out += s) },
            stderr: { write: () => true },
            env: { GATEHOUSE_SECRET: 'docs-example-secret-0123456789abcdef' },
          },
          out: () => out,
        }
      }
      const argv = ['aws', 'apply', '--config', 'gatehouse.aws.json']
      await main(argv, io().io)
      const second = io()
      await main(argv, second.io)
      assert.match(second.out(), /No changes: chat in eu-west-1 is up to date\./)
      assert.match(doc, /No changes: chat in eu-west-1 is up to date\./)
    } finally {
      process.chdir(cwd)
      installed.restore()
    }
  })

  it('the IAM policy it shows is the one plan prints', () => {
    const block = blocks().find((b) => b.note?.startsWith('policy:'))
    assert.ok(block)
    const fields = Object.fromEntries(
      (block.note ?? '')
        .slice('policy:'.length)
        .trim()
        .split(/\s+/)
        .map((kv) => kv.split('=') as [string, string]),
    )
    const expected = pushPolicy({
      region: fields.region ?? '',
      accountId: fields.accountId ?? '',
      apiId: fields.apiId ?? '',
      stage: fields.stage ?? '',
    })
    assert.deepEqual(JSON.parse(block.body), expected)
  })

  it('the Lambda example it shows is examples/aws-lambda/handler.ts, verbatim', () => {
    const shown = blocks().filter((b) => b.note?.startsWith('example: '))
    assert.ok(shown.length > 0)
    for (const b of shown) {
      const file = readFileSync(new URL(b.note!.slice('example: '.length), root), 'utf8')
      // The file's own header comment is the only part left out.
      assert.equal(b.body, file.slice(file.indexOf('*/\n') + 3))
    }
  })

  it('every name its TypeScript snippets import is exported by that subpath', async () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
      exports: Record<string, { 'gatehouse-source'?: string } | string>
    }
    for (const b of blocks().filter((x) => x.lang === 'ts')) {
      for (const m of b.body.matchAll(/^import \{([^}]+)\} from '(gatehouse[^']*)'/gm)) {
        const subpath = m[2] === 'gatehouse' ? '.' : `./${m[2]!.slice('gatehouse/'.length)}`
        const target = pkg.exports[subpath]
        const src = typeof target === 'string' ? undefined : target?.['gatehouse-source']
        assert.ok(src, `package.json exports ${subpath} with its source`)
        const mod = (await import(new URL(src, root).href)) as Record<string, unknown>
        for (const name of m[1]!
          .split(',')
          .map((n) => n.trim().replace(/^type /, ''))
          .filter(Boolean)) {
          assert.ok(name in mod, `${m[2]} exports ${name}`)
        }
      }
    }
  })
})
