import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isGatehouseError } from '../../src/errors.ts'
import { importOptional } from '../../src/util/optional.ts'

test('a missing optional dependency is ERR_INVALID_OPTION naming the package, the caller and the install', async () => {
  await assert.rejects(
    importOptional(
      'not-a-package-gatehouse',
      'createThing',
      () => import('not-a-package-gatehouse' as string),
    ),
    (err: unknown) =>
      isGatehouseError(err, 'ERR_INVALID_OPTION') &&
      err.message ===
        'createThing: the optional dependency "not-a-package-gatehouse" is not installed (npm install not-a-package-gatehouse)' &&
      err.cause instanceof Error,
  )
  assert.equal((await importOptional('node:path', 'x', () => import('node:path'))).sep, '/')
})
