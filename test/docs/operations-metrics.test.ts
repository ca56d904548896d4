/**
 * The snippets of docs/operations.md run as written (imports pointed at src/): subscribing to
 * the telemetry stream, and serving the exporter on the management listener, scraped.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SOURCES: Record<string, string> = {
  gatehouse: 'src/index.ts',
  'gatehouse/gateway': 'src/gateway/index.ts',
  'gatehouse/metrics': 'src/metrics/index.ts',
}

async function snippet(marker: string): Promise<string> {
  const text = await readFile(join(ROOT, 'docs/operations.md'), 'utf8')
  const at = text.indexOf(marker)
  assert.ok(at >= 0, marker)
  const open = text.indexOf('```ts\n', at)
  const close = text.indexOf('\n```', open + 6)
  let code = text.slice(open + 6, close + 1)
  for (const [name, path] of Object.entries(SOURCES)) {
    code = code.replaceAll(`from '${name}'`, `from '${pathToFileURL(join(ROOT, path)).href}'`)
  }
  return code
}

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

async function run(code: string): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-ops-'))
  dirs.push(dir)
  const file = join(dir, 'snippet.ts')
  await writeFile(file, code)
  return import(pathToFileURL(file).href)
}

describe('docs/operations.md snippets', () => {
  test('subscribe to the telemetry stream', async () => {
    const code = await snippet('# Operations')
    const mod = await run(
      `${code}\nimport { publish as __publish } from '${pathToFileURL(join(ROOT, 'src/telemetry.ts')).href}'\n` +
        `const __seen: unknown[] = []\nconst __log = console.log\nconsole.log = (v: unknown) => { __seen.push(v) }\n` +
        `__publish({ type: 'app_connect', outcome: 'refused', status: 403, reason: 'origin_forbidden' })\n` +
        'console.log = __log\nstop()\nexport const seen = __seen\n',
    )
    assert.deepEqual(mod.seen, ['origin_forbidden'])
  })

  test('the exporter on the management listener, scraped at /metrics', async () => {
    const code = await snippet('## Metrics')
    const gatewayModule = pathToFileURL(join(ROOT, 'src/gateway/index.ts')).href
    const mod = await run(
      `import { createGateway as __createGateway } from '${gatewayModule}'\n` +
        `const gateway = __createGateway({ port: 0 })\n${code}\n` +
        `const { port } = await management.listen()\n` +
        `const res = await fetch('http://127.0.0.1:' + port + '/metrics')\n` +
        `export const status = res.status\nexport const text = await res.text()\n` +
        `await management.close()\nmetrics.close()\n`,
    )
    assert.equal(mod.status, 200)
    assert.match(String(mod.text), /^# TYPE gatehouse_open_connections gauge$/m)
  })
})
