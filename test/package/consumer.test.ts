/**
 * The package as a user gets it: `npm pack` on what a fresh clone holds (so `prepack` builds
 * `dist/` from scratch), the tarball installed offline into an empty project with its peers,
 * then what a user does with it: type-check imports of every public subpath under `nodenext`,
 * run the README quickstart, run the `gatehouse` bin. publint and attw lint the tarball.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import ts from 'typescript'
import WebSocket from 'ws'
import { type ConsumerProject, installConsumer, pack, stageClone } from './consumer-project.ts'
import { probeSqlite, publicSpecifiers } from './probe.ts'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))
const bin = (name: string): string => join(root, 'node_modules/.bin', name)

let clone = ''
let tarballDir = ''
let tarball = ''
let consumer: ConsumerProject
let installed = ''

before(
  async () => {
    clone = await stageClone(root)
    tarballDir = await mkdtemp(join(tmpdir(), 'gatehouse-tarball-'))
    tarball = await pack(clone, tarballDir)
    consumer = await installConsumer(root, tarball)
    installed = join(consumer.dir, 'node_modules', consumer.manifest.name)
  },
  { timeout: 180_000 },
)

after(async () => {
  for (const dir of [clone, tarballDir, consumer?.dir]) {
    if (dir) await rm(dir, { recursive: true, force: true })
  }
})

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name))
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const address = server.address()
  await new Promise((r) => server.close(r))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** The first ```ts block under the README's "## Quickstart" heading. */
