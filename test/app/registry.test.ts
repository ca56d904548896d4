import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createRegistry } from '../../src/app/registry.ts'
import { isGatehouseError } from '../../src/errors.ts'

const run = () => undefined

test('registry: only names of the handler-name pattern can be registered', () => {
  for (const name of ['__proto__', '_x', '1abc', 'a-b', 'a b', '', `a${'b'.repeat(64)}`]) {
    assert.throws(
      () => createRegistry({ [name]: run }),
      (e) => isGatehouseError(e, 'ERR_HANDLER_INVALID'),
      JSON.stringify(name),
    )
  }
  const registry = createRegistry({ send_message: run, default: run, [`a${'b'.repeat(63)}`]: run })
  assert.equal(registry.names.length, 3)
  assert.equal(registry.fallback?.name, 'default')
})

test('registry: lookups go through the map, so prototype names and non-strings find nothing', () => {
  const registry = createRegistry({ send_message: { run, permissions: { anyOf: ['chat.use'] } } })
  assert.deepEqual(registry.get('send_message')?.permissions, { anyOf: ['chat.use'] })
  for (const name of ['constructor', 'toString', '__proto__', ['send_message'], 1, null]) {
    assert.equal(registry.get(name), undefined, String(name))
  }
})
