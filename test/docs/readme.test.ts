// README.md shows examples/typed-handlers/ as a package user writes it; this keeps the page
// and the type-checked, tested files the same text.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

const root = new URL('../../', import.meta.url)
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8')

function asPublished(source: string): string {
  return source
    .replaceAll("'../../src/index.ts'", "'gatehouse'")
    .replaceAll("'../../src/client/index.ts'", "'gatehouse/client'")
}

test('the typed-handler blocks of README.md are the example files, byte for byte', () => {
  const blocks = [...read('README.md').matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1])
  for (const file of ['examples/typed-handlers/handlers.ts', 'examples/typed-handlers/client.ts']) {
    const published = asPublished(read(file))
    assert.doesNotMatch(published, /\.\.\/src\//, `${file}: an import was not rewritten`)
    assert.ok(blocks.includes(published), `README.md lacks ${file}`)
  }
})

test('the type tests cover the README example, with a wrong field name that must fail', () => {
  const types = read('test/app/typed-handlers.types.ts')
  assert.ok(types.includes("from '../../examples/typed-handlers/handlers.ts'"))
  assert.match(types, /@ts-expect-error: a wrong field name\n.*txet/)
})