async function readmeQuickstart(): Promise<string> {
  const readme = await readFile(join(root, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('\n## Quickstart\n'))
  const match = /```ts\n([\s\S]*?)```/.exec(section)
  assert.ok(match?.[1], 'README.md has a ```ts block under ## Quickstart')
  return match[1]
}

// What the quickstart leaves to the app (its own sessions and users), for one user.
const QUICKSTART_SCAFFOLD = `
// --- test scaffolding, not part of the README: the app's own sessions and users ---
const mySessions = {
  userOf: (sessionId: string): string | null => (sessionId === 'session-1' ? 'alice' : null),
  fromRequest: async (req: Request) =>
    parseCookies(req.headers.get('cookie') ?? undefined).get('sessionid') === 'session-1'
      ? { userId: 'alice', sessionId: 'session-1' }
      : null,
}
const myUsers = new Map([['alice', { id: 'alice', permissions: ['chat.use'] }]])
`

describe('the packed package (npm pack, installed offline into an empty project)', () => {
  it('ships dist/ built by prepack, the sources its maps point at, the docs and the licence', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball], { maxBuffer: 16 << 20 })
    const files = new Set(stdout.split('\n').filter(Boolean))
    for (const file of [
      'package/package.json',
      'package/LICENSE',
      'package/README.md',
      'package/dist/index.js',
      'package/dist/index.d.ts',
      'package/dist/cli/bin.js',
      'package/dist/client/gatehouse-client.js',
      'package/src/index.ts',
      'package/docs/quickstart.md',
    ]) {
      assert.ok(files.has(file), `${file} is in the tarball`)
    }
    for (const file of files) {
      assert.doesNotMatch(file, /^package\/(test|bench|node_modules|\.ci|\.data)\//)
    }
    const licence = await readFile(join(installed, 'LICENSE'), 'utf8')
    assert.match(licence, /^MIT License\n\nCopyright \(c\) \d{4} Gatehouse contributors\n/)
    assert.equal(consumer.manifest.license, 'MIT')
  })

  it('passes publint (strict) on the tarball', async () => {
    const { stdout } = await run(bin('publint'), ['run', '--strict', tarball])
    assert.match(stdout, /All good!/)
  })

  it('passes arethetypeswrong on the tarball with the esm-only profile', async () => {
    // esm-only: the package is ESM (type: module, no require condition), so node10 and
    // require-from-CJS resolutions are ignored by design; everything else must be green.
    const { stdout } = await run(
      bin('attw'),
      [tarball, '--profile', 'esm-only', '--format', 'json'],
      {
        maxBuffer: 16 << 20,
      },
    ).catch((err: { stdout?: string }) => {
      throw new Error(`attw found problems:\n${err.stdout ?? err}`)
    })
    const report = JSON.parse(stdout) as {
      problems: Record<string, Array<{ resolutionKind?: string }>>
    }
    const counted = Object.values(report.problems)
      .flat()
      .filter((p) => p.resolutionKind !== 'node10' && p.resolutionKind !== 'node16-cjs')
    assert.deepEqual(counted, [])
  })

  it('type-checks a strict nodenext consumer that imports every public subpath', async () => {
    const specifiers = [
      ...(await publicSpecifiers(join(installed, 'package.json'))),
      `${consumer.manifest.name}/client.min.js`,
    ]
    // `import * as` each subpath, and fail to compile when one of them resolved to `any` (an
    // untyped module) or to a module with no exports.
    const lines = [
      'type IsAny<T> = 0 extends 1 & T ? true : false',
      'type Typed<T> = IsAny<T> extends true ? never : keyof T extends never ? never : T',
      ...specifiers.map((s, i) => `import * as m${i} from '${s}'`),
      `export type Checked = [${specifiers.map((_, i) => `Typed<typeof m${i}>`).join(', ')}]`,
      ...specifiers.map((_, i) => `export const c${i}: Checked[${i}] = m${i}`),
      // The values a user reaches for first are typed, not `any`.
      'const t1: IsAny<typeof m0.createApp> = false',
      "const t2: IsAny<ReturnType<typeof m1.createGateway>['connections']> = false",
      'export { t1, t2 }',
    ]
    assert.equal(specifiers[0], 'gatehouse')
    assert.equal(specifiers[1], 'gatehouse/gateway')
    await writeFile(join(consumer.dir, 'imports.ts'), `${lines.join('\n')}\n`)
    await writeFile(
      join(consumer.dir, 'quickstart.ts'),
      `${await readmeQuickstart()}${QUICKSTART_SCAFFOLD}`,
    )
    await writeFile(
      join(consumer.dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2023',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          // Off: the shipped .d.ts are checked under the consumer's settings too (below).
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
          allowImportingTsExtensions: true,
        },
        files: ['imports.ts', 'quickstart.ts'],
      }),
    )
    // What `tsc -p <consumer>` reports, from the same compiler in this process, except that
    // among the .d.ts in node_modules only Gatehouse's are checked: checking every
    // dependency's (the AWS SDK's thousands) would take most of this test's time budget.
    const parsed = ts.getParsedCommandLineOfConfigFile(
      join(consumer.dir, 'tsconfig.json'),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(String(d.messageText)),
      },
    )
    assert.ok(parsed)
    const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options })
    const ours = program
      .getSourceFiles()
      .filter(
        (f) => !f.fileName.includes('/node_modules/') || f.fileName.startsWith(`${installed}/`),
      )
    assert.ok(ours.some((f) => f.fileName === join(installed, 'dist/index.d.ts')))
    const diagnostics = [
      ...program.getOptionsDiagnostics(),
      ...program.getGlobalDiagnostics(),
      ...ours.flatMap((f) => [
        ...program.getSyntacticDiagnostics(f),
        ...program.getSemanticDiagnostics(f),
      ]),
    ]
    assert.equal(
      diagnostics.length,
      0,
      ts.formatDiagnostics(diagnostics, {
        getCanonicalFileName: (f) => f,
        getCurrentDirectory: () => consumer.dir,
        getNewLine: () => '\n',
      }),
    )
  })

  it('has declarations that import only declared packages, each resolving to types', async () => {
    // A type the .d.ts take from a package the consumer does not get (a devDependency here),
    // or from a package without types (`ws` without `@types/ws`), turns into `any` for users
    // without any compiler error, even with skipLibCheck off; so every import is resolved.
    const { manifest } = consumer
    const declared = new Set([
      manifest.name,
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ])
    const options = {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
    }
    const problems: string[] = []
    let checked = 0
    for (const file of await filesUnder(join(installed, 'dist'))) {
      if (!file.endsWith('.d.ts')) continue
      // The compiler's own scan: imports, `import("…")` types and `/// <reference types>`,
      // not the `@example` code in comments.
      const scan = ts.preProcessFile(await readFile(file, 'utf8'), true, true)
      const specifiers = [...scan.importedFiles, ...scan.typeReferenceDirectives].map(
        (r) => r.fileName,
      )
      for (const specifier of specifiers) {
        if (specifier.startsWith('.') || specifier.startsWith('node:')) continue // @types/node
        checked++
        const parts = specifier.split('/')
        const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string)
        const typesName = `@types/${name.replace(/^@/, '').replace('/', '__')}`
        const where = `${relative(installed, file)}: '${specifier}'`
        if (!declared.has(name) && !declared.has(typesName)) {
          problems.push(`${where} is not a dependency or peer dependency`)
        }
        const { resolvedModule } = ts.resolveModuleName(specifier, file, options, ts.sys)
        if (!resolvedModule || !/\.d\.[cm]?ts$/.test(resolvedModule.resolvedFileName)) {
          problems.push(`${where} resolves to ${resolvedModule?.resolvedFileName ?? 'nothing'}`)
        }
      }
    }
    assert.ok(checked > 0, 'the declarations import some packages')
    assert.deepEqual(problems, [])
  })

  it('runs the README quickstart: a token, a socket, a message through the app and back', async (t) => {
    const [httpPort, wsPort] = [await freePort(), await freePort()]
    const source = (await readmeQuickstart())
      .replaceAll('3000', String(httpPort))
      .replaceAll('3001', String(wsPort))
    await writeFile(join(consumer.dir, 'quickstart-run.ts'), `${source}${QUICKSTART_SCAFFOLD}`)
    const child: ChildProcess = spawn(process.execPath, ['quickstart-run.ts'], {
      cwd: consumer.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout?.on('data', (c: Buffer) => {
      output += c.toString('utf8')
    })
    child.stderr?.on('data', (c: Buffer) => {
      output += c.toString('utf8')
    })
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
    t.after(async () => {
      child.kill('SIGTERM')
      await exited
    })

    const origin = `http://127.0.0.1:${httpPort}`
    const cookie = 'sessionid=session-1; csrftoken=csrf-1'
    let tokenResponse: Response | undefined
    const deadline = Date.now() + 20_000
    while (tokenResponse === undefined) {
      if (child.exitCode !== null)
        assert.fail(`the quickstart exited ${child.exitCode}:\n${output}`)
      if (Date.now() > deadline) assert.fail(`the quickstart never listened:\n${output}`)
      tokenResponse = await fetch(`${origin}/api/ws-token/`, {
        method: 'POST',
        headers: { cookie, 'x-csrftoken': 'csrf-1', origin },
      }).catch(async () => {
        await new Promise((r) => setTimeout(r, 50))
        return undefined
      })
    }
    assert.equal(tokenResponse.status, 200, output)
    const { token } = (await tokenResponse.json()) as { token: string }
    assert.match(token, /^[A-Za-z0-9_-]{43}$/)

    const socket = new WebSocket(`ws://127.0.0.1:${wsPort}/?ws_token=${token}&channel=lobby`, {
      headers: { origin, cookie },
    })
    t.after(() => socket.terminate())
    await new Promise<void>((ok, fail) => {
      socket.once('open', () => ok())
      socket.once('unexpected-response', (_req, res) =>
        fail(new Error(`upgrade ${res.statusCode}`)),
      )
      socket.once('error', fail)
    })
    const reply = new Promise<unknown>((ok) =>
      socket.once('message', (data) => ok(JSON.parse(String(data)))),
    )
    socket.send(JSON.stringify({ action: 'send_message', text: 'hi' }))
    assert.deepEqual(await reply, { type: 'chat_message', text: 'hi' })
  })

  it('runs the gatehouse bin from the install (npx gatehouse --help, gateway --help)', async () => {
    const top = await run('npx', ['--offline', '--no-install', 'gatehouse', '--help'], {
      cwd: consumer.dir,
    })
    assert.match(top.stdout, /^Usage: gatehouse <command>/m)
    assert.match(top.stdout, /^ {2}gateway /m)
    const gateway = await run(
      'npx',
      ['--offline', '--no-install', 'gatehouse', 'gateway', '--help'],
      {
        cwd: consumer.dir,
      },
    )
    assert.match(gateway.stdout, /^Usage: gatehouse gateway --integration <base-url>/m)
  })

  it('does not load node:sqlite when a user imports any entry point (only openSqliteStore does)', async () => {
    const specifiers = await publicSpecifiers(join(installed, 'package.json'))
    const probe = await probeSqlite(consumer.dir, specifiers)
    assert.equal(probe.loadedAfter.length, specifiers.length)
    assert.deepEqual(
      probe.loadedAfter.filter(([, loaded]) => loaded),
      [],
    )
    assert.equal(probe.loadedAfterOpen, true)
  })

  it('ships source maps and declaration maps whose sources are in the package', async () => {
    const maps = (await filesUnder(join(installed, 'dist'))).filter((f) => f.endsWith('.map'))
    assert.ok(
      maps.some((m) => m.endsWith('index.js.map')) && maps.some((m) => m.endsWith('.d.ts.map')),
    )
    const missing: string[] = []
    for (const map of maps) {
      const { sources, sourceRoot = '' } = JSON.parse(await readFile(map, 'utf8')) as {
        sources: string[]
        sourceRoot?: string
      }
      assert.ok(sources.length > 0, map)
      for (const source of sources) {
        const file = resolve(dirname(map), sourceRoot, source)
        if (!file.startsWith(`${installed}/`) || !existsSync(file)) {
          missing.push(`${relative(installed, map)} -> ${source}`)
        }
      }
    }
    assert.deepEqual(missing, [])
  })

  it('has README and docs whose relative links resolve inside the package', async () => {
    const docs = [
      join(installed, 'README.md'),
      ...(await filesUnder(join(installed, 'docs'))).filter((f) => f.endsWith('.md')),
    ]
    assert.ok(docs.length > 1)
    const broken: string[] = []
    for (const doc of docs) {
      const text = await readFile(doc, 'utf8')
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (target === undefined || /^[a-z]+:/i.test(target) || target.startsWith('#')) continue
        const file = resolve(dirname(doc), decodeURIComponent(target.split('#')[0] as string))
        if (!file.startsWith(`${installed}/`) || !existsSync(file)) {
          broken.push(`${relative(installed, doc)}: ${target}`)
        }
      }
    }
    assert.deepEqual(broken, [])
  })
})
