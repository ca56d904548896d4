// docs/adapters.md shows the files of examples/adapters/ that the adapter suite runs; this
// keeps the page and the tested code the same text, and leaves no untested `ts` block.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

const root = new URL('../../', import.meta.url)
const EXAMPLES = ['gateway', 'node', 'express', 'fastify', 'hono', 'lambda']

test('every ts block of docs/adapters.md is an example file the suite runs, byte for byte', () => {
  const doc = readFileSync(new URL('docs/adapters.md', root), 'utf8')
  const blocks = [...doc.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1])
  const examples = EXAMPLES.map((name) =>
    readFileSync(new URL(`examples/adapters/${name}.ts`, root), 'utf8'),
  )
  for (const [i, example] of examples.entries()) {
    assert.ok(
      blocks.includes(example),
      `docs/adapters.md lacks examples/adapters/${EXAMPLES[i]}.ts`,
    )
    assert.doesNotMatch(
      example,
      /\.\.\/src\//,
      `${EXAMPLES[i]}: imports the checkout's source, not the package`,
    )
  }
  for (const block of blocks) assert.ok(examples.includes(block!), `untested block:\n${block}`)
})

test('each example file is imported by the adapter test that runs it', () => {
  for (const name of EXAMPLES.filter((n) => n !== 'gateway')) {
    const file = readFileSync(new URL(`test/adapters/${name}.test.ts`, root), 'utf8')
    assert.ok(file.includes(`'../../examples/adapters/${name}.ts'`), name)
  }
  const suite = readFileSync(new URL('test/adapters/suite.ts', root), 'utf8')
  assert.ok(suite.includes("'../../examples/adapters/gateway.ts'"))
})
