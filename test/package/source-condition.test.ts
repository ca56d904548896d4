// The examples import `gatehouse/...` as users do; in the checkout that resolves to `src/`
// only under the `gatehouse-source` condition, which `npm test` and `npm start` pass. Run
// without it, the examples would load whatever `dist/` was last built: this fails instead.
import assert from 'node:assert/strict'
import { test } from 'node:test'

test('the suite runs with --conditions=gatehouse-source: gatehouse/* resolves to src/', () => {
  for (const [specifier, file] of [
    ['gatehouse', 'src/index.ts'],
    ['gatehouse/gateway', 'src/gateway/index.ts'],
    ['gatehouse/express', 'src/adapters/express.ts'],
  ] as const) {
    const resolved = import.meta.resolve(specifier)
    assert.ok(
      resolved.endsWith(`/${file}`),
      `${specifier} resolved to ${resolved}: run the tests with \`npm test\` or \`node --conditions=gatehouse-source --test …\``,
    )
  }
})
